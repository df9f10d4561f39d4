package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/augur-sre/augur/ingest"
)

// State is what one evaluation computed, published whole at its end (as
// Alertmanager publishes its alert groups and Prometheus its rule groups):
// readers (the REST API, the /metrics collector, the alert rules) get one
// consistent view and never wait for an evaluation or a fit. A State is
// immutable once published: its slices and maps must not be modified.
type State struct {
	// At is the evaluation's time on the sources' clock (the demo's may
	// run faster than the wall clock); Step and Horizon the configured
	// analysis step and failure horizon.
	At            time.Time
	Step, Horizon time.Duration
	// Ready is false until every series has had a first fit (or error).
	Ready bool
	// Entities holds every entity's failure probability over Horizon,
	// most likely to fail first.
	Entities []EntityRisk
	// Series holds every modelled series' current values, by labels.
	Series []SeriesState
	// Capacity holds every limited series' crossing of its limit within
	// Horizon (the CapacityExhaustion rule's input), when Options.Capacity
	// asks for it.
	Capacity []Capacity
	Signals  []SignalTarget
	// Warnings has one line per problem of a signal, "signal" first, for
	// the warnings of the API's responses.
	Warnings    []string
	Calibration Calibration
	Incidents   []ingest.Incident

	// plans are every fitted series' capacity plans, in label order, what
	// Engine.Capacity answers from.
	plans []capacityPlan
}

// SeriesState is a series at the end of an evaluation.
type SeriesState struct {
	Labels map[string]string
	// Entity is the value of the signal's entity label, EntityLabel its name.
	Entity, EntityLabel string
	// T (Unix ms) and Value are the newest finite sample (T 0, Value NaN
	// when there is none); Band is the dynamic band at T, nil without a
	// baseline.
	T     int64
	Value float64
	Band  *Band
	// AnomalyScore is the highest anomaly score of the last few points,
	// PointScore the score of the newest finite sample.
	AnomalyScore, PointScore float64
	// ETASeconds is the time to the series' limit within
	// DefaultCapacityHorizon, from its capacity plan, computed every
	// etaRefresh evaluations (see timesToLimit); none in a replay's
	// States, which carry no plans.
	ETASeconds Quantiles
	// Stale is set while the signal's source fails.
	Stale bool

	// refs are the series' TSDB references, for the writer of the
	// evaluation's outputs.
	refs *seriesRefs
	key  string
	// eta is the time to limit ETASeconds was last computed as (see
	// timesToLimit).
	eta timeToLimitAt
}

// Readiness is nil when augur is ready in the sense of /-/ready
// (DESIGN.md): the models are fitted (Ready), every signal has data or a
// reported problem, and some signal's source answers. Otherwise it says
// what augur waits for.
func (st *State) Readiness() error {
	if !st.Ready {
		return errors.New("models are being fitted")
	}
	up := false
	var down []string // each source's first error, "name: error"
	seen := map[string]bool{}
	for _, sig := range st.Signals {
		switch {
		case sig.Health == HealthUnknown:
			return fmt.Errorf("signal %q has not been fetched yet", sig.Signal)
		case sig.Health != HealthSourceDown:
			up = true
		case !seen[sig.Source]:
			seen[sig.Source] = true
			down = append(down, sig.Source+": "+sig.LastError)
		}
	}
	if !up {
		return fmt.Errorf("every source is down: %s", strings.Join(down, "; "))
	}
	return nil
}

// emptyState is served before the first evaluation ends.
var emptyState = &State{}

// State returns the state the last evaluation published; before the first
// one ends, a State that is not Ready. It never blocks.
func (e *Engine) State() *State {
	if st := e.state.Load(); st != nil {
		return st
	}
	return emptyState
}

// buildState computes the state of the evaluation at e.evalTime from the
// series' fitted models. It is called by the Run goroutine, the only
// writer, so it reads under the read lock and readers are not held up.
func (e *Engine) buildState() *State {
	st := &State{Step: e.opts.Step, Horizon: e.opts.Horizon, Signals: e.Targets(), Calibration: e.Calibration()}
	for _, sig := range st.Signals {
		for _, p := range sig.Problems {
			st.Warnings = append(st.Warnings, fmt.Sprintf("signal %q: %s: %s", sig.Signal, p.Health, p.Message))
		}
	}
	e.mu.RLock()
	st.At, st.Ready = e.evalTime, e.ready
	st.Incidents = append([]ingest.Incident(nil), e.incidents...)
	e.mu.RUnlock()
	if !st.Ready {
		return st
	}
	st.Entities, st.Series, _ = e.failures(e.horizon, true)
	g := capacityGrid(e.step, e.horizon)
	if !e.replay {
		st.plans = e.capacityPlans()
		timesToLimit(st, e.State(), g, e.rounds)
		e.rounds++
	}
	if e.opts.Capacity {
		st.Capacity, _ = capacity(st.plans, CapacityQuery{Horizon: e.opts.Horizon}, g)
	}
	return st
}
