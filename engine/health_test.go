package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/augur-sre/augur/ingest"
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
		`no_entity_label: 8 of 8 series of the query lack the entity label "instance" and are left out (e.g. {host="web-1", role="web", signal="s"})`)
	f(Signal{Query: "cpu", Entity: "host", LimitQuery: "memory", Labels: map[string]string{"host": "web-1"}}, 8, 1)
	f(Signal{Query: "disk", Entity: "host"}, 0, 0, `source_down: cannot fetch from source "demo": `)
}
