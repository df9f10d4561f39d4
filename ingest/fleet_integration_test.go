package ingest_test

import (
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/internal/testservers"
)

// fleet is the history both integration suites load into their server.
var fleet = testservers.DefaultFleet()

// skipShort skips an integration test in -short mode only: CI runs them all,
// and a missing server binary fails them (see testservers.Binary).
func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against a real server: skipped in -short mode")
	}
}

// testLogger sends a source's logs (retries, warnings) to the test output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// want is what a source must return for the generated series gen keeps:
// one sample per multiple of step in [start, end], the written value where
// one was written and NaN where none was (gaps are not interpolated here).
func want(gen []testservers.Series, keep func(testservers.Series) bool, labels func(testservers.Series) map[string]string, start, end time.Time, step time.Duration) []ingest.Series {
	st := step.Milliseconds()
	first := (start.UnixMilli() + st - 1) / st * st
	last := end.UnixMilli() / st * st
	var out []ingest.Series
	for _, s := range gen {
		if !keep(s) {
			continue
		}
		byT := make(map[int64]float64, len(s.T))
		for i, t := range s.T {
			byT[t] = s.V[i]
		}
		w := ingest.Series{Labels: labels(s)}
		for t := first; t <= last; t += st {
			v, ok := byT[t]
			if !ok {
				v = math.NaN()
			}
			w.Samples = append(w.Samples, ingest.Sample{T: t, V: v})
		}
		out = append(out, w)
	}
	return out
}

// sumByInstance adds up the series named name per instance, as
// `sum by (instance)` does, with timestamps moved by shift.
func sumByInstance(gen []testservers.Series, name string, shift time.Duration) []testservers.Series {
	var sums []testservers.Series
	for i := range fleet.Instances {
		sum := testservers.Series{Labels: map[string]string{"instance": testservers.Instance(i)}}
		for _, g := range gen {
			if g.Name != name || g.Labels["instance"] != testservers.Instance(i) {
				continue
			}
			if sum.T == nil {
				for _, t := range g.T {
					sum.T = append(sum.T, t+shift.Milliseconds())
				}
				sum.V = make([]float64, len(g.V))
			}
			for j := range g.V {
				sum.V[j] += g.V[j]
			}
		}
		sums = append(sums, sum)
	}
	return sums
}

func all(testservers.Series) bool { return true }

func ownLabels(s testservers.Series) map[string]string { return s.Labels }

func named(name string) func(testservers.Series) bool {
	return func(s testservers.Series) bool { return s.Name == name }
}

func labelKey(l map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(l)) {
		fmt.Fprintf(&b, "%s=%q,", k, l[k])
	}
	return b.String()
}

// sameFloat is bit-exact equality, except that all NaNs are equal.
func sameFloat(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || (math.IsNaN(a) && math.IsNaN(b))
}

// checkSeries fails t unless got holds exactly the series and samples of
// wantSeries, in any order.
func checkSeries(t testing.TB, got, wantSeries []ingest.Series) {
	t.Helper()
	if len(wantSeries) == 0 {
		t.Fatal("test bug: no series expected")
	}
	byKey := map[string]ingest.Series{}
	for _, s := range got {
		k := labelKey(s.Labels)
		if _, dup := byKey[k]; dup {
			t.Errorf("series %s returned twice", k)
		}
		byKey[k] = s
	}
	for _, w := range wantSeries {
		k := labelKey(w.Labels)
		g, ok := byKey[k]
		if !ok {
			t.Errorf("missing series %s; got %d series, e.g. %s", k, len(got), firstKey(got))
			continue
		}
		delete(byKey, k)
		if len(g.Samples) != len(w.Samples) {
			t.Errorf("series %s: %d samples, want %d", k, len(g.Samples), len(w.Samples))
			continue
		}
		for i := range w.Samples {
			if g.Samples[i].T != w.Samples[i].T || !sameFloat(g.Samples[i].V, w.Samples[i].V) {
				t.Errorf("series %s: sample %d is %v@%d, want %v@%d", k, i, g.Samples[i].V, g.Samples[i].T, w.Samples[i].V, w.Samples[i].T)
				break
			}
		}
	}
	for k := range byKey {
		t.Errorf("unexpected series %s", k)
	}
}

func firstKey(ss []ingest.Series) string {
	if len(ss) == 0 {
		return "none"
	}
	return labelKey(ss[0].Labels)
}

func countNaN(s []ingest.Sample) int {
	n := 0
	for _, x := range s {
		if math.IsNaN(x.V) {
			n++
		}
	}
	return n
}
