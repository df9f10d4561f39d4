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
