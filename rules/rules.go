// Package rules evaluates augur's alert rules (FailurePredicted,
// AnomalyDetected, CapacityExhaustion) on the engine's published State, with
// Prometheus' pending → firing → resolved semantics, and hands the alerts due
// to a notifier.
//
// The rules measure time on the State's clock (State.At), the sources'
// clock, so that a demo running faster than the wall clock fires its alerts
// after `for` of its own time, as a replay does.
package rules

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/augur-sre/augur/engine"
)

// The names of augur's alerts; the webhook recognises augur's own alerts
// routed back by Alertmanager by them.
const (
	FailurePredictedName   = "FailurePredicted"
	AnomalyDetectedName    = "AnomalyDetected"
	CapacityExhaustionName = "CapacityExhaustion"
)

// Names lists the alert names of augur's rules.
var Names = []string{FailurePredictedName, AnomalyDetectedName, CapacityExhaustionName}

// AlertState is the state of an alert, as in Prometheus' rules.
type AlertState int

const (
	// StatePending: the condition holds, for less than the rule's `for`.
	StatePending AlertState = iota
	// StateFiring: the condition has held for `for`; the alert is sent.
	StateFiring
	// StateResolved: the condition stopped holding after firing; the
	// resolution is resent for a while, as Prometheus does.
	StateResolved
)

func (s AlertState) String() string {
	switch s {
	case StatePending:
		return "pending"
	case StateFiring:
		return "firing"
	case StateResolved:
		return "resolved"
	}
	return fmt.Sprintf("AlertState(%d)", int(s))
}

// parseState is String's inverse, for the saved states.
func parseState(s string) (AlertState, error) {
	for _, st := range []AlertState{StatePending, StateFiring, StateResolved} {
		if st.String() == s {
			return st, nil
		}
	}
	return 0, fmt.Errorf("unknown alert state %q", s)
}

// Active is an alert whose rule's condition holds at an evaluation.
type Active struct {
	Labels, Annotations map[string]string
	Value               float64
	// Expr is the PromQL expression that shows the condition, the target
	// of the alert's generatorURL.
	Expr string
}

// Rule is one alert rule.
type Rule interface {
	// Name is the rule's alert name.
	Name() string
	// Query is the rule's condition in PromQL, for /api/v1/rules.
	Query() string
	// Eval returns the alerts whose condition holds in st at now. An error
	// means the rule could not be evaluated: its alerts keep their state.
	Eval(st *engine.State, now time.Time) ([]Active, error)
}

// FailurePredicted is active for every entity whose failure probability
// over the State's horizon reaches Threshold.
type FailurePredicted struct{ Threshold float64 }

func (FailurePredicted) Name() string { return FailurePredictedName }

func (r FailurePredicted) Query() string {
	return "augur_failure_probability >= " + formatProb(r.Threshold)
}

func (r FailurePredicted) Eval(st *engine.State, _ time.Time) ([]Active, error) {
	var out []Active
	for _, risk := range st.Entities {
		if risk.FailureProbability < r.Threshold {
			continue
		}
		top := "no single signal"
		if len(risk.Factors) > 0 {
			top = fmt.Sprintf("%s (%.0f %%)", risk.Factors[0].Signal, 100*risk.Factors[0].Share)
		}
		out = append(out, Active{
			Labels: map[string]string{model.AlertNameLabel: FailurePredictedName, risk.EntityLabel: risk.Entity, "severity": engine.Severity(risk.FailureProbability, r.Threshold)},
			Value:  risk.FailureProbability,
			Expr:   selector("augur_failure_probability", map[string]string{risk.EntityLabel: risk.Entity}),
			Annotations: map[string]string{
				"probability": formatProb(risk.FailureProbability),
				"eta":         formatETA(risk.ETASeconds),
				"summary":     fmt.Sprintf("%s %s is predicted to fail within %s (probability %s)", risk.EntityLabel, risk.Entity, model.Duration(st.Horizon), formatProb(risk.FailureProbability)),
				"description": fmt.Sprintf("Main factor: %s. Median time to failure: %s.", top, formatETA(risk.ETASeconds)),
			},
		})
	}
	return out, nil
}

// CapacityExhaustion is active for every limited series whose probability
// of crossing its limit within the State's horizon reaches Threshold.
type CapacityExhaustion struct{ Threshold float64 }

func (CapacityExhaustion) Name() string { return CapacityExhaustionName }

func (r CapacityExhaustion) Query() string {
	return "augur_crossing_probability >= " + formatProb(r.Threshold)
}

func (r CapacityExhaustion) Eval(st *engine.State, _ time.Time) ([]Active, error) {
	var out []Active
	for _, c := range st.Capacity {
		if c.CrossingProbability < r.Threshold {
			continue
		}
		l := maps.Clone(c.Labels)
		l[model.AlertNameLabel] = CapacityExhaustionName
		l["severity"] = engine.Severity(c.CrossingProbability, r.Threshold)
		out = append(out, Active{
			Labels: l, Value: c.CrossingProbability,
			Expr: selector("augur_time_to_limit_seconds", c.Labels),
			Annotations: map[string]string{
				"probability": formatProb(c.CrossingProbability),
				"eta":         formatETA(c.ETASeconds),
				"summary":     fmt.Sprintf("%s of %s reaches its limit %g within %s (probability %s, median in %s)", c.Labels["signal"], describe(c.Labels), c.Threshold, model.Duration(st.Horizon), formatProb(c.CrossingProbability), formatETA(c.ETASeconds)),
			},
		})
	}
	return out, nil
}

// AnomalyDetected is active for every series whose newest value is outside
// its band with a point anomaly score of at least MinScore, and recent: a
// series whose newest sample is older than a few steps is not "now".
type AnomalyDetected struct{ MinScore float64 }

func (AnomalyDetected) Name() string { return AnomalyDetectedName }

func (r AnomalyDetected) Query() string {
	return "(augur_input < augur_baseline_lower or augur_input > augur_baseline_upper) and augur_anomaly_score >= " + formatProb(r.MinScore)
}

func (r AnomalyDetected) Eval(st *engine.State, now time.Time) ([]Active, error) {
	var out []Active
	recent := now.Add(-5 * st.Step).UnixMilli()
	for _, s := range st.Series {
		if s.T < recent || s.Band == nil || math.IsNaN(s.PointScore) {
			continue
		}
		if (s.Value >= s.Band.Lower && s.Value <= s.Band.Upper) || s.PointScore < r.MinScore {
			continue
		}
		l := maps.Clone(s.Labels)
		l[model.AlertNameLabel] = AnomalyDetectedName
		l["severity"] = "info"
		out = append(out, Active{
			Labels: l, Value: s.PointScore,
			Expr: selector("augur_anomaly_score", s.Labels),
			Annotations: map[string]string{
				"probability": formatProb(s.PointScore),
				"summary":     fmt.Sprintf("%s of %s is %g, outside its usual band [%.4g, %.4g] (anomaly score %s)", s.Labels["signal"], describe(s.Labels), s.Value, s.Band.Lower, s.Band.Upper, formatProb(s.PointScore)),
			},
		})
	}
	return out, nil
}

// selector writes labels as a PromQL selector of metric.
func selector(metric string, l map[string]string) string {
	var b strings.Builder
	b.WriteString(metric)
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(l)) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, l[k])
	}
	b.WriteByte('}')
	return b.String()
}

func formatETA(q engine.Quantiles) string {
	if q.P50 == nil {
		return "beyond the horizon"
	}
	return model.Duration(time.Duration(*q.P50) * time.Second).String()
}

func formatProb(p float64) string { return strconv.FormatFloat(p, 'f', 3, 64) }

// describe names a series by its labels but signal, e.g. host="cache-1".
func describe(l map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		if k != "signal" && k != model.AlertNameLabel && k != "severity" {
			parts = append(parts, k+"="+strconv.Quote(l[k]))
		}
	}
	return strings.Join(parts, ",")
}
