package engine

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/augur-sre/augur/ingest"
)

const day = 24 * time.Hour

// demoAnchor is the frozen present of the engines the tests build.
var demoAnchor = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// newDemoEngine returns an engine, not yet run, on three days of the demo
// fleet frozen at demoAnchor, modelling the named signals; extra, if given,
// supplies its Store, AppendedUntil and Capacity.
func newDemoEngine(t testing.TB, signals string, extra ...Options) *Engine {
	t.Helper()
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Start: demoAnchor, History: 3 * day, Clock: func() time.Time { return demoAnchor }})
	var sigs []Signal
	for _, name := range strings.Fields(signals) {
		s := Signal{Name: name, SourceName: "demo", Source: demo, Query: name, Entity: "host", Limit: 100}
		if name == "connections" {
			s.Limit, s.LimitQuery = math.NaN(), "max_connections"
		}
		sigs = append(sigs, s)
	}
	opts := Options{Signals: sigs, Step: time.Minute, History: 3 * day, Horizon: time.Hour, Now: demo.Now, Tick: time.Hour, Incidents: demo}
	for _, x := range extra {
		opts.Store, opts.AppendedUntil, opts.Capacity = x.Store, x.AppendedUntil, x.Capacity
	}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// demoEngine runs a real engine on three days of the demo fleet, frozen at
// its anchor, and returns it after its first evaluation.
func demoEngine(t *testing.T) *Engine {
	t.Helper()
	e := newDemoEngine(t, "cpu memory connections", Options{Capacity: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	for !e.Ready() {
		time.Sleep(20 * time.Millisecond)
	}
	return e
}

// TestBatchRampIsNoFailure steps a live engine on two weeks of the demo
// fleet, uncalibrated (no incidents known), minute by minute through the
// start of batch-1's nightly batch, whose cpu ramps from about 25 % to
// 85-92 % in ten minutes every night: a pattern the daily profile
// expects, which must not read as growth towards the limit. The bound is
// TestServeDemo's for the busy but healthy host.
func TestBatchRampIsNoFailure(t *testing.T) {
	now := time.Date(2026, 11, 24, 0, 50, 0, 0, time.UTC)
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Start: now, History: 14 * day, Clock: func() time.Time { return now }})
	var sigs []Signal
	for _, name := range strings.Fields("cpu memory connections") {
		s := Signal{Name: name, SourceName: "demo", Source: demo, Query: name, Entity: "host", Limit: 100}
		if name == "connections" {
			s.Limit, s.LimitQuery = math.NaN(), "max_connections"
		}
		sigs = append(sigs, s)
	}
	e, err := New(Options{Signals: sigs, Step: time.Minute, History: 14 * day, Horizon: time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	worst, at := 0.0, now
	for end := now.Add(40 * time.Minute); !now.After(end); now = now.Add(time.Minute) {
		e.Evaluate(context.Background())
		for _, r := range e.State().Entities {
			if r.Entity == "batch-1" && r.FailureProbability > worst {
				worst, at = r.FailureProbability, now
			}
		}
	}
	t.Logf("batch-1: highest failure probability %.3f at %s", worst, at.Format("15:04"))
	if worst >= 0.2 {
		t.Errorf("batch-1's nightly ramp: failure probability %.3f at %s, want < 0.2", worst, at.Format("15:04"))
	}
}
