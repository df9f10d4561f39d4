package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/augur-sre/augur/notifier"
)

// Alert names.
const (
	AlertFailurePredicted   = "FailurePredicted"
	AlertAnomalyDetected    = "AnomalyDetected"
	AlertCapacityExhaustion = "CapacityExhaustion"
)

// Alert states, as in Prometheus' rules.
const (
	StatePending  = "pending"
	StateFiring   = "firing"
	StateResolved = "resolved"
)

// Alert is one alert of augur's rules and its state.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	State        string            `json:"state"`
	Value        float64           `json:"value"`
	GeneratorURL string            `json:"generatorURL"`
	ActiveAt     time.Time         `json:"activeAt"`
	FiredAt      time.Time         `json:"firedAt,omitzero"`
	ResolvedAt   time.Time         `json:"resolvedAt,omitzero"`
	LastSentAt   time.Time         `json:"lastSentAt,omitzero"`
	ValidUntil   time.Time         `json:"validUntil,omitzero"`
	// sentLabels are the labels last sent while firing; when the labels
	// change (the severity rises), the old ones are resolved.
	SentLabels map[string]string `json:"sentLabels,omitempty"`
}

// AlertStateStore keeps the alerts' state across restarts; *store.Store
// implements it.
type AlertStateStore interface {
	LoadAlertStates() (map[string][]byte, error)
	SaveAlertStates(map[string][]byte) error
}

// AlertOptions configures AlertRules.
type AlertOptions struct {
	// FailureThreshold is the failure (and capacity crossing) probability
	// at which FailurePredicted (CapacityExhaustion) becomes active; default
	// the engine's.
	FailureThreshold float64
	// For is how long a condition must hold before its alert fires.
	For time.Duration
	// MinAnomalyScore is the anomaly score a value outside its band needs
	// to count as an anomaly (default 0.5).
	MinAnomalyScore float64
	// Interval is the evaluation interval (default 1m); ResendDelay the
	// pause between resends of a firing alert (default 1m). Firing alerts
	// are sent with endsAt = now + 4 × max(Interval, ResendDelay).
	Interval, ResendDelay time.Duration
	// ResolvedRetention is how long resolved alerts keep being resent (default 15m).
	ResolvedRetention time.Duration
	// ExternalURL is augur's URL as users reach it; generatorURL links
	// to its query API (default http://localhost:9477).
	ExternalURL string
	// Notify receives the alerts to send, e.g. (*notifier.Manager).Send.
	Notify func(...notifier.Alert)
	// State, when set, persists the alerts' state after every evaluation.
	State  AlertStateStore
	Now    func() time.Time
	Logger *slog.Logger
}

// AlertRules evaluates FailurePredicted, AnomalyDetected and
// CapacityExhaustion on the engine's state with Prometheus' pending →
// firing → resolved semantics. Its methods are safe for concurrent use.
type AlertRules struct {
	e      *Engine
	opts   AlertOptions
	logger *slog.Logger

	mu     sync.Mutex
	active map[string]*Alert // by key: alertname and identifying labels
}

// NewAlertRules returns the rules of engine e, restoring the saved state.
func NewAlertRules(e *Engine, o AlertOptions) (*AlertRules, error) {
	if o.FailureThreshold <= 0 || o.FailureThreshold > 1 {
		o.FailureThreshold = e.opts.FailureThreshold
	}
	if o.MinAnomalyScore <= 0 {
		o.MinAnomalyScore = 0.5
	}
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.ResendDelay <= 0 {
		o.ResendDelay = time.Minute
	}
	if o.ResolvedRetention <= 0 {
		o.ResolvedRetention = 15 * time.Minute
	}
	if o.ExternalURL == "" {
		o.ExternalURL = "http://localhost:9477"
	}
	o.ExternalURL = strings.TrimSuffix(o.ExternalURL, "/")
	if o.Notify == nil {
		o.Notify = func(...notifier.Alert) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &AlertRules{e: e, opts: o, logger: o.Logger.With("component", "alerts"), active: map[string]*Alert{}}
	if o.State != nil {
		saved, err := o.State.LoadAlertStates()
		if err != nil {
			return nil, fmt.Errorf("cannot restore alert state: %w", err)
		}
		for k, v := range saved {
			var a Alert
			if err := json.Unmarshal(v, &a); err != nil {
				r.logger.Warn("cannot decode saved alert, dropping it", "alert", k, "err", err)
				continue
			}
			r.active[k] = &a
		}
		if len(saved) > 0 {
			r.logger.Info("restored alert state", "alerts", len(r.active))
		}
	}
	return r, nil
}

// Run evaluates the rules every Interval, starting as soon as the engine
// is ready, until ctx is done; it returns nil on cancellation.
func (r *AlertRules) Run(ctx context.Context) error {
	poll := min(r.opts.Interval, time.Second)
	t := time.NewTicker(poll)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			now := r.opts.Now()
			if !r.e.Ready() || now.Sub(last) < r.opts.Interval {
				continue
			}
			last = now
			r.Eval(ctx, now)
		}
	}
}

// Eval evaluates every rule at now, updates the alerts' states, saves them,
// sends the alerts due and returns them.
func (r *AlertRules) Eval(ctx context.Context, now time.Time) []notifier.Alert {
	cands, evaluated := r.candidates()
	r.mu.Lock()
	defer r.mu.Unlock()
	extra := r.update(now, cands, evaluated)
	out := append(extra, r.due(now)...)
	if r.opts.State != nil {
		states := make(map[string][]byte, len(r.active))
		for k, a := range r.active {
			b, err := json.Marshal(a)
			if err == nil {
				states[k] = b
			}
		}
		if err := r.opts.State.SaveAlertStates(states); err != nil {
			r.logger.Error("cannot save alert state", "err", err)
		}
	}
	if len(out) > 0 {
		r.opts.Notify(out...)
	}
	return out
}

// Alerts returns a copy of the current alerts, sorted by labels.
func (r *AlertRules) Alerts() []Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Alert, 0, len(r.active))
	for _, k := range slices.Sorted(maps.Keys(r.active)) {
		out = append(out, *r.active[k])
	}
	return out
}

// candidate is an alert whose condition holds now.
type candidate struct {
	labels, annotations map[string]string
	value               float64
	expr                string
}

// update applies one evaluation to the alerts' states and returns the
// resolved notifications of label sets that changed while firing. The
// caller holds r.mu. evaluated names the rules that could be evaluated: the
// alerts of the others keep their state.
func (r *AlertRules) update(now time.Time, cands map[string]candidate, evaluated map[string]bool) []notifier.Alert {
	var extra []notifier.Alert
	for k, c := range cands {
		a := r.active[k]
		if a == nil || a.State == StateResolved {
			r.active[k] = &Alert{
				Labels: c.labels, Annotations: c.annotations, Value: c.value, State: StatePending,
				ActiveAt: now, GeneratorURL: r.generatorURL(c.expr),
			}
			continue
		}
		if a.State == StateFiring && a.SentLabels != nil && !maps.Equal(a.SentLabels, c.labels) {
			extra = append(extra, notifier.Alert{Labels: a.SentLabels, Annotations: a.Annotations, StartsAt: a.ActiveAt, EndsAt: now, GeneratorURL: a.GeneratorURL})
			a.SentLabels = nil
			a.LastSentAt = time.Time{} // send the new labels now
		}
		a.Labels, a.Annotations, a.Value, a.GeneratorURL = c.labels, c.annotations, c.value, r.generatorURL(c.expr)
	}
	for k, a := range r.active {
		if _, ok := cands[k]; ok || !evaluated[a.Labels[model.AlertNameLabel]] {
			continue
		}
		switch a.State {
		case StatePending:
			delete(r.active, k)
		case StateFiring:
			a.State, a.ResolvedAt = StateResolved, now
		case StateResolved:
			if now.Sub(a.ResolvedAt) > r.opts.ResolvedRetention {
				delete(r.active, k)
			}
		}
	}
	for _, a := range r.active {
		if a.State == StatePending && now.Sub(a.ActiveAt) >= r.opts.For {
			a.State, a.FiredAt = StateFiring, now
		}
	}
	return extra
}

// due returns the alerts to send at now and marks them sent, as
// Prometheus' sendAlerts does. The caller holds r.mu.
func (r *AlertRules) due(now time.Time) []notifier.Alert {
	var out []notifier.Alert
	for _, k := range slices.Sorted(maps.Keys(r.active)) {
		a := r.active[k]
		if a.State == StatePending {
			continue
		}
		if !a.ResolvedAt.After(a.LastSentAt) && now.Before(a.LastSentAt.Add(r.opts.ResendDelay)) {
			continue
		}
		a.LastSentAt = now
		a.ValidUntil = now.Add(4 * max(r.opts.Interval, r.opts.ResendDelay))
		na := notifier.Alert{Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.ActiveAt, EndsAt: a.ValidUntil, GeneratorURL: a.GeneratorURL}
		if a.State == StateResolved {
			na.EndsAt = a.ResolvedAt
		} else {
			a.SentLabels = a.Labels
		}
		out = append(out, na)
	}
	return out
}

func (r *AlertRules) generatorURL(expr string) string {
	return r.opts.ExternalURL + "/api/v1/query?query=" + url.QueryEscape(expr)
}

// alertKey identifies an alert: its name and labels but severity, so that
// a rising severity updates the alert rather than starting another.
func alertKey(l map[string]string) string {
	m := maps.Clone(l)
	delete(m, "severity")
	return labelsKey(m)
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

func formatETA(q Quantiles) string {
	if q.P50 == nil {
		return "beyond the horizon"
	}
	return model.Duration(time.Duration(*q.P50) * time.Second).String()
}

func formatProb(p float64) string { return strconv.FormatFloat(p, 'f', 3, 64) }

// candidates evaluates the three rules on the engine's published State.
func (r *AlertRules) candidates() (map[string]candidate, map[string]bool) {
	cands := map[string]candidate{}
	evaluated := map[string]bool{}
	st := r.e.State()
	if !st.Ready {
		return cands, evaluated
	}
	add := func(c candidate) { cands[alertKey(c.labels)] = c }
	horizon := st.Horizon
	th := r.opts.FailureThreshold

	evaluated[AlertFailurePredicted] = true
	for _, risk := range st.Entities {
		if risk.FailureProbability < th {
			continue
		}
		l := map[string]string{model.AlertNameLabel: AlertFailurePredicted, risk.EntityLabel: risk.Entity, "severity": Severity(risk.FailureProbability, th)}
		top := "no single signal"
		if len(risk.Factors) > 0 {
			top = fmt.Sprintf("%s (%.0f %%)", risk.Factors[0].Signal, 100*risk.Factors[0].Share)
		}
		add(candidate{
			labels: l, value: risk.FailureProbability,
			expr: selector("augur_failure_probability", map[string]string{risk.EntityLabel: risk.Entity}),
			annotations: map[string]string{
				"probability": formatProb(risk.FailureProbability),
				"eta":         formatETA(risk.ETASeconds),
				"summary":     fmt.Sprintf("%s %s is predicted to fail within %s (probability %s)", risk.EntityLabel, risk.Entity, model.Duration(horizon), formatProb(risk.FailureProbability)),
				"description": fmt.Sprintf("Main factor: %s. Median time to failure: %s.", top, formatETA(risk.ETASeconds)),
			},
		})
	}

	evaluated[AlertCapacityExhaustion] = true
	for _, c := range st.Capacity {
		if c.CrossingProbability < th {
			continue
		}
		l := maps.Clone(c.Labels)
		l[model.AlertNameLabel] = AlertCapacityExhaustion
		l["severity"] = Severity(c.CrossingProbability, th)
		add(candidate{
			labels: l, value: c.CrossingProbability,
			expr: selector("augur_time_to_limit_seconds", c.Labels),
			annotations: map[string]string{
				"probability": formatProb(c.CrossingProbability),
				"eta":         formatETA(c.ETASeconds),
				"summary":     fmt.Sprintf("%s of %s reaches its limit %g within %s (probability %s, median in %s)", c.Labels["signal"], describe(c.Labels), c.Threshold, model.Duration(horizon), formatProb(c.CrossingProbability), formatETA(c.ETASeconds)),
			},
		})
	}

	// A value outside its band, anomalous enough, and recent: a series
	// whose newest sample is older than a few steps is not "now".
	evaluated[AlertAnomalyDetected] = true
	recent := st.At.Add(-5 * st.Step).UnixMilli()
	for _, s := range st.Series {
		if s.T < recent || s.Band == nil || math.IsNaN(s.PointScore) {
			continue
		}
		if (s.Value >= s.Band.Lower && s.Value <= s.Band.Upper) || s.PointScore < r.opts.MinAnomalyScore {
			continue
		}
		l := maps.Clone(s.Labels)
		l[model.AlertNameLabel] = AlertAnomalyDetected
		l["severity"] = "info"
		add(candidate{
			labels: l, value: s.PointScore,
			expr: selector("augur_anomaly_score", s.Labels),
			annotations: map[string]string{
				"probability": formatProb(s.PointScore),
				"summary":     fmt.Sprintf("%s of %s is %g, outside its usual band [%.4g, %.4g] (anomaly score %s)", s.Labels["signal"], describe(s.Labels), s.Value, s.Band.Lower, s.Band.Upper, formatProb(s.PointScore)),
			},
		})
	}
	return cands, evaluated
}

// describe names a series by its labels but signal, e.g. host="cache-1".
func describe(l map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		if k != "signal" && k != model.AlertNameLabel && k != "severity" {
			parts = append(parts, k+"="+strconv.Quote(l[k]))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
