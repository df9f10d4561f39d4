package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/augur-sre/augur/ingest"
)

// steppedDemo is the demo fleet with three days (or history) of history
// before demoAnchor, its clock at now, in Unix ms, which a test moves.
func steppedDemo(now *atomic.Int64, history ...time.Duration) *ingest.Demo {
	now.Store(demoAnchor.UnixMilli())
	h := 3 * day
	for _, x := range history {
		h = x
	}
	return ingest.NewDemo(ingest.DemoOptions{Seed: 1, Start: demoAnchor, History: h, Clock: func() time.Time { return time.UnixMilli(now.Load()) }})
}

// steppedDemoEngine is an engine on the cpu and memory of the demo, with a
// store of its own.
func steppedDemoEngine(t testing.TB, demo *ingest.Demo, history time.Duration) *Engine {
	t.Helper()
	var sigs []Signal
	for _, name := range []string{"cpu", "memory"} {
		sigs = append(sigs, Signal{Name: name, SourceName: "demo", Source: demo, Query: name, Entity: "host", Limit: 100})
	}
	e, err := New(Options{Signals: sigs, Step: time.Minute, History: history, Horizon: time.Hour, Now: demo.Now, Tick: time.Hour, Incidents: demo})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestModelsFileResumes restarts an engine from its models file, as serve
// does after a restart on the same storage: the new engine fits nothing,
// and from the next evaluation on serves what the old one serves, point
// for point: the same forecasts, bands and anomaly scores.
func TestModelsFileResumes(t *testing.T) {
	var now atomic.Int64
	demo := steppedDemo(&now)
	ctx := context.Background()
	a := steppedDemoEngine(t, demo, 3*day)
	a.Evaluate(ctx)
	for range 20 {
		now.Add(time.Minute.Milliseconds())
		a.Evaluate(ctx)
	}
	var file bytes.Buffer
	n, err := a.WriteModels(&file)
	if err != nil || n != 16 {
		t.Fatalf("WriteModels: %d series, %v; want 16", n, err)
	}
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Down for five minutes.
	for range 5 {
		now.Add(time.Minute.Milliseconds())
		a.Evaluate(ctx)
	}

	b := steppedDemoEngine(t, demo, 3*day)
	if _, err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if m, err := b.ReadModels(bytes.NewReader(file.Bytes())); err != nil || m != n {
		t.Fatalf("ReadModels: %d series, %v; want %d", m, err, n)
	}
	b.Evaluate(ctx)
	if !b.Ready() {
		t.Fatal("the restored engine is not ready after its first evaluation")
	}
	for i, s := range b.byKey {
		if (s.daily == s.base) != (a.byKey[i].daily == a.byKey[i].base) {
			t.Errorf("%s: the daily baseline is the baseline: %v before the restart, %v after", s.key, a.byKey[i].daily == a.byKey[i].base, s.daily == s.base)
		}
		// The age of the baselines, which decides the next full refit.
		if s.fullUpTo != a.byKey[i].fullUpTo || s.fullUpTo == 0 {
			t.Errorf("%s: last full refit up to %d after the restart, want %d", s.key, s.fullUpTo, a.byKey[i].fullUpTo)
		}
	}
	ta, tb := a.Targets(), b.Targets()
	for i := range ta {
		for j, sa := range ta[i].Series {
			sb := tb[i].Series[j]
			if sb.LastFit == nil || !sb.LastFit.Equal(*sa.LastFit) || sb.Model != sa.Model || sb.Points != sa.Points {
				t.Errorf("%v: fitted %v (%s on %d points) after the restart, want %v (%s on %d): refitted?",
					sa.Labels, sb.LastFit, sb.Model, sb.Points, sa.LastFit, sa.Model, sa.Points)
			}
		}
	}
	for k := range 3 {
		if k > 0 {
			now.Add(time.Minute.Milliseconds())
			a.Evaluate(ctx)
			b.Evaluate(ctx)
		}
		sa, sb := a.State().Series, b.State().Series
		if len(sa) != len(sb) {
			t.Fatalf("%d series before the restart, %d after", len(sa), len(sb))
		}
		for i := range sa {
			x, y := sa[i], sb[i]
			if x.T != y.T || !same(x.Value, y.Value) || !same(x.PointScore, y.PointScore) || !same(x.AnomalyScore, y.AnomalyScore) || !reflect.DeepEqual(x.Band, y.Band) {
				t.Errorf("minute %d, %v: T %d value %v score %v/%v band %v after the restart, want %d %v %v/%v %v",
					k, x.Labels, y.T, y.Value, y.PointScore, y.AnomalyScore, y.Band, x.T, x.Value, x.PointScore, x.AnomalyScore, x.Band)
			}
		}
		fa, err := a.Forecast(nil, 2*time.Hour, 0, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		fb, err := b.Forecast(nil, 2*time.Hour, 0, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fa, fb) {
			t.Errorf("minute %d: the forecasts differ after the restart", k)
		}
	}
}

func same(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }

// TestModelsFileRefusals checks a models file that does not fit the engine
// or is damaged is refused whole, with an error that says why, and leaves
// the engine to fit every series.
func TestModelsFileRefusals(t *testing.T) {
	var now atomic.Int64
	demo := steppedDemo(&now)
	a := steppedDemoEngine(t, demo, 3*day)
	a.Evaluate(context.Background())
	var file bytes.Buffer
	if _, err := a.WriteModels(&file); err != nil {
		t.Fatal(err)
	}
	good := file.Bytes()
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "bad header"},
		{"foreign", []byte("PK\x03\x04 a zip file"), "bad header"},
		{"cut short", good[:len(good)-1], "unexpected EOF"},
		{"cut mid-record", good[:len(good)/2], "unexpected EOF"},
		{"damaged", flipped, "checksum"},
		{"other version", append([]byte(modelsMagic), 9, 0, 0), "version 9"},
		// A file from before the full refits' age was kept (fullUpTo).
		{"version 1", append([]byte(modelsMagic), 1, 0, 0), "version 1, want 2"},
		{"other step", append(binary.AppendUvarint(append([]byte(modelsMagic), modelsVersion), 300_000), 0), "step of 5m0s and a horizon of 0 steps, not 1m0s and 60"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := steppedDemoEngine(t, demo, 3*day)
			n, err := b.ReadModels(bytes.NewReader(c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ReadModels: %d, %v; want an error with %q", n, err, c.want)
			}
			if b.restoredModels != nil {
				t.Error("a refused models file was half applied")
			}
		})
	}
}

// BenchmarkModelsFile writes and reads the models file of the demo
// fleet's 16 cpu and memory series fitted on a fortnight at one minute:
// bytes and time per series, what a restart at 100k series costs instead
// of a refit of every series.
func BenchmarkModelsFile(b *testing.B) {
	var now atomic.Int64
	e := steppedDemoEngine(b, steppedDemo(&now, 14*day), 14*day)
	e.Evaluate(context.Background())
	var file bytes.Buffer
	n, err := e.WriteModels(&file)
	if err != nil || n == 0 {
		b.Fatalf("WriteModels: %d, %v", n, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		file.Reset()
		if _, err := e.WriteModels(&file); err != nil {
			b.Fatal(err)
		}
		if _, err := e.ReadModels(bytes.NewReader(file.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(file.Len())/float64(n), "bytes/series")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/series")
}
