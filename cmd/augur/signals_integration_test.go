package main

// Missing data must be loud (issue 14): signals whose query returns
// nothing, whose limit_query misses entities, whose series lack the entity
// label, a host too new for a model, and a source that goes down, against a
// real Prometheus, seen where a user looks: /api/v1/targets, /metrics,
// the warnings of the REST and Prometheus APIs, /-/ready and the log.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/augur-sre/augur/internal/testservers"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

// gappyStep is the resolution of gappyFleet and of the configuration that
// reads it; Prometheus answers with a lookback just under it, so a series
// is exactly its samples.
const gappyStep = 15 * time.Second

// gappyFleet is six hours of memory and connection gauges up to t0 and
// half an hour beyond (backfilled samples ahead of the clock make the
// source look live while the test runs): three hosts, three databases of
// which only db-1 exports its max_connections, and new-1, a host with its
// first four samples at t0.
func gappyFleet(t0 time.Time) []testservers.Series {
	rng := rand.New(rand.NewPCG(14, 1))
	var out []testservers.Series
	gauge := func(name, instance string, from, to time.Time, f func(float64) float64) {
		s := testservers.Series{Name: name, Labels: map[string]string{"instance": instance, "job": "node"}}
		for t := from; !t.After(to); t = t.Add(gappyStep) {
			s.T = append(s.T, t.UnixMilli())
			s.V = append(s.V, f(t.Sub(t0).Hours()))
		}
		out = append(out, s)
	}
	start, end := t0.Add(-6*time.Hour), t0.Add(30*time.Minute)
	for i := 1; i <= 3; i++ {
		gauge("node_memory_used_percent", fmt.Sprintf("host-%d", i), start, end, func(h float64) float64 {
			return 40 + 5*float64(i) + 8*math.Sin(2*math.Pi*h/6) + rng.NormFloat64()
		})
		gauge("pg_connections", fmt.Sprintf("db-%d", i), start, end, func(h float64) float64 {
			return math.Round(20 + 10*math.Sin(2*math.Pi*h/3) + 2*rng.NormFloat64())
		})
	}
	gauge("pg_max_connections", "db-1", start, end, func(float64) float64 { return 100 })
	gauge("node_memory_used_percent", "new-1", t0.Add(-3*gappyStep), t0, func(float64) float64 { return 30 + rng.NormFloat64() })
	return out
}

const gappyConfig = `global:
  step: 15s
  history: 6h
  evaluation_interval: 5s
  horizon: 15m
  max_gap: 1m
sources:
  - {name: prom, type: prometheus, url: %s}
signals:
  - {name: memory, query: node_memory_used_percent, entity: instance, limit: 100}
  - {name: typo, query: node_memory_used_percnt, entity: instance, limit: 100}
  - {name: connections, query: pg_connections, entity: instance, limit_query: pg_max_connections}
  - {name: total, query: sum(pg_connections), entity: instance, limit: 1000}
`

type targetsData struct {
	Ready   bool `json:"ready"`
	Signals []struct {
		Signal   string `json:"signal"`
		Health   string `json:"health"`
		Problems []struct {
			Health   string   `json:"health"`
			Message  string   `json:"message"`
			Entities []string `json:"entities"`
			Points   []int    `json:"points"`
		} `json:"problems"`
		Series []struct {
			Labels    map[string]string `json:"labels"`
			WarmingUp bool              `json:"warming_up"`
			Points    int               `json:"points"`
		} `json:"series"`
	} `json:"signals"`
}

// warnedEnvelope is an API answer with its warnings.
type warnedEnvelope struct {
	Warnings []string `json:"warnings"`
	Data     struct {
		Entities []struct {
			Entity   string `json:"entity"`
			Severity string `json:"severity"`
		} `json:"entities"`
	} `json:"data"`
}

func TestMissingDataIsLoud(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Prometheus and augur for minutes")
	}
	t0 := time.Now().Truncate(gappyStep)
	dir := t.TempDir()
	testservers.BackfillSeries(t, gappyFleet(t0), dir)
	prom := testservers.StartPrometheus(t, testservers.PrometheusOptions{DataDir: dir, LookbackDelta: gappyStep - time.Second})
	cfgDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(cfgDir, "augur.yml"), fmt.Appendf(nil, gappyConfig, prom.URL), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("check config", func(t *testing.T) {
		out, err := checkConfigOutput(t, cfgDir, "--config.file=augur.yml", "--sources")
		if err == nil {
			t.Errorf("augur check config --sources exited 0 with problems")
		}
		golden(t, "check-config-sources.golden", out)
	})

	base, logPath := startAugurLog(t, "--config.file="+filepath.Join(cfgDir, "augur.yml"), "--calibration.replay=0")
	waitReady(t, base, 2*time.Minute)
	var tg targetsData
	eventually(t, "new-1 fitted and found short", time.Minute, func() bool {
		get(t, base+"/api/v1/targets", &tg)
		return len(tg.Signals) == 4 && len(tg.Signals[0].Problems) == 1
	})
	health := map[string]string{}
	for _, s := range tg.Signals {
		health[s.Signal] = s.Health
		for _, ser := range s.Series {
			if ser.Labels["exported_instance"] == "" {
				t.Errorf("signal %s: a series without an entity was modelled: %v", s.Signal, ser.Labels)
			}
		}
	}
	want := map[string]string{"memory": "up", "typo": "no_data", "connections": "no_limit", "total": "no_entity_label"}
	for sig, h := range want {
		if health[sig] != h {
			t.Errorf("signal %s: health %q, want %q", sig, health[sig], h)
		}
	}
	if p := tg.Signals[0].Problems[0]; p.Health != "warming_up" || strings.Join(p.Entities, ",") != "new-1" || len(p.Points) != 1 || p.Points[0] != 4 {
		t.Errorf("memory's problem %+v, want new-1 warming up with 4 points", p)
	}
	if p := tg.Signals[2].Problems; len(p) != 1 || strings.Join(p[0].Entities, ",") != "db-2,db-3" {
		t.Errorf("connections' problems %+v, want no_limit naming db-2 and db-3", p)
	}

	wantWarnings := []string{`signal "memory": warming_up: 1 series`, `signal "typo": no_data:`, `signal "connections": no_limit:`, `signal "total": no_entity_label:`}
	for _, path := range []string{"/api/v1/failures", "/api/v1/capacity", "/api/v1/query?query=augur_input", "/api/v1/query_range?query=augur_input&start=" + fmt.Sprint(t0.Add(-time.Hour).Unix()) + "&end=" + fmt.Sprint(t0.Unix()) + "&step=60"} {
		code, env := getWarned(t, base+path)
		if code != http.StatusOK {
			t.Errorf("%s: status %d", path, code)
		}
		for _, w := range wantWarnings {
			if !containsPrefix(env.Warnings, w) {
				t.Errorf("%s: no warning %q in %q", path, w, env.Warnings)
			}
		}
		for _, e := range env.Data.Entities {
			if e.Entity == "" || (e.Entity == "new-1") != (e.Severity == "warming_up") {
				t.Errorf("%s: entity %q with severity %q", path, e.Entity, e.Severity)
			}
		}
	}
	metrics := scrape(t, base)
	for _, m := range []string{
		`augur_signal_health{health="up",signal="memory"} 1`, `augur_signal_health{health="no_data",signal="memory"} 0`,
		`augur_signal_health{health="no_data",signal="typo"} 1`, `augur_signal_health{health="up",signal="typo"} 0`,
		`augur_signal_health{health="no_limit",signal="connections"} 1`, `augur_signal_health{health="no_entity_label",signal="total"} 1`,
	} {
		if !strings.Contains(metrics, "\n"+m+"\n") {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	// Many evaluations later, each problem was logged once.
	time.Sleep(4 * gappyStep)
	counts := problemLines(t, logPath)
	for _, k := range []string{"typo no_data", "connections no_limit", "total no_entity_label"} {
		if counts[k] != 1 {
			t.Errorf("problem %s logged %d times, want once", k, counts[k])
		}
	}

	// The only source goes down: not ready, every signal source_down,
	// one line each, the last models still served with the warning.
	if err := prom.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "not ready while the source is down", time.Minute, func() bool { return status(t, base+"/-/ready") == http.StatusServiceUnavailable })
	time.Sleep(4 * gappyStep)
	get(t, base+"/api/v1/targets", &tg)
	for _, s := range tg.Signals {
		if s.Health != "source_down" {
			t.Errorf("source stopped: signal %s health %q", s.Signal, s.Health)
		}
	}
	if code, env := getWarned(t, base+"/api/v1/failures"); code != http.StatusOK || len(env.Data.Entities) == 0 || !containsPrefix(env.Warnings, `signal "memory": source_down: cannot fetch from source "prom"`) {
		t.Errorf("source stopped: failures %d with %d entities, warnings %q", code, len(env.Data.Entities), env.Warnings)
	}
	counts = problemLines(t, logPath)
	for _, sig := range []string{"memory", "typo", "connections", "total"} {
		if n := counts[sig+" source_down"]; n != 1 {
			t.Errorf("source_down of %s logged %d times, want once", sig, n)
		}
	}
	if b, _ := os.ReadFile(logPath); strings.Contains(string(b), "retrying query") || strings.Contains(string(b), "cannot fetch signal") {
		t.Errorf("the outage floods the log at info level:\n%s", b)
	}

	if err := prom.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ready once the source is back", time.Minute, func() bool { return status(t, base+"/-/ready") == http.StatusOK })
	eventually(t, "source_down cleared", time.Minute, func() bool { return problemLines(t, logPath)["memory source_down cleared"] == 1 })
}

// getWarned gets an API answer with its warnings.
func getWarned(t *testing.T, url string) (int, warnedEnvelope) {
	t.Helper()
	var env warnedEnvelope
	resp, err := http.Get(url)
	if err != nil {
		return 0, env
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Errorf("GET %s: %v", url, err)
	}
	return resp.StatusCode, env
}

// scrape returns augur's /metrics.
func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

var problemLineRE = regexp.MustCompile(`msg="signal problem( cleared)?" .*?signal=(\S+) health=(\S+)`)

// problemLines counts the log's problem lines by "signal health" (and
// "signal health cleared").
func problemLines(t *testing.T, logPath string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, m := range problemLineRE.FindAllStringSubmatch(string(b), -1) {
		n[m[2]+" "+m[3]+m[1]]++
	}
	return n
}

// checkConfigOutput runs `augur check config` in dir and returns its
// standard output.
func checkConfigOutput(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(augurBinary, append([]string{"check", "config"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return string(out), err
}

// golden compares got with testdata/name, which -update rewrites.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (rerun with -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestCheckConfigInvalid(t *testing.T) {
	dir := t.TempDir()
	cfg := "global:\n  step: 1x\nsources:\n  - {name: prom, type: prometheus, url: 'http://127.0.0.1:9090'}\nsignals:\n  - {name: cpu, source: promx, query: 'rate(x[5m]'}\n  - {name: mem, query: up, limit: 100, limit_query: up}\nremote_write:\n  - url: http://127.0.0.1:9090/api/v1/write\n    queue_config: {max_shard: 2}\n  - {url: 'localhost:9090', remote_timeout: 0s}\n"
	if err := os.WriteFile(filepath.Join(dir, "augur.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := checkConfigOutput(t, dir, "--config.file=augur.yml")
	if err == nil {
		t.Errorf("augur check config exited 0 on an invalid file")
	}
	golden(t, "check-config-invalid.golden", out)
}
