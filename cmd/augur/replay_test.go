package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/augur-sre/augur/internal/testservers"
)

func TestReplayStart(t *testing.T) {
	end := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name      string
		span      time.Duration
		dataSince time.Time
		start     time.Time
		ok        bool
	}{
		{"data long before the span", 5 * day, end.Add(-14 * day), end.Add(-5 * day), true},
		{"exactly the fit before the span", 5 * day, end.Add(-7 * day), end.Add(-5 * day), true},
		{"data starting inside the span", 12 * day, end.Add(-3 * day), end.Add(-day), true},
		{"less data than the fit needs", 12 * day, end.Add(-36 * time.Hour), end.Add(12 * time.Hour), false},
		{"no data known", 5 * day, time.Time{}, end.Add(-5 * day), true},
	} {
		start, ok := replayStart(end, c.span, c.dataSince)
		if !start.Equal(c.start) || ok != c.ok {
			t.Errorf("%s: replayStart = %v, %v; want %v, %v", c.name, start, ok, c.start, c.ok)
		}
	}
}

const day = 24 * time.Hour

// TestNoReplayWithoutIncidents serves three days of three hosts from a real
// Prometheus with no incidents configured: the calibration replay, which
// could learn nothing, is skipped with one line saying why.
func TestNoReplayWithoutIncidents(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Prometheus and augur")
	}
	t0 := time.Now().Truncate(time.Minute)
	rng := rand.New(rand.NewPCG(14, 2))
	var fleet []testservers.Series
	for i := 1; i <= 3; i++ {
		s := testservers.Series{Name: "node_memory_used_percent", Labels: map[string]string{"instance": fmt.Sprintf("host-%d", i), "job": "node"}}
		for tm := t0.Add(-3 * day); !tm.After(t0.Add(30 * time.Minute)); tm = tm.Add(time.Minute) {
			s.T = append(s.T, tm.UnixMilli())
			s.V = append(s.V, 40+5*float64(i)+8*math.Sin(2*math.Pi*tm.Sub(t0).Hours()/24)+rng.NormFloat64())
		}
		fleet = append(fleet, s)
	}
	dir := t.TempDir()
	testservers.BackfillSeries(t, fleet, dir)
	prom := testservers.StartPrometheus(t, testservers.PrometheusOptions{DataDir: dir})
	cfg := filepath.Join(t.TempDir(), "augur.yml")
	// Four days of history: the default replay span of two days starts
	// before the data does.
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `global: {step: 1m, history: 4d, evaluation_interval: 5s, horizon: 1h}
sources: [{name: prom, type: prometheus, url: %s}]
signals: [{name: memory, query: node_memory_used_percent, entity: instance, limit: 100}]
`, prom.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	base, logPath := startAugurLog(t, "--config.file="+cfg)
	waitReady(t, base, 2*time.Minute)
	read := func() string {
		b, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	eventually(t, "the replay's decision logged", time.Minute, func() bool {
		l := read()
		return strings.Contains(l, "no calibration replay") || strings.Contains(l, "replaying the past")
	})
	time.Sleep(10 * time.Second) // a few evaluations more
	log := read()
	if n := strings.Count(log, "no calibration replay: too few incidents to learn from"); n != 1 || strings.Contains(log, "replaying the past") {
		t.Errorf("with no incidents, want one line skipping the replay, got %d and:\n%s", n, log)
	}
}
