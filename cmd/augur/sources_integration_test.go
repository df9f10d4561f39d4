package main

import (
	"bytes"
	"fmt"
	neturl "net/url"
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
// postgres_exporter's targets are on a port of their own, so each host
// is two targets that the example's entity relabelling joins. A second
// Prometheus then scrapes augur with honor_labels: true, as the README
// advises: augur's series land under job="augur" with the source's
// job and instance as exported_job and exported_instance, none under the
// exporters' jobs.
func TestServePrometheusExample(t *testing.T) {
	fleet := recentFleet()
	fleet.PostgresPort = 9187
	dir := t.TempDir()
	testservers.BackfillSeries(t, fleet.Series(), dir)
	prom := testservers.StartPrometheus(t, testservers.PrometheusOptions{DataDir: dir})
	base := startAugur(t, "--config.file="+exampleConfig(t, "prometheus.yml", prom.URL), "--calibration.replay=0")
	checkEveryHost(t, base, fleet)

	scraper := testservers.StartPrometheus(t, testservers.PrometheusOptions{Config: fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: augur
    honor_labels: true
    static_configs: [{targets: [%q]}]
`, strings.TrimPrefix(base, "http://"))})
	type series = []struct {
		Metric map[string]string `json:"metric"`
	}
	query := func(url, q string) series {
		var d struct {
			Result series `json:"result"`
		}
		if code := get(t, url+"/api/v1/query?query="+neturl.QueryEscape(q), &d); code != 200 {
			t.Fatalf("%s: %s: status %d", url, q, code)
		}
		return d.Result
	}
	eventually(t, "the scraper has augur's scores", time.Minute, func() bool {
		return len(query(scraper.URL, `augur_anomaly_score`)) == 3*fleet.Instances
	})
	if got := query(scraper.URL, `count by (job) ({__name__=~"augur_.+"})`); len(got) != 1 || got[0].Metric["job"] != "augur" {
		t.Errorf("augur's series are under the jobs %v, want job=augur only", got)
	}
	for _, tc := range []struct {
		url, what string
	}{{scraper.URL, "scraped /metrics"}, {base, "augur's Prometheus API"}} {
		got := query(tc.url, `augur_anomaly_score`)
		if len(got) != 3*fleet.Instances {
			t.Errorf("%s: %d anomaly scores, want %d", tc.what, len(got), 3*fleet.Instances)
		}
		for _, s := range got {
			m := s.Metric
			port := ":9100"
			if m["signal"] == "connections" {
				port = ":9187"
			}
			if m["exported_instance"] != m["host"]+port || (tc.url == base && (m["instance"] != "" || m["job"] != "")) {
				t.Errorf("%s: %v: want the source's instance as exported_instance (%s%s), host joined, no job or instance of the source", tc.what, m, m["host"], port)
			}
			if m["signal"] == "memory" && m["exported_job"] != "node" {
				t.Errorf("%s: %v: want the source's job as exported_job", tc.what, m)
			}
		}
	}
	if got := query(base, `augur_input{exported_job="node", signal="memory"}`); len(got) != fleet.Instances {
		t.Errorf("augur's Prometheus API: %d memory inputs by exported_job, want %d", len(got), fleet.Instances)
	}
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
