package testservers

import (
	"fmt"
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
	url := "http://127.0.0.1:" + strconv.Itoa(port)
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
	s, err := newServer(tb, "prometheus", bin, args, filepath.Join(dir, "prometheus.log"), url+"/-/ready")
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
