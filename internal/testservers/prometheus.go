package testservers

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// PrometheusOptions configures StartPrometheus.
type PrometheusOptions struct {
	// DataDir is the TSDB directory; empty means a fresh temporary one.
	// Backfill blocks into it with Backfill before starting.
	DataDir string
	// LookbackDelta is --query.lookback-delta; zero keeps Prometheus' 5m.
	// Set it just under the data's scrape interval to make range queries
	// return exactly the stored samples, without filling gaps.
	LookbackDelta time.Duration
	// Config is prometheus.yml's content; empty means no scrape jobs.
	Config string
	// WebConfig is the content of --web.config.file (tls_server_config,
	// basic_auth_users); empty means plain HTTP without authentication.
	// With tls_server_config, set HTTPS.
	WebConfig string
	HTTPS     bool
	// ProbeClient checks readiness; it must trust the server's certificate
	// when HTTPS is set. Default: a plain client.
	ProbeClient *http.Client
	// ProbeUser and ProbePassword authenticate the readiness check when
	// WebConfig requires basic auth.
	ProbeUser, ProbePassword string
	// Args are further flags, e.g. --web.enable-remote-write-receiver.
	Args []string
}

// Prometheus is a running Prometheus server on 127.0.0.1.
type Prometheus struct {
	*server
	// URL is the server's base URL, e.g. http://127.0.0.1:39211.
	URL     string
	DataDir string
}

// StartPrometheus starts the Debian `prometheus` binary on a free loopback
// port, keeps backfilled blocks of any age (100y retention) and stops it
// when the test ends.
func StartPrometheus(tb testing.TB, opts PrometheusOptions) *Prometheus {
	tb.Helper()
	bin := Binary(tb, "prometheus")
	dir := tb.TempDir()
	if opts.DataDir == "" {
		opts.DataDir = filepath.Join(dir, "data")
	}
	if opts.Config == "" {
		opts.Config = "global:\n  scrape_interval: 1m\n"
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(opts.Config), 0o644); err != nil {
		tb.Fatalf("cannot write Prometheus config: %v", err)
	}
	port := FreePort(tb)
	scheme := "http"
	if opts.HTTPS {
		scheme = "https"
	}
	url := scheme + "://127.0.0.1:" + strconv.Itoa(port)
	args := []string{
		"--config.file=" + cfg,
		"--storage.tsdb.path=" + opts.DataDir,
		"--storage.tsdb.retention.time=100y",
		"--web.listen-address=127.0.0.1:" + strconv.Itoa(port),
		"--web.enable-lifecycle",
		"--log.level=warn",
	}
	if opts.LookbackDelta > 0 {
		args = append(args, "--query.lookback-delta="+opts.LookbackDelta.String())
	}
	args = append(args, opts.Args...)
	if opts.WebConfig != "" {
		web := filepath.Join(dir, "web.yml")
		if err := os.WriteFile(web, []byte(opts.WebConfig), 0o644); err != nil {
			tb.Fatalf("cannot write Prometheus web config: %v", err)
		}
		args = append(args, "--web.config.file="+web)
	}
	probe := opts.ProbeClient
	if probe == nil {
		probe = &http.Client{}
	}
	ready := func() bool {
		req, err := http.NewRequest(http.MethodGet, url+"/-/ready", nil)
		if err != nil {
			return false
		}
		if opts.ProbeUser != "" {
			req.SetBasicAuth(opts.ProbeUser, opts.ProbePassword)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		resp, err := probe.Do(req.WithContext(ctx))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode/100 == 2
	}
	s, err := newServer(tb, "prometheus", bin, args, filepath.Join(dir, "prometheus.log"), ready)
	if err != nil {
		tb.Fatal(err)
	}
	return &Prometheus{server: s, URL: url, DataDir: opts.DataDir}
}

// Backfill turns an OpenMetrics file into TSDB blocks in dataDir with
// `promtool tsdb create-blocks-from openmetrics`. Prometheus picks them up
// when it starts.
func Backfill(tb testing.TB, openMetricsFile, dataDir string) {
	tb.Helper()
	// One block per ~20 days instead of one per 2 h: promtool re-reads the
	// whole input for every block, so this keeps backfilling linear.
	cmd := exec.Command(Binary(tb, "promtool"), "tsdb", "create-blocks-from", "openmetrics",
		"--max-block-duration=486h", "--quiet", openMetricsFile, dataDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("cannot backfill %s: %v\n%s", openMetricsFile, err, out)
	}
}

// BackfillSeries writes series as OpenMetrics to a temporary file and
// backfills them into dataDir.
func BackfillSeries(tb testing.TB, series []Series, dataDir string) {
	tb.Helper()
	f, err := os.CreateTemp(tb.TempDir(), "*.om")
	if err != nil {
		tb.Fatal(err)
	}
	if err := WriteOpenMetrics(f, series); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatalf("cannot write %s: %v", f.Name(), err)
	}
	Backfill(tb, f.Name(), dataDir)
	if err := os.Remove(f.Name()); err != nil {
		tb.Fatal(fmt.Errorf("cannot remove %s: %w", f.Name(), err))
	}
}
