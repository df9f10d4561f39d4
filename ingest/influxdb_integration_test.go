package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/augur-sre/augur/config"
	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/internal/testservers"
)

// InfluxDB 1.8 serves database "fleet", retention policy "autogen" to Flux
// as the bucket "fleet/autogen".
const (
	influxDB                   = "fleet"
	influxUser, influxPassword = "augur", "s3cret"
)

// fluxMeasurement selects one measurement with the range augur provides.
func fluxMeasurement(name string) string {
	return fmt.Sprintf(`from(bucket: "fleet/autogen")
  |> range(start: v.timeStart, stop: v.timeStop)
  |> filter(fn: (r) => r._measurement == %q)`, name)
}

// influxLabels is how a series written by WriteLineProtocol comes back:
// its tags, plus the measurement and the field.
func influxLabels(s testservers.Series) map[string]string {
	l := maps.Clone(s.Labels)
	l["measurement"] = s.Name
	l["field"] = "value"
	return l
}

func newInfluxDB(t testing.TB, opts ingest.InfluxDBOptions) *ingest.InfluxDB {
	t.Helper()
	opts.Logger = testLogger(t)
	i, err := ingest.NewInfluxDB(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(i.Close)
	return i
}

func TestInfluxDBIntegration(t *testing.T) {
	skipShort(t)
	t.Parallel()
	gen := fleet.Series()
	influx := testservers.StartInfluxDB(t, testservers.InfluxDBOptions{User: influxUser, Password: influxPassword})
	if err := influx.CreateDatabase(influxDB); err != nil {
		t.Fatal(err)
	}
	if err := influx.WriteSeries(influxDB, gen); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	start, end, step := fleet.Start, fleet.End(), time.Minute
	token := influxUser + ":" + influxPassword

	t.Run("exact samples across chunks", func(t *testing.T) {
		// 21 odd-sized chunks: overlapping ranges at the seams must neither
		// lose nor double a point.
		src := newInfluxDB(t, ingest.InfluxDBOptions{URL: influx.URL, Token: token, QueryOptions: ingest.QueryOptions{MaxPointsPerQuery: 997}})
		for _, name := range []string{"node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "pg_stat_activity_count", "pg_settings_max_connections"} {
			got, err := src.Range(ctx, fluxMeasurement(name), start, end, step)
			if err != nil {
				t.Fatal(err)
			}
			checkSeries(t, got, want(gen, named(name), influxLabels, start, end, step))
		}
	})

	t.Run("sub-range and Grafana variables", func(t *testing.T) {
		src := newInfluxDB(t, ingest.InfluxDBOptions{URL: influx.URL, Token: token})
		// Stamped with its start, the window [t, t+step) holds the sample
		// written at t, so fn: last reproduces the written values.
		q := `from(bucket: "fleet/autogen")
  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
  |> filter(fn: (r) => r._measurement == "node_memory_MemAvailable_bytes" and r.instance == "host-2:9100")
  |> aggregateWindow(every: v.windowPeriod, fn: last, timeSrc: "_start")`
		gapStart := fleet.Start.Add(time.Duration(fleet.GapAt) * step)
		s, e := gapStart.Add(-30*time.Minute-20*time.Second), gapStart.Add(time.Hour+10*time.Second)
		got, err := src.Range(ctx, q, s, e, step)
		if err != nil {
			t.Fatal(err)
		}
		keep := func(s testservers.Series) bool {
			return s.Name == "node_memory_MemAvailable_bytes" && s.Labels["instance"] == "host-2:9100"
		}
		checkSeries(t, got, want(gen, keep, influxLabels, s, e, step))
		if len(got) == 1 && countNaN(got[0].Samples) != fleet.GapSteps {
			t.Errorf("got %d missing points, want the %d of the gap", countNaN(got[0].Samples), fleet.GapSteps)
		}
	})

	t.Run("grouping becomes labels", func(t *testing.T) {
		src := newInfluxDB(t, ingest.InfluxDBOptions{URL: influx.URL, Token: token})
		q := `from(bucket: "fleet/autogen")
  |> range(start: v.timeStart, stop: v.timeStop)
  |> filter(fn: (r) => r._measurement == "pg_stat_activity_count")
  |> group(columns: ["instance"])
  |> aggregateWindow(every: v.windowPeriod, fn: sum)`
		s, e := start.Add(time.Hour), start.Add(7*time.Hour)
		got, err := src.Range(ctx, q, s, e, step)
		if err != nil {
			t.Fatal(err)
		}
		// Windows are stamped with their end: the window [t-step, t) sums
		// the active and idle counts written at t-step. Sums of small
		// integers are exact.
		checkSeries(t, got, want(sumByInstance(gen, "pg_stat_activity_count", step), all, ownLabels, s, e, step))
	})

	t.Run("rejected queries are not retried and carry the server's message", func(t *testing.T) {
		for _, tc := range []struct {
			name, token, query, wantMsg string
		}{
			{"syntax", token, `from(bucket: "fleet/autogen") |> range(start: v.timeStart`, "expected RPAREN"},
			{"credentials", influxUser + ":wrong", fluxMeasurement("pg_settings_max_connections"), "authentication failed"},
		} {
			src := newInfluxDB(t, ingest.InfluxDBOptions{URL: influx.URL, Token: tc.token, QueryOptions: ingest.QueryOptions{RetryBackoff: 5 * time.Second}})
			t0 := time.Now()
			err := src.Check(ctx, tc.query)
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("%s: got error %v, want one containing %q", tc.name, err, tc.wantMsg)
			}
			if d := time.Since(t0); d > 2*time.Second {
				t.Errorf("%s: took %v: a 4xx must not be retried", tc.name, d)
			}
		}
		src := newInfluxDB(t, ingest.InfluxDBOptions{URL: influx.URL, Token: token})
		if err := src.Check(ctx, fluxMeasurement("pg_settings_max_connections")); err != nil {
			t.Errorf("good query: %v", err)
		}
	})

	t.Run("example config on Telegraf-shaped history", func(t *testing.T) {
		var lp bytes.Buffer
		if err := testservers.WriteTelegraf(&lp, fleet); err != nil {
			t.Fatal(err)
		}
		if err := influx.CreateDatabase("telegraf"); err != nil {
			t.Fatal(err)
		}
		if err := influx.Write("telegraf", lp.Bytes()); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(filepath.Join("..", "examples", "influxdb.yml"))
		if err != nil {
			t.Fatal(err)
		}
		src := newInfluxDB(t, ingest.InfluxDBOptions{URL: influx.URL, Token: token, QueryOptions: ingest.QueryOptions{MaxPointsPerQuery: 1500}})
		for _, sig := range cfg.Signals {
			t0 := time.Now()
			got, err := src.Range(ctx, sig.Query, start, end, time.Duration(cfg.Global.Step))
			if err != nil {
				t.Fatalf("%s: %v", sig.Name, err)
			}
			t.Logf("%s: two weeks in %v", sig.Name, time.Since(t0))
			if len(got) != fleet.Instances {
				t.Errorf("%s: %d series, want one per host (%d)", sig.Name, len(got), fleet.Instances)
			}
			for _, s := range got {
				if len(s.Labels) != 1 || !strings.HasPrefix(s.Labels[sig.Entity], "host-") {
					t.Errorf("%s: labels %v, want only %s", sig.Name, s.Labels, sig.Entity)
				}
				// Missing at most: the window before the data starts, the
				// first point of a rate (cpu), the scrape gap and the first
				// rate after it.
				if n := countNaN(s.Samples); len(s.Samples) != fleet.Points || n > fleet.GapSteps+3 {
					t.Errorf("%s %v: %d samples, %d missing; want %d with at most %d missing", sig.Name, s.Labels, len(s.Samples), n, fleet.Points, fleet.GapSteps+3)
				}
				for _, x := range s.Samples {
					if x.V < 0 || (sig.Limit != nil && x.V > *sig.Limit) {
						t.Errorf("%s %v: %v@%d outside [0, limit]", sig.Name, s.Labels, x.V, x.T)
						break
					}
				}
			}
		}
	})

	t.Run("unusable results are errors", func(t *testing.T) {
		src := newInfluxDB(t, ingest.InfluxDBOptions{URL: influx.URL, Token: token})
		base := fluxMeasurement("pg_settings_max_connections")
		for _, tc := range []struct{ pipe, wantMsg string }{
			{`|> sum()`, "no _time column"},
			{`|> map(fn: (r) => ({r with _value: string(v: r._value)}))`, "non-numeric _value"},
		} {
			_, err := src.Range(ctx, base+"\n  "+tc.pipe, start, start.Add(time.Hour), step)
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("%s: got error %v, want one containing %q", tc.pipe, err, tc.wantMsg)
			}
		}
	})

	// Last: it stops and restarts the server.
	t.Run("server crashed, hung and restarted", func(t *testing.T) {
		q := fluxMeasurement("node_memory_MemTotal_bytes")
		wantMem := want(gen, named("node_memory_MemTotal_bytes"), influxLabels, start, end, step)
		const timeout = 2 * time.Second
		src := newInfluxDB(t, ingest.InfluxDBOptions{URL: influx.URL, Token: token, QueryOptions: ingest.QueryOptions{Timeout: timeout, Retries: 1, RetryBackoff: 100 * time.Millisecond}})

		// Crashed mid-run: reading the whole fleet takes InfluxDB 1.8
		// seconds; the server dies during it. The timeout is long, so the
		// error can only come from the crash.
		whole := newInfluxDB(t, ingest.InfluxDBOptions{URL: influx.URL, Token: token, QueryOptions: ingest.QueryOptions{Timeout: time.Minute, Retries: 1, RetryBackoff: 100 * time.Millisecond}})
		errc := make(chan error, 1)
		go func() {
			_, err := whole.Range(ctx, `from(bucket: "fleet/autogen") |> range(start: v.timeStart, stop: v.timeStop)`, start, end, step)
			errc <- err
		}()
		time.Sleep(200 * time.Millisecond)
		t0 := time.Now()
		if err := influx.Kill(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if err == nil {
				t.Error("range succeeded although the server crashed during it")
			}
			t.Logf("crashed: error after %v: %v", time.Since(t0), err)
		case <-time.After(5 * time.Second):
			t.Fatal("range hangs after the server crashed")
		}
		t0 = time.Now()
		if _, err := src.Range(ctx, q, start, end, step); err == nil {
			t.Error("range succeeded against a stopped server")
		}
		if d := time.Since(t0); d > timeout {
			t.Errorf("stopped server: error after %v", d)
		}

		if err := influx.Start(ctx); err != nil {
			t.Fatal(err)
		}
		// The first query after a restart loads the shards: on a loaded
		// machine that takes longer than the short timeout tested above.
		got, err := whole.Range(ctx, q, start, end, step)
		if err != nil {
			t.Fatalf("after restart: %v", err)
		}
		checkSeries(t, got, wantMem)

		if err := influx.Pause(); err != nil {
			t.Fatal(err)
		}
		t0 = time.Now()
		_, err = src.Range(ctx, q, start, end, step)
		d := time.Since(t0)
		if err := influx.Resume(); err != nil {
			t.Fatal(err)
		}
		if err == nil {
			t.Error("range succeeded against a hung server")
		}
		if d > timeout+2*time.Second {
			t.Errorf("hung server: error after %v, want about the %v timeout", d, timeout)
		}
		got, err = src.Range(context.Background(), q, start, end, step)
		if err != nil {
			t.Fatalf("after resume: %v", err)
		}
		checkSeries(t, got, wantMem)
	})
}

// TestInfluxDBExample runs the signals of examples/influxdb.yml against a
// real InfluxDB 1.8 holding Telegraf-shaped points (testdata/influx): every
// query must compile, yield one series per host labelled only by host, and
// compute what its comment says.
func TestInfluxDBExample(t *testing.T) {
	skipShort(t)
	t.Parallel()
	cfg, err := config.Load(filepath.Join("..", "examples", "influxdb.yml"))
	if err != nil {
		t.Fatal(err)
	}
	lp, err := os.ReadFile(filepath.Join("testdata", "influx", "telegraf.lp"))
	if err != nil {
		t.Fatal(err)
	}
	influx := testservers.StartInfluxDB(t, testservers.InfluxDBOptions{})
	if err := influx.CreateDatabase("telegraf"); err != nil {
		t.Fatal(err)
	}
	if err := influx.Write("telegraf", lp); err != nil {
		t.Fatal(err)
	}
	src := newInfluxDB(t, ingest.InfluxDBOptions{URL: influx.URL})
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(30 * time.Minute)
	// See testdata/influx/telegraf.lp: values are constant within minute
	// m, and a window ending at t averages minute m = t/1m - 1.
	wantAt := map[string]func(m int) float64{
		"cpu":         func(m int) float64 { return 100 - float64(80-m%5) },
		"memory":      func(m int) float64 { return 50 + float64(m)*0.5 },
		"connections": func(m int) float64 { return float64(10+m%3) + 1 },
	}
	for _, sig := range cfg.Signals {
		got, err := src.Range(t.Context(), sig.Query, start, end, time.Duration(cfg.Global.Step))
		if err != nil {
			t.Errorf("%s: %v", sig.Name, err)
			continue
		}
		if len(got) != 2 {
			t.Errorf("%s: %d series, want one per host (2)", sig.Name, len(got))
		}
		for _, s := range got {
			if len(s.Labels) != 1 || s.Labels[sig.Entity] == "" {
				t.Errorf("%s: labels %v, want only %s", sig.Name, s.Labels, sig.Entity)
			}
			// Point 0 (00:00) covers the minute before the data starts.
			if len(s.Samples) != 31 || countNaN(s.Samples) != 1 {
				t.Errorf("%s %v: %d samples, %d missing; want 31 and 1", sig.Name, s.Labels, len(s.Samples), countNaN(s.Samples))
				continue
			}
			for k, x := range s.Samples[1:] {
				if w := wantAt[sig.Name](k); math.Abs(x.V-w) > 1e-9 {
					t.Errorf("%s %v: %v at minute %d, want %v", sig.Name, s.Labels, x.V, k+1, w)
					break
				}
			}
		}
	}
}
