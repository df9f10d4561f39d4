package engine

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/model"
)

func TestReadiness(t *testing.T) {
	sig := func(name, source string, h Health) SignalTarget {
		return SignalTarget{Signal: name, Source: source, Health: h, LastError: "connection refused"}
	}
	f := func(st State, want string) {
		t.Helper()
		err := st.Readiness()
		switch {
		case want == "" && err != nil:
			t.Errorf("%+v: not ready (%v), want ready", st.Signals, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%+v: %v, want %q", st.Signals, err, want)
		}
	}
	f(State{}, "models are being fitted")
	f(State{Ready: true, Signals: []SignalTarget{sig("cpu", "a", HealthUp), sig("mem", "a", HealthUnknown)}}, `signal "mem" has not been fetched yet`)
	// A signal with no data has a reported problem: it does not hold up the rest.
	f(State{Ready: true, Signals: []SignalTarget{sig("cpu", "a", HealthNoData)}}, "")
	f(State{Ready: true, Signals: []SignalTarget{sig("cpu", "a", HealthSourceDown), sig("mem", "b", HealthNoLimit)}}, "")
	f(State{Ready: true, Signals: []SignalTarget{sig("cpu", "a", HealthSourceDown), sig("mem", "a", HealthSourceDown), sig("io", "b", HealthSourceDown)}},
		"every source is down: a: connection refused; b: connection refused")
}

// TestCheckSignal reads the demo fleet's queries as the engine does: the
// entity label present or not, limits from a limit_query, a query the
// source refuses.
func TestCheckSignal(t *testing.T) {
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Start: demoAnchor, History: day, Clock: func() time.Time { return demoAnchor }})
	end := demoAnchor
	f := func(sig Signal, series, entities int, want ...string) {
		t.Helper()
		sig.Name, sig.SourceName, sig.Source = "s", "demo", demo
		c := CheckSignal(context.Background(), sig, end.Add(-15*time.Minute), end, time.Minute)
		var got []string
		for _, p := range c.Problems {
			got = append(got, string(p.Health)+": "+p.Message)
		}
		if c.Series != series || c.Entities != entities || len(got) != len(want) {
			t.Fatalf("%+v: %d series, %d entities, problems %q; want %d, %d, %q", sig, c.Series, c.Entities, got, series, entities, want)
		}
		for i := range want {
			if !strings.HasPrefix(got[i], want[i]) {
				t.Errorf("%+v: problem %q, want %q", sig, got[i], want[i])
			}
		}
	}
	f(Signal{Query: "cpu", Entity: "host", Limit: 100}, 8, 8)
	f(Signal{Query: "connections", Entity: "host", LimitQuery: "max_connections"}, 8, 8)
	f(Signal{Query: "cpu", Entity: "instance", Limit: 100}, 8, 0,
		`no_entity_label: 8 of 8 series of the query lack the entity label "instance" and are left out (e.g. {host="web-1", role="web"})`)
	f(Signal{Query: "disk", Entity: "host"}, 0, 0, `source_down: cannot fetch from source "demo": `)
}

// hidingSource wraps a real source and leaves out the series of one host
// while hide is set: a host that joins the fleet later.
type hidingSource struct {
	ingest.Source
	host string
	hide atomic.Bool
}

func (h *hidingSource) Range(ctx context.Context, q string, start, end time.Time, step time.Duration) ([]ingest.Series, error) {
	ss, err := h.Source.Range(ctx, q, start, end, step)
	if h.hide.Load() {
		ss = slices.DeleteFunc(ss, func(s ingest.Series) bool { return s.Labels["host"] == h.host })
	}
	return ss, err
}

// TestNewSeriesFittedAtOnce checks that a host that joins after the first
// fit is reported warming up with its points, and gets its models as soon
// as it has the points a model needs, not at the next refit an hour later.
func TestNewSeriesFittedAtOnce(t *testing.T) {
	now := demoAnchor
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Start: demoAnchor, History: 2 * day, Clock: func() time.Time { return now }})
	src := &hidingSource{Source: demo, host: "web-1"}
	src.hide.Store(true)
	e, err := New(Options{
		Signals: []Signal{{Name: "cpu", SourceName: "demo", Source: src, Query: "cpu", Entity: "host", Limit: 100}},
		Step:    time.Minute, History: 2 * day, Horizon: time.Hour, RefitInterval: time.Hour, Now: demo.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	ctx := context.Background()
	e.Evaluate(ctx)
	src.hide.Store(false)
	web1 := func() (string, []Problem) {
		tg := e.Targets()[0]
		for _, s := range tg.Series {
			if s.Labels["host"] == "web-1" {
				return s.Model, tg.Problems
			}
		}
		return "", tg.Problems
	}
	for i := 1; i <= 12; i++ {
		now = now.Add(time.Minute)
		e.Evaluate(ctx)
		m, ps := web1()
		switch {
		case i < 10 && (m != "none" || len(ps) != 1 || ps[0].Health != HealthWarmingUp || ps[0].Points[0] != i):
			t.Errorf("%d minutes after web-1 joined: model %q, problems %+v; want it warming up with %d points", i, m, ps, i)
		case i >= 10 && (m == "none" || len(ps) != 0):
			t.Errorf("%d minutes after web-1 joined: model %q, problems %+v; want it fitted", i, m, ps)
		}
	}
}

// TestWarmingUpMessage checks that the warming-up problem tells series
// with too few points from those that have them and await their first
// fit: a large fleet's first start shows the second kind for minutes.
func TestWarmingUpMessage(t *testing.T) {
	withPoints := func(entity string, n int, fitErr error) *series {
		s := &series{entity: entity, win: newWindow(300, 60_000), fitErr: fitErr}
		for i := range n {
			s.win.push(int64(i)*60_000, 1, 0)
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		series []*series
		want   string
	}{
		{"none", nil, ""},
		{"short", []*series{withPoints("b", 4, nil), withPoints("a", 0, nil)},
			"2 series have no model yet: 2 have too few points for a model yet (it needs 10): a (0 points), b (4 points); each is fitted once it has them"},
		{"awaiting", []*series{withPoints("c", 256, nil)},
			"1 series have no model yet: 1 have the points and await their first fit: c (256 points)"},
		{"both", []*series{withPoints("c", 256, nil), withPoints("a", 3, nil), withPoints("b", 20, model.ErrShortHistory)},
			"3 series have no model yet: 2 have too few points for a model yet (it needs 10): a (3 points), b (20 points); each is fitted once it has them; 1 have the points and await their first fit: c (256 points)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sig := &signalState{series: map[string]*series{}}
			for _, s := range tc.series {
				sig.series[s.entity] = s
			}
			p := (&Engine{}).warmingUp(sig)
			switch {
			case tc.want == "" && p != nil:
				t.Fatalf("problem %+v, want none", p)
			case tc.want == "":
				return
			case p == nil:
				t.Fatalf("no problem, want %q", tc.want)
			}
			if p.Message != tc.want || p.Count != len(tc.series) || len(p.Entities) != len(tc.series) || !slices.IsSorted(p.Entities) {
				t.Errorf("got %d %v %q\nwant %d series sorted, %q", p.Count, p.Entities, p.Message, len(tc.series), tc.want)
			}
		})
	}
}
