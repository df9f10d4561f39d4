package ingest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"golang.org/x/crypto/bcrypt"

	"github.com/augur-sre/augur/config"
	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/internal/testservers"
)

// startFleetPrometheus backfills the fleet's history and the ALERTS fixture
// into a fresh Prometheus. Its lookback is just under the 1m scrape
// interval, so a range query returns the stored samples and nothing in
// between (with the default 5m, gaps would be filled with stale values).
func startFleetPrometheus(t *testing.T, gen []testservers.Series) *testservers.Prometheus {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	testservers.BackfillSeries(t, gen, dir)
	testservers.Backfill(t, filepath.Join("testdata", "prom", "alerts.om"), dir)
	return testservers.StartPrometheus(t, testservers.PrometheusOptions{DataDir: dir, LookbackDelta: 59 * time.Second})
}

func newPrometheus(t testing.TB, opts ingest.PrometheusOptions) *ingest.Prometheus {
	t.Helper()
	opts.Logger = testLogger(t)
	p, err := ingest.NewPrometheus(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrometheusIntegration(t *testing.T) {
	skipShort(t)
	t.Parallel()
	gen := fleet.Series()
	prom := startFleetPrometheus(t, gen)
	ctx := t.Context()
	start, end, step := fleet.Start, fleet.End(), time.Minute
	withName := testservers.Series.LabelsWithName

	t.Run("exact samples across chunks", func(t *testing.T) {
		for _, maxPoints := range []int{0, 997} { // 3 chunks, and 21 odd-sized ones
			p := newPrometheus(t, ingest.PrometheusOptions{URL: prom.URL, QueryOptions: ingest.QueryOptions{MaxPointsPerQuery: maxPoints, Concurrency: 3}})
			for _, name := range []string{"node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes", "pg_stat_activity_count", "pg_settings_max_connections"} {
				got, err := p.Range(ctx, name, start, end, step)
				if err != nil {
					t.Fatal(err)
				}
				checkSeries(t, got, want(gen, named(name), withName, start, end, step))
			}
		}
	})

	t.Run("chunks fetched in parallel within the bound", func(t *testing.T) {
		// A pass-through proxy counts the queries in flight to the real
		// server.
		target, err := url.Parse(prom.URL)
		if err != nil {
			t.Fatal(err)
		}
		var inFlight, peak, requests atomic.Int32
		proxy := httputil.NewSingleHostReverseProxy(target)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			requests.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(5 * time.Millisecond) // so that concurrent chunks overlap
			proxy.ServeHTTP(w, r)
		}))
		defer srv.Close()
		const maxPoints, concurrency = 500, 3
		p := newPrometheus(t, ingest.PrometheusOptions{URL: srv.URL, QueryOptions: ingest.QueryOptions{MaxPointsPerQuery: maxPoints, Concurrency: concurrency}})
		got, err := p.Range(ctx, "node_memory_MemTotal_bytes", start, end, step)
		if err != nil {
			t.Fatal(err)
		}
		checkSeries(t, got, want(gen, named("node_memory_MemTotal_bytes"), withName, start, end, step))
		if n, want := requests.Load(), int32((fleet.Points+maxPoints-1)/maxPoints); n != want {
			t.Errorf("%d queries, want %d chunks of %d points", n, want, maxPoints)
		}
		if n := peak.Load(); n != concurrency {
			t.Errorf("at most %d queries in flight, want %d", n, concurrency)
		}
	})

	t.Run("unaligned range snaps to the step grid", func(t *testing.T) {
		p := newPrometheus(t, ingest.PrometheusOptions{URL: prom.URL, QueryOptions: ingest.QueryOptions{MaxPointsPerQuery: 100}})
		s, e := start.Add(36*time.Hour+30*time.Second), start.Add(60*time.Hour+59*time.Second)
		got, err := p.Range(ctx, `node_memory_MemAvailable_bytes{instance="host-0:9100"}`, s, e, step)
		if err != nil {
			t.Fatal(err)
		}
		keep := func(s testservers.Series) bool {
			return s.Name == "node_memory_MemAvailable_bytes" && s.Labels["instance"] == "host-0:9100"
		}
		checkSeries(t, got, want(gen, keep, withName, s, e, step))
		if len(got) == 1 && len(got[0].Samples) != 24*60 {
			n := len(got[0].Samples)
			t.Errorf("got %d samples for 24h at 1m, want 1440", n)
		}
	})

	t.Run("aggregation", func(t *testing.T) {
		p := newPrometheus(t, ingest.PrometheusOptions{URL: prom.URL, QueryOptions: ingest.QueryOptions{MaxPointsPerQuery: 5000}})
		got, err := p.Range(ctx, `sum by (instance) (pg_stat_activity_count)`, start, end, step)
		if err != nil {
			t.Fatal(err)
		}
		// Sums of small integers are exact.
		checkSeries(t, got, want(sumByInstance(gen, "pg_stat_activity_count", 0), all, ownLabels, start, end, step))
	})

	t.Run("gaps interpolated up to max gap", func(t *testing.T) {
		q := `node_memory_MemTotal_bytes{instance="` + testservers.Instance(fleet.GapInstance) + `"}`
		for _, tc := range []struct {
			maxGap, wantNaN int
		}{{0, fleet.GapSteps}, {fleet.GapSteps - 1, fleet.GapSteps}, {fleet.GapSteps, 0}} {
			p := newPrometheus(t, ingest.PrometheusOptions{URL: prom.URL, QueryOptions: ingest.QueryOptions{MaxGap: tc.maxGap}})
			got, err := p.Range(ctx, q, start, end, step)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("max gap %d: got %d series, want 1", tc.maxGap, len(got))
			}
			if n := countNaN(got[0].Samples); n != tc.wantNaN {
				t.Errorf("max gap %d: %d missing points, want %d", tc.maxGap, n, tc.wantNaN)
			}
		}
	})

	t.Run("bad PromQL is not retried and carries the server's message", func(t *testing.T) {
		p := newPrometheus(t, ingest.PrometheusOptions{URL: prom.URL, QueryOptions: ingest.QueryOptions{RetryBackoff: 5 * time.Second}})
		for name, call := range map[string]func() error{
			"check": func() error { return p.Check(ctx, `rate(node_cpu_seconds_total[5m]`) },
			"range": func() error {
				_, err := p.Range(ctx, `rate(node_cpu_seconds_total[5m]`, start, end, step)
				return err
			},
		} {
			t0 := time.Now()
			err := call()
			if err == nil || !strings.Contains(err.Error(), "parse error") {
				t.Errorf("%s: got error %v, want Prometheus' parse error", name, err)
			}
			if d := time.Since(t0); d > 2*time.Second {
				t.Errorf("%s: took %v: a 400 must not be retried", name, d)
			}
		}
		if err := p.Check(ctx, `sum by (instance) (pg_stat_activity_count)`); err != nil {
			t.Errorf("good query: %v", err)
		}
	})

	t.Run("incidents from ALERTS", func(t *testing.T) {
		p := newPrometheus(t, ingest.PrometheusOptions{URL: prom.URL, IncidentAlerts: []string{"HostOutOfMemory", "PostgresTooManyConnections"}})
		got, err := p.Incidents(ctx, start, end)
		if err != nil {
			t.Fatal(err)
		}
		at := func(s string) time.Time {
			tm, err := time.Parse(time.RFC3339, s)
			if err != nil {
				t.Fatal(err)
			}
			return tm
		}
		// See testdata/prom/alerts.om.
		wantIncidents := []ingest.Incident{
			{Entity: "host-0:9100", Name: "HostOutOfMemory", Start: at("2024-03-10T10:00:00Z"), End: at("2024-03-10T10:40:00Z"), Source: "prometheus"},
			{Entity: "host-0:9100", Name: "HostOutOfMemory", Start: at("2024-03-11T02:00:00Z"), End: at("2024-03-11T02:10:00Z"), Source: "prometheus"},
			{Entity: "host-1:9100", Name: "PostgresTooManyConnections", Start: at("2024-03-12T15:00:00Z"), End: at("2024-03-12T15:45:00Z"), Source: "prometheus"},
		}
		if len(got) != len(wantIncidents) {
			t.Fatalf("got %d incidents %+v, want %d", len(got), got, len(wantIncidents))
		}
		for i := range got {
			if got[i] != wantIncidents[i] {
				t.Errorf("incident %d: got %+v, want %+v", i, got[i], wantIncidents[i])
			}
		}
		none := newPrometheus(t, ingest.PrometheusOptions{URL: prom.URL})
		if got, err := none.Incidents(ctx, start, end); err != nil || len(got) != 0 {
			t.Errorf("without incident alerts: got %v, %v; want none", got, err)
		}
	})

	t.Run("example config", func(t *testing.T) {
		cfg, err := config.Load(filepath.Join("..", "examples", "prometheus.yml"))
		if err != nil {
			t.Fatal(err)
		}
		p := newPrometheus(t, ingest.PrometheusOptions{URL: prom.URL, IncidentAlerts: cfg.Incidents.Alerts})
		s, e := start.Add(24*time.Hour), start.Add(48*time.Hour)
		for i, sig := range cfg.Signals {
			rules := cfg.EntityRelabel(&cfg.Signals[i])
			for _, q := range []string{sig.Query, sig.LimitQuery} {
				if q == "" {
					continue
				}
				if err := p.Check(ctx, q); err != nil {
					t.Errorf("%s: %v", sig.Name, err)
				}
				got, err := p.Range(ctx, q, s, e, time.Duration(cfg.Global.Step))
				if err != nil {
					t.Fatalf("%s: %v", sig.Name, err)
				}
				if len(got) != fleet.Instances {
					t.Errorf("%s: %d series, want one per instance (%d)", sig.Name, len(got), fleet.Instances)
				}
				for _, ser := range got {
					// The entity as the engine reads it: after the
					// example's entity relabelling.
					ls, keep := relabel.Process(labels.FromMap(ser.Labels), rules...)
					host := ls.Get(sig.Entity)
					if !keep || !strings.HasPrefix(host, "host-") || strings.Contains(host, ":") {
						t.Errorf("%s: labels %v, relabelled %v, want %s to be the host without port", sig.Name, ser.Labels, ls, sig.Entity)
					}
					for _, x := range ser.Samples {
						if x.V < 0 || (sig.Limit != nil && x.V > *sig.Limit) {
							t.Errorf("%s %v: %v@%d outside [0, %v]", sig.Name, ser.Labels, x.V, x.T, *sig.Limit)
							break
						}
					}
				}
			}
		}
		if got, err := p.Incidents(ctx, start, end); err != nil || len(got) == 0 {
			t.Errorf("incidents of the example's alerts: %v, %v", got, err)
		}
	})

	// Last: it stops and restarts the server.
	t.Run("server stopped, hung and restarted", func(t *testing.T) {
		q := "node_cpu_seconds_total"
		wantCPU := want(gen, named(q), withName, start, end, step)
		const timeout = 2 * time.Second
		opts := ingest.PrometheusOptions{URL: prom.URL, QueryOptions: ingest.QueryOptions{MaxPointsPerQuery: 1000, Concurrency: 2, Timeout: timeout, Retries: 2, RetryBackoff: 100 * time.Millisecond}}
		p := newPrometheus(t, opts)

		// Stopped mid-run: in chunks of 2 points, one at a time, the range
		// takes 10,081 queries, seconds of work; the server goes away during
		// them.
		opts.MaxPointsPerQuery, opts.Concurrency = 2, 1
		slow := newPrometheus(t, opts)
		errc := make(chan error, 1)
		go func() {
			_, err := slow.Range(ctx, q, start, end, step)
			errc <- err
		}()
		time.Sleep(300 * time.Millisecond)
		t0 := time.Now()
		if err := prom.Stop(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if err == nil {
				t.Error("range succeeded although the server stopped during it")
			}
			t.Logf("stopped: %v", err)
		case <-time.After(timeout + 5*time.Second):
			t.Fatal("range hangs after the server stopped")
		}
		t.Logf("stopped: error after %v", time.Since(t0))

		// Restarted on the same port and data: everything is there again.
		if err := prom.Start(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := p.Range(ctx, q, start, end, step)
		if err != nil {
			t.Fatalf("after restart: %v", err)
		}
		checkSeries(t, got, wantCPU)

		// Hung: connections are accepted but never answered. The query must
		// give up after its timeout rather than wait for ever.
		if err := prom.Pause(); err != nil {
			t.Fatal(err)
		}
		t0 = time.Now()
		_, err = p.Range(ctx, q, start, end, step)
		d := time.Since(t0)
		if err := prom.Resume(); err != nil {
			t.Fatal(err)
		}
		if err == nil {
			t.Error("range succeeded against a hung server")
		}
		if d > timeout+2*time.Second {
			t.Errorf("hung server: error after %v, want about the %v timeout", d, timeout)
		}
		got, err = p.Range(ctx, q, start, end, step)
		if err != nil {
			t.Fatalf("after resume: %v", err)
		}
		checkSeries(t, got, wantCPU)
	})

	t.Run("retries ride out a restart", func(t *testing.T) {
		p := newPrometheus(t, ingest.PrometheusOptions{URL: prom.URL, QueryOptions: ingest.QueryOptions{Retries: 8, RetryBackoff: 200 * time.Millisecond}})
		if err := prom.Stop(); err != nil {
			t.Fatal(err)
		}
		restarted := make(chan error, 1)
		go func() {
			time.Sleep(500 * time.Millisecond)
			restarted <- prom.Start(context.Background())
		}()
		got, err := p.Range(ctx, "pg_settings_max_connections", start, end, step)
		if err := <-restarted; err != nil {
			t.Fatal(err)
		}
		if err != nil {
			t.Fatalf("range during a restart: %v", err)
		}
		checkSeries(t, got, want(gen, named("pg_settings_max_connections"), withName, start, end, step))
	})
}

// TestPrometheusTLSBasicAuth reads from a real Prometheus that serves HTTPS
// with a test CA and requires basic auth (--web.config.file), configured
// the way http_config is.
func TestPrometheusTLSBasicAuth(t *testing.T) {
	skipShort(t)
	t.Parallel()
	const user, password = "augur", "s3cret"
	certs := testservers.NewTLSFiles(t)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	testservers.Backfill(t, filepath.Join("testdata", "prom", "alerts.om"), dir)
	probeTLS, err := promconfig.NewTLSConfig(&promconfig.TLSConfig{CAFile: certs.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	prom := testservers.StartPrometheus(t, testservers.PrometheusOptions{
		DataDir: dir,
		WebConfig: fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  %s: %s\n",
			certs.CertFile, certs.KeyFile, user, hash),
		HTTPS:       true,
		ProbeClient: &http.Client{Transport: &http.Transport{TLSClientConfig: probeTLS}},
		ProbeUser:   user, ProbePassword: password,
	})
	if !strings.HasPrefix(prom.URL, "https://") {
		t.Fatalf("server URL %s is not HTTPS", prom.URL)
	}
	query := `ALERTS{alertname="PostgresTooManyConnections",alertstate="firing"}`
	start := time.Date(2024, 3, 12, 15, 0, 0, 0, time.UTC)
	end := start.Add(45 * time.Minute)
	tlsOK := promconfig.TLSConfig{CAFile: certs.CAFile}
	for _, tc := range []struct {
		name    string
		http    promconfig.HTTPClientConfig
		wantErr string
	}{
		{"password file and CA", promconfig.HTTPClientConfig{
			BasicAuth: &promconfig.BasicAuth{Username: user, PasswordFile: pwFile}, TLSConfig: tlsOK}, ""},
		{"inline password, server name", promconfig.HTTPClientConfig{
			BasicAuth: &promconfig.BasicAuth{Username: user, Password: password},
			TLSConfig: promconfig.TLSConfig{CAFile: certs.CAFile, ServerName: "localhost"}}, ""},
		{"wrong password", promconfig.HTTPClientConfig{
			BasicAuth: &promconfig.BasicAuth{Username: user, Password: "wrong"}, TLSConfig: tlsOK}, "401"},
		{"unknown CA", promconfig.HTTPClientConfig{
			BasicAuth: &promconfig.BasicAuth{Username: user, Password: password}}, "certificate"},
		{"wrong server name", promconfig.HTTPClientConfig{
			BasicAuth: &promconfig.BasicAuth{Username: user, Password: password},
			TLSConfig: promconfig.TLSConfig{CAFile: certs.CAFile, ServerName: "prometheus.example"}}, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPrometheus(t, ingest.PrometheusOptions{URL: prom.URL, HTTP: tc.http, QueryOptions: ingest.QueryOptions{RetryBackoff: 5 * time.Second}})
			t0 := time.Now()
			got, err := p.Range(t.Context(), query, start, end, time.Minute)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				if d := time.Since(t0); d > 2*time.Second {
					t.Errorf("took %v: a permanent failure must not be retried", d)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || len(got[0].Samples) != 46 || countNaN(got[0].Samples) != 0 {
				t.Fatalf("got %d series, want 1 with 46 samples", len(got))
			}
		})
	}
}
