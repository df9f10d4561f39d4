package rules

import (
	"context"
	"math"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/notifier"
	"github.com/augur-sre/augur/store"
)

func TestAlertStateMachine(t *testing.T) {
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	at := func(m float64) time.Time { return t0.Add(time.Duration(m * float64(time.Minute))) }
	warn := map[string]string{"alertname": FailurePredictedName, "host": "cache-1", "severity": "warning"}
	crit := map[string]string{"alertname": FailurePredictedName, "host": "cache-1", "severity": "critical"}
	other := map[string]string{"alertname": AnomalyDetectedName, "host": "web-1", "signal": "cpu", "severity": "info"}
	all := map[string]bool{FailurePredictedName: true, AnomalyDetectedName: true, CapacityExhaustionName: true}
	type sent struct {
		severity   string
		start, end time.Time
	}
	type step struct {
		at     float64
		active []map[string]string
		eval   map[string]bool // nil: every rule evaluated
		want   []sent          // notifications, in order
		state  string          // state of the cache-1 alert afterwards ("" = gone)
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"pending, firing, resends, resolved, retention", []step{
			{at: 0, active: []map[string]string{warn}, state: "pending"},
			{at: 4, active: []map[string]string{warn}, state: "pending"},
			{at: 5, active: []map[string]string{warn}, want: []sent{{"warning", at(0), at(9)}}, state: "firing"},
			{at: 5.5, active: []map[string]string{warn}, state: "firing"},
			{at: 6, active: []map[string]string{warn}, want: []sent{{"warning", at(0), at(10)}}, state: "firing"},
			{at: 7, want: []sent{{"warning", at(0), at(7)}}, state: "resolved"},
			{at: 7.5, state: "resolved"},
			{at: 8, want: []sent{{"warning", at(0), at(7)}}, state: "resolved"},
			{at: 22, want: []sent{{"warning", at(0), at(7)}}, state: "resolved"},
			{at: 22.5, state: ""},
		}},
		{"pending that clears is never sent", []step{
			{at: 0, active: []map[string]string{warn}, state: "pending"},
			{at: 3, state: ""},
			{at: 4, active: []map[string]string{warn}, state: "pending"},
			{at: 8.9, active: []map[string]string{warn}, state: "pending"},
		}},
		{"a rule that cannot be evaluated keeps its alerts", []step{
			{at: 0, active: []map[string]string{warn}, state: "pending"},
			{at: 5, active: []map[string]string{warn}, want: []sent{{"warning", at(0), at(9)}}, state: "firing"},
			{at: 6, eval: map[string]bool{AnomalyDetectedName: true}, want: []sent{{"warning", at(0), at(10)}}, state: "firing"},
		}},
		{"rising severity resolves the old label set", []step{
			{at: 0, active: []map[string]string{warn}, state: "pending"},
			{at: 5, active: []map[string]string{warn}, want: []sent{{"warning", at(0), at(9)}}, state: "firing"},
			{at: 5.5, active: []map[string]string{crit}, want: []sent{{"warning", at(0), at(5.5)}, {"critical", at(0), at(9.5)}}, state: "firing"},
			{at: 6, active: []map[string]string{crit}, state: "firing"},
		}},
		{"resolved then active again starts over", []step{
			{at: 0, active: []map[string]string{warn}, state: "pending"},
			{at: 5, active: []map[string]string{warn}, want: []sent{{"warning", at(0), at(9)}}, state: "firing"},
			{at: 6, want: []sent{{"warning", at(0), at(6)}}, state: "resolved"},
			{at: 7, active: []map[string]string{warn, other}, state: "pending"},
			{at: 12, active: []map[string]string{warn, other}, want: []sent{{"info", at(7), at(16)}, {"warning", at(7), at(16)}}, state: "firing"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Manager{opts: Options{For: 5 * time.Minute, Interval: time.Minute, ResendDelay: time.Minute, ResolvedRetention: 15 * time.Minute, ExternalURL: "http://augur"}, active: map[string]*Alert{}}
			for _, s := range tc.steps {
				cands := map[string]Active{}
				for _, l := range s.active {
					cands[alertKey(l)] = Active{Labels: l, Annotations: map[string]string{"summary": "x"}, Value: 0.9, Expr: "augur_failure_probability"}
				}
				eval := s.eval
				if eval == nil {
					eval = all
				}
				got := append(r.update(at(s.at), cands, eval), r.due(at(s.at))...)
				if len(got) != len(s.want) {
					t.Fatalf("t=%vm: sent %d alerts %+v, want %+v", s.at, len(got), got, s.want)
				}
				for i, w := range s.want {
					g := got[i]
					if g.Labels["severity"] != w.severity || !g.StartsAt.Equal(w.start) || !g.EndsAt.Equal(w.end) || g.GeneratorURL == "" {
						t.Errorf("t=%vm: sent %v %v–%v, want %s %v–%v", s.at, g.Labels, g.StartsAt, g.EndsAt, w.severity, w.start, w.end)
					}
				}
				state := ""
				if a := r.active[alertKey(warn)]; a != nil {
					state = a.State.String()
				}
				if state != s.state {
					t.Errorf("t=%vm: state %q, want %q", s.at, state, s.state)
				}
			}
		})
	}
}

var demoAnchor = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// demoEngine runs a real engine on three days of the demo fleet, frozen at
// its anchor, and returns it after its first evaluation.
func demoEngine(t *testing.T) *engine.Engine {
	t.Helper()
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Start: demoAnchor, History: 3 * 24 * time.Hour, Clock: func() time.Time { return demoAnchor }})
	var sigs []engine.Signal
	for _, name := range []string{"cpu", "memory", "connections"} {
		s := engine.Signal{Name: name, SourceName: "demo", Source: demo, Query: name, Entity: "host", Limit: 100}
		if name == "connections" {
			s.Limit, s.LimitQuery = math.NaN(), "max_connections"
		}
		sigs = append(sigs, s)
	}
	e, err := engine.New(engine.Options{Signals: sigs, Step: time.Minute, History: 3 * 24 * time.Hour, Horizon: time.Hour, Now: demo.Now, Tick: time.Hour, Incidents: demo, Capacity: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; e.Close() })
	for !e.Ready() {
		time.Sleep(20 * time.Millisecond)
	}
	return e
}
func TestAlertsOnDemo(t *testing.T) {
	e := demoEngine(t)
	st, err := store.Open(t.TempDir(), store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var sent []notifier.Alert
	opts := Options{For: 5 * time.Minute, ExternalURL: "http://augur.example:9477/", Store: st, Notify: func(a ...notifier.Alert) { sent = append(sent, a...) }}
	rules := []Rule{FailurePredicted{Threshold: 0.8}, CapacityExhaustion{Threshold: 0.8}, AnomalyDetected{MinScore: 0.5}}
	r, err := NewManager(e, rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	if got := r.Eval(context.Background(), e.State(), t0); len(got) != 0 {
		t.Fatalf("sent %v before the for duration", got)
	}
	got := r.Eval(context.Background(), e.State(), t0.Add(5*time.Minute))
	byName := map[string]notifier.Alert{}
	for _, a := range got {
		byName[a.Labels["alertname"]+"/"+a.Labels["host"]+"/"+a.Labels["signal"]] = a
	}
	fp, ok := byName["FailurePredicted/cache-1/"]
	if !ok {
		t.Fatalf("no FailurePredicted for the leaking cache-1 among %v", byName)
	}
	if fp.Labels["severity"] != "critical" || fp.Annotations["probability"] == "" || fp.Annotations["eta"] == "" || !strings.Contains(fp.Annotations["summary"], "cache-1") {
		t.Errorf("FailurePredicted %+v", fp)
	}
	if !fp.StartsAt.Equal(t0) || !fp.EndsAt.Equal(t0.Add(9*time.Minute)) {
		t.Errorf("FailurePredicted startsAt %v endsAt %v, want %v and 4 resend intervals after now", fp.StartsAt, fp.EndsAt, t0)
	}
	u, err := url.Parse(fp.GeneratorURL)
	if err != nil || u.Host != "augur.example:9477" || u.Path != "/api/v1/query" || u.Query().Get("query") != `augur_failure_probability{host="cache-1"}` {
		t.Errorf("generatorURL %q", fp.GeneratorURL)
	}
	if c, ok := byName["CapacityExhaustion/cache-1/memory"]; !ok || c.Annotations["eta"] == "beyond the horizon" {
		t.Errorf("no CapacityExhaustion for cache-1's memory with an eta among %v", byName)
	}
	if _, ok := byName["FailurePredicted/batch-1/"]; ok {
		t.Error("busy but healthy batch-1 alerted")
	}
	for k, a := range byName {
		if len(a.Labels) == 0 || a.Labels["severity"] == "" {
			t.Errorf("%s: bad labels %v", k, a.Labels)
		}
	}

	// A restart resumes the firing alerts without a new pending period.
	r2, err := NewManager(e, rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	again := r2.Eval(context.Background(), e.State(), t0.Add(6*time.Minute))
	found := false
	for _, a := range again {
		if a.Labels["alertname"] == FailurePredictedName && a.Labels["host"] == "cache-1" {
			found = a.StartsAt.Equal(t0)
		}
	}
	if !found {
		t.Errorf("after restoring the state, FailurePredicted for cache-1 was not resent with its original start: %v", again)
	}
}

// clockSource publishes a new State, a minute later on its clock, each
// time it is read: a demo running far faster than the wall clock.
type clockSource struct {
	mu sync.Mutex
	at time.Time
}

func (s *clockSource) State() *engine.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = s.at.Add(time.Minute)
	return &engine.State{At: s.at, Step: time.Minute, Horizon: time.Hour, Ready: true, Entities: []engine.EntityRisk{
		{Entity: "cache-1", EntityLabel: "host", FailureProbability: 0.95},
	}}
}

// TestRunOnStateClock: `for` is measured on the States' clock, so alerts
// fire on a demo running 60 000 times faster than the wall clock.
func TestRunOnStateClock(t *testing.T) {
	src := &clockSource{at: demoAnchor}
	sent := make(chan notifier.Alert, 100)
	m, err := NewManager(src, []Rule{FailurePredicted{Threshold: 0.8}}, Options{For: 10 * time.Minute, Poll: time.Millisecond,
		Notify: func(as ...notifier.Alert) {
			for _, a := range as {
				sent <- a
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	select {
	case a := <-sent:
		if a.Labels["host"] != "cache-1" || a.EndsAt.Sub(a.StartsAt) < 10*time.Minute {
			t.Errorf("sent %v from %v to %v", a.Labels, a.StartsAt, a.EndsAt)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no alert fired within 5 s of wall clock, i.e. `for` is measured on the wall clock")
	}
	rs := m.Rules()
	if len(rs) != 1 || rs[0].Name != FailurePredictedName || rs[0].Err != nil || len(rs[0].Alerts) != 1 || rs[0].Alerts[0].State != StateFiring {
		t.Errorf("rules %+v", rs)
	}
}

func TestAlertStateString(t *testing.T) {
	for _, s := range []AlertState{StatePending, StateFiring, StateResolved} {
		got, err := parseState(s.String())
		if err != nil || got != s {
			t.Errorf("parseState(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := parseState("inactive"); err == nil {
		t.Error("parseState accepted an unknown state")
	}
}
