package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/augur-sre/augur/ingest"
)

// faultySource wraps a real source and fails every query while down is
// set: fault injection for an outage, which the demo cannot produce.
type faultySource struct {
	ingest.Source
	down atomic.Bool
}

func (f *faultySource) Range(ctx context.Context, q string, start, end time.Time, step time.Duration) ([]ingest.Series, error) {
	if f.down.Load() {
		return nil, errors.New("connection refused (injected)")
	}
	return f.Source.Range(ctx, q, start, end, step)
}

// TestSourceOutage checks that while a source is down the engine keeps
// serving its last models, marks the signal stale, and once the source is
// back fetches what it missed, leaving no gap.
func TestSourceOutage(t *testing.T) {
	now := demoAnchor
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Start: demoAnchor, History: 3 * day, Clock: func() time.Time { return now }})
	src := &faultySource{Source: demo}
	e, err := New(Options{
		Signals: []Signal{{Name: "memory", SourceName: "demo", Source: src, Query: "memory", Entity: "host", Limit: 100}},
		Step:    time.Minute, History: 3 * day, Horizon: time.Hour, Now: demo.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	ctx := context.Background()
	e.Evaluate(ctx)

	src.down.Store(true)
	for range 30 {
		now = now.Add(time.Minute)
		e.Evaluate(ctx)
	}
	tg := e.Targets()[0]
	if tg.Health != HealthSourceDown || tg.LastError == "" {
		t.Errorf("during the outage: health %q, error %q; want source_down with the error", tg.Health, tg.LastError)
	}
	if risks, err := e.Failures(0); err != nil || len(risks) != 8 {
		t.Errorf("during the outage: %d entities, %v; want the last models served", len(risks), err)
	}

	src.down.Store(false)
	now = now.Add(time.Minute)
	e.Evaluate(ctx)
	if tg := e.Targets()[0]; tg.Health != HealthUp {
		t.Errorf("after the outage: health %q", tg.Health)
	}
	for _, h := range e.history(nil, demoAnchor.Add(-time.Hour), now) {
		if n := len(h.Points); n != 92 {
			t.Errorf("%v: %d points in the 92 minutes around the outage, want every one", h.Labels, n)
		}
		for i := 1; i < len(h.Points); i++ {
			if h.Points[i].T-h.Points[i-1].T != time.Minute.Milliseconds() {
				t.Fatalf("%v: gap between %d and %d", h.Labels, h.Points[i-1].T, h.Points[i].T)
			}
		}
	}
}
