package engine

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/augur-sre/augur/notifier"
	"github.com/augur-sre/augur/store"
)

func TestAlertStateMachine(t *testing.T) {
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	at := func(m float64) time.Time { return t0.Add(time.Duration(m * float64(time.Minute))) }
	warn := map[string]string{"alertname": AlertFailurePredicted, "host": "cache-1", "severity": "warning"}
	crit := map[string]string{"alertname": AlertFailurePredicted, "host": "cache-1", "severity": "critical"}
	other := map[string]string{"alertname": AlertAnomalyDetected, "host": "web-1", "signal": "cpu", "severity": "info"}
	all := map[string]bool{AlertFailurePredicted: true, AlertAnomalyDetected: true, AlertCapacityExhaustion: true}
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
			{at: 0, active: []map[string]string{warn}, state: StatePending},
			{at: 4, active: []map[string]string{warn}, state: StatePending},
			{at: 5, active: []map[string]string{warn}, want: []sent{{"warning", at(0), at(9)}}, state: StateFiring},
			{at: 5.5, active: []map[string]string{warn}, state: StateFiring},
			{at: 6, active: []map[string]string{warn}, want: []sent{{"warning", at(0), at(10)}}, state: StateFiring},
			{at: 7, want: []sent{{"warning", at(0), at(7)}}, state: StateResolved},
			{at: 7.5, state: StateResolved},
			{at: 8, want: []sent{{"warning", at(0), at(7)}}, state: StateResolved},
			{at: 22, want: []sent{{"warning", at(0), at(7)}}, state: StateResolved},
			{at: 22.5, state: ""},
		}},
		{"pending that clears is never sent", []step{
			{at: 0, active: []map[string]string{warn}, state: StatePending},
			{at: 3, state: ""},
			{at: 4, active: []map[string]string{warn}, state: StatePending},
			{at: 8.9, active: []map[string]string{warn}, state: StatePending},
		}},
		{"a rule that cannot be evaluated keeps its alerts", []step{
			{at: 0, active: []map[string]string{warn}, state: StatePending},
			{at: 5, active: []map[string]string{warn}, want: []sent{{"warning", at(0), at(9)}}, state: StateFiring},
			{at: 6, eval: map[string]bool{AlertAnomalyDetected: true}, want: []sent{{"warning", at(0), at(10)}}, state: StateFiring},
		}},
		{"rising severity resolves the old label set", []step{
			{at: 0, active: []map[string]string{warn}, state: StatePending},
			{at: 5, active: []map[string]string{warn}, want: []sent{{"warning", at(0), at(9)}}, state: StateFiring},
			{at: 5.5, active: []map[string]string{crit}, want: []sent{{"warning", at(0), at(5.5)}, {"critical", at(0), at(9.5)}}, state: StateFiring},
			{at: 6, active: []map[string]string{crit}, state: StateFiring},
		}},
		{"resolved then active again starts over", []step{
			{at: 0, active: []map[string]string{warn}, state: StatePending},
			{at: 5, active: []map[string]string{warn}, want: []sent{{"warning", at(0), at(9)}}, state: StateFiring},
			{at: 6, want: []sent{{"warning", at(0), at(6)}}, state: StateResolved},
			{at: 7, active: []map[string]string{warn, other}, state: StatePending},
			{at: 12, active: []map[string]string{warn, other}, want: []sent{{"info", at(7), at(16)}, {"warning", at(7), at(16)}}, state: StateFiring},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &AlertRules{opts: AlertOptions{For: 5 * time.Minute, Interval: time.Minute, ResendDelay: time.Minute, ResolvedRetention: 15 * time.Minute, ExternalURL: "http://augur"}, active: map[string]*Alert{}}
			for _, s := range tc.steps {
				cands := map[string]candidate{}
				for _, l := range s.active {
					cands[alertKey(l)] = candidate{labels: l, annotations: map[string]string{"summary": "x"}, value: 0.9, expr: "augur_failure_probability"}
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
					state = a.State
				}
				if state != s.state {
					t.Errorf("t=%vm: state %q, want %q", s.at, state, s.state)
				}
			}
		})
	}
}

// demoEngine runs a real engine on three days of the demo fleet, frozen at
// its anchor.
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

func TestAlertsOnDemo(t *testing.T) {
	e := demoEngine(t)
	st, err := store.Open(t.TempDir(), store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var sent []notifier.Alert
	opts := AlertOptions{For: 5 * time.Minute, ExternalURL: "http://augur.example:9477/", State: st, Notify: func(a ...notifier.Alert) { sent = append(sent, a...) }}
	r, err := NewAlertRules(e, opts)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	if got := r.Eval(context.Background(), t0); len(got) != 0 {
		t.Fatalf("sent %v before the for duration", got)
	}
	got := r.Eval(context.Background(), t0.Add(5*time.Minute))
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
	r2, err := NewAlertRules(e, opts)
	if err != nil {
		t.Fatal(err)
	}
	again := r2.Eval(context.Background(), t0.Add(6*time.Minute))
	found := false
	for _, a := range again {
		if a.Labels["alertname"] == AlertFailurePredicted && a.Labels["host"] == "cache-1" {
			found = a.StartsAt.Equal(t0)
		}
	}
	if !found {
		t.Errorf("after restoring the state, FailurePredicted for cache-1 was not resent with its original start: %v", again)
	}
}
