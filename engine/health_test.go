package engine

import (
	"strings"
	"testing"
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
