package engine

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/augur-sre/augur/history"
	"github.com/augur-sre/augur/ingest"
)

// shareOwner owns every entity but those dropped; set changes that and
// notifies, as cluster.Ring does when the members change.
type shareOwner struct {
	mu      sync.Mutex
	dropped []string
	changed chan struct{}
}

func (o *shareOwner) Owns(entity string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return !slices.Contains(o.dropped, entity)
}

func (o *shareOwner) Changed() <-chan struct{} { return o.changed }

func (o *shareOwner) set(dropped ...string) {
	o.mu.Lock()
	o.dropped = dropped
	o.mu.Unlock()
	o.changed <- struct{}{}
}

// modelled returns the entities with a failure probability and whether
// every series has a model.
func modelled(t *testing.T, e *Engine) ([]string, bool) {
	t.Helper()
	risks, err := e.Failures(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var es []string
	for _, r := range risks {
		es = append(es, r.Entity)
	}
	slices.Sort(es)
	fitted := true
	for _, sig := range e.Targets() {
		for _, s := range sig.Series {
			fitted = fitted && s.Model != "" && !s.WarmingUp
		}
	}
	return es, fitted
}

// TestOwnershipChange gives an engine part of the demo fleet, then all of
// it, then less: it models exactly what it owns, and an entity it gains
// is fitted on its whole history without waiting for the refit interval.
func TestOwnershipChange(t *testing.T) {
	o := &shareOwner{dropped: []string{"db-1", "web-1"}, changed: make(chan struct{})}
	// As serve opens it: a history's worth of out-of-order window, which
	// the history of a gained entity is appended in.
	db, err := history.Open(t.TempDir(), history.Options{OutOfOrderWindow: 3 * day})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := newDemoEngine(t, "cpu memory connections", Options{Store: db})
	e.opts.Owner = o
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for !e.Ready() {
		time.Sleep(20 * time.Millisecond)
	}
	all := []string{"api-1", "api-2", "batch-1", "cache-1", "db-1", "db-2", "web-1", "web-2"}
	wait := func(want []string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			got, fitted := modelled(t, e)
			if slices.Equal(got, want) && fitted {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("models %v (all fitted: %v), want %v", got, fitted, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wait(slices.DeleteFunc(slices.Clone(all), func(h string) bool { return h == "db-1" || h == "web-1" }))
	o.set()
	wait(all)
	// db-1 came back with its history: fitted on as many points as db-2,
	// which never left, not on the recent window a series keeps.
	for _, sig := range e.Targets() {
		points := map[string]int{}
		for _, s := range sig.Series {
			points[s.Labels["host"]] = s.Points
		}
		if points["db-1"] != points["db-2"] {
			t.Errorf("%s: db-1 fitted on %d points, db-2 on %d", sig.Signal, points["db-1"], points["db-2"])
		}
	}
	// An entity lost and gained again is fitted again.
	o.set("api-1")
	wait(slices.DeleteFunc(slices.Clone(all), func(h string) bool { return h == "api-1" }))
	// augur_series counts what is left at once, no fit needed.
	if got := testutil.ToFloat64(e.metrics.series.WithLabelValues("cpu")); got != 7 {
		t.Errorf("augur_series{signal=\"cpu\"} %g with api-1 lost, want 7", got)
	}
	o.set()
	wait(all)
}

// TestFetchAsksTheOwner moves the share without notifying, as a ring's
// does between a change of members and the engine's reown: the series of
// the entity lost stop being fed at the next fetch, the one gained is
// modelled from it, whatever the fetch remembers of their source series.
func TestFetchAsksTheOwner(t *testing.T) {
	now := demoAnchor
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Start: demoAnchor, History: 3 * day, Clock: func() time.Time { return now }})
	o := &shareOwner{dropped: []string{"db-1"}}
	e, err := New(Options{
		Signals: []Signal{{Name: "cpu", SourceName: "demo", Source: demo, Query: "cpu", Entity: "host", Limit: 100}},
		Step:    time.Minute, History: 3 * day, Horizon: time.Hour, Now: demo.Now, Owner: o,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	lastT := func() map[string]int64 {
		e.mu.RLock()
		defer e.mu.RUnlock()
		m := map[string]int64{}
		for _, s := range e.selectSeries(nil) {
			m[s.entity] = s.lastT
		}
		return m
	}
	e.Evaluate(context.Background())
	if got, ok := lastT()["db-1"]; ok {
		t.Fatalf("db-1, another replica's, modelled up to %d", got)
	}
	o.mu.Lock()
	o.dropped = []string{"web-1"}
	o.mu.Unlock()
	before := lastT()
	now = now.Add(time.Minute)
	e.Evaluate(context.Background())
	end := e.alignDown(now)
	got := lastT()
	if got["web-1"] != before["web-1"] {
		t.Errorf("web-1, lost, fed from %d to %d", before["web-1"], got["web-1"])
	}
	if got["db-1"] != end {
		t.Errorf("db-1, gained, modelled up to %d, want %d (%v)", got["db-1"], end, got)
	}
	if got["api-1"] != end {
		t.Errorf("api-1 fed up to %d, want %d", got["api-1"], end)
	}
}
