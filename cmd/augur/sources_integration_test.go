package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/augur-sre/augur/internal/testservers"
)

// recentFleet is three days of node_exporter-like history for three hosts
// ending now, so that augur's wall-clock engine finds it in its window.
func recentFleet() testservers.Fleet {
	f := testservers.DefaultFleet()
	f.Points = 3*24*60 + 1
	f.Start = time.Now().UTC().Truncate(time.Minute).Add(-time.Duration(f.Points-1) * f.Step)
	f.GapAt, f.ResetAt = f.Points/3, f.Points*3/5
	return f
}

// exampleConfig writes examples/<name> with the server's URL and a history
// the fleet covers.
func exampleConfig(t *testing.T, name, url string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "url: http://127.0.0.1:9090", "url: "+url, 1)
	s = strings.Replace(s, "url: http://127.0.0.1:8086", "url: "+url, 1)
	s = strings.Replace(s, "history: 14d", "history: 3d", 1)
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkEveryHost waits for /api/v1/failures to list every host of the
// fleet with a probability in [0,1], and every signal healthy.
func checkEveryHost(t *testing.T, base string, fleet testservers.Fleet) {
	t.Helper()
	var fd failuresData
	eventually(t, "failures for every host", 2*time.Minute, func() bool {
		return get(t, base+"/api/v1/failures", &fd) == 200 && len(fd.Entities) == fleet.Instances
	})
	for _, e := range fd.Entities {
		t.Logf("%s: failure probability %.3f", e.Entity, e.FailureProbability)
		if !strings.HasPrefix(e.Entity, "host-") || e.FailureProbability < 0 || e.FailureProbability > 1 || len(e.Factors) != 3 {
			t.Errorf("entity %+v", e)
		}
	}
	var tg struct {
		Signals []struct {
			Signal string `json:"signal"`
			Health string `json:"health"`
			Series []any  `json:"series"`
		} `json:"signals"`
	}
	get(t, base+"/api/v1/targets", &tg)
	for _, s := range tg.Signals {
		if s.Health != "up" || len(s.Series) != fleet.Instances {
			t.Errorf("signal %s: health %s, %d series", s.Signal, s.Health, len(s.Series))
		}
	}
}

// TestServePrometheusExample runs `augur serve --config.file=examples/prometheus.yml`
// against a real Prometheus holding backfilled node_exporter and
// postgres_exporter history.
func TestServePrometheusExample(t *testing.T) {
	fleet := recentFleet()
	dir := t.TempDir()
	testservers.BackfillSeries(t, fleet.Series(), dir)
	prom := testservers.StartPrometheus(t, testservers.PrometheusOptions{DataDir: dir})
	base := startAugur(t, "--config.file="+exampleConfig(t, "prometheus.yml", prom.URL), "--calibration.replay=0")
	checkEveryHost(t, base, fleet)
}

// TestServeInfluxDBExample runs `augur serve --config.file=examples/influxdb.yml`
// against a real InfluxDB 1.8 holding the same history as Telegraf wrote it.
func TestServeInfluxDBExample(t *testing.T) {
	fleet := recentFleet()
	influx := testservers.StartInfluxDB(t, testservers.InfluxDBOptions{})
	if err := influx.CreateDatabase("telegraf"); err != nil {
		t.Fatal(err)
	}
	var lp bytes.Buffer
	if err := testservers.WriteTelegraf(&lp, fleet); err != nil {
		t.Fatal(err)
	}
	if err := influx.Write("telegraf", lp.Bytes()); err != nil {
		t.Fatal(err)
	}
	base := startAugur(t, "--config.file="+exampleConfig(t, "influxdb.yml", influx.URL), "--calibration.replay=0")
	checkEveryHost(t, base, fleet)
}
