package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/notifier"
)

// Alert is one alert of augur's rules and its state.
type Alert struct {
	Labels, Annotations map[string]string
	State               AlertState
	Value               float64
	GeneratorURL        string
	ActiveAt, FiredAt   time.Time
	ResolvedAt          time.Time
	LastSentAt          time.Time
	ValidUntil          time.Time
	// SentLabels are the labels last sent while firing; when the labels
	// change (the severity rises), the old ones are resolved.
	SentLabels map[string]string
}

// savedAlert is an Alert as the state store keeps it.
type savedAlert struct {
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
	SentLabels   map[string]string `json:"sentLabels,omitempty"`
}

func (a *Alert) saved() savedAlert {
	return savedAlert{a.Labels, a.Annotations, a.State.String(), a.Value, a.GeneratorURL, a.ActiveAt, a.FiredAt, a.ResolvedAt, a.LastSentAt, a.ValidUntil, a.SentLabels}
}

func (s savedAlert) alert() (*Alert, error) {
	st, err := parseState(s.State)
	if err != nil {
		return nil, err
	}
	return &Alert{s.Labels, s.Annotations, st, s.Value, s.GeneratorURL, s.ActiveAt, s.FiredAt, s.ResolvedAt, s.LastSentAt, s.ValidUntil, s.SentLabels}, nil
}

// StateStore keeps the alerts' state across restarts; *store.Store
// implements it.
type StateStore interface {
	LoadAlertStates() (map[string][]byte, error)
	SaveAlertStates(map[string][]byte) error
}

// StateSource publishes the States the rules evaluate; *engine.Engine is one.
type StateSource interface {
	State() *engine.State
}

// Options configures a Manager.
type Options struct {
	// For is how long a condition must hold, on the State's clock, before
	// its alert fires.
	For time.Duration
	// Interval is the engine's evaluation interval on the State's clock
	// (default 1m); ResendDelay the pause between resends of a firing alert
	// (default 1m). Firing alerts are sent with endsAt = now + 4 ×
	// max(Interval, ResendDelay), so that Alertmanager resolves them when
	// augur stops sending.
	Interval, ResendDelay time.Duration
	// ResolvedRetention is how long resolved alerts keep being resent (default 15m).
	ResolvedRetention time.Duration
	// ExternalURL is augur's URL as users reach it; generatorURL links
	// to its query API (default http://localhost:9477).
	ExternalURL string
	// Notify receives the alerts to send, e.g. (*notifier.Manager).Send.
	Notify func(...notifier.Alert)
	// Store, when set, persists the alerts' state after every evaluation.
	Store StateStore
	// Poll is the wall-clock pause between looks for a new State (default 1s).
	Poll   time.Duration
	Logger *slog.Logger
}

// Manager evaluates its rules on every new State of its source. Its methods
// are safe for concurrent use.
type Manager struct {
	src    StateSource
	rules  []Rule
	opts   Options
	logger *slog.Logger

	mu       sync.Mutex
	active   map[string]*Alert // by key: alertname and identifying labels
	lastEval time.Time         // on the State's clock
	health   map[string]error  // each rule's last evaluation error
}

// NewManager returns a Manager of rules on src, restoring the saved state.
func NewManager(src StateSource, rules []Rule, o Options) (*Manager, error) {
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
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{src: src, rules: rules, opts: o, logger: o.Logger.With("component", "rules"), active: map[string]*Alert{}, health: map[string]error{}}
	if o.Store != nil {
		saved, err := o.Store.LoadAlertStates()
		if err != nil {
			return nil, fmt.Errorf("cannot restore alert state: %w", err)
		}
		for k, v := range saved {
			var s savedAlert
			err := json.Unmarshal(v, &s)
			var a *Alert
			if err == nil {
				a, err = s.alert()
			}
			if err != nil {
				m.logger.Warn("cannot decode saved alert, dropping it", "alert", k, "err", err)
				continue
			}
			m.active[k] = a
		}
		if len(saved) > 0 {
			m.logger.Info("restored alert state", "alerts", len(m.active))
		}
	}
	return m, nil
}

// Run evaluates the rules on each new ready State of the source, at the
// State's time, until ctx is done; it returns nil on cancellation.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			st := m.src.State()
			m.mu.Lock()
			due := st.Ready && st.At.After(m.lastEval)
			m.mu.Unlock()
			if due {
				m.Eval(ctx, st, st.At)
			}
		}
	}
}

// Eval evaluates every rule on st at now, updates the alerts' states, saves
// them, sends the alerts due and returns them.
func (m *Manager) Eval(ctx context.Context, st *engine.State, now time.Time) []notifier.Alert {
	actives := map[string]Active{}
	evaluated := map[string]bool{}
	health := map[string]error{}
	for _, r := range m.rules {
		as, err := r.Eval(st, now)
		health[r.Name()] = err
		if err != nil {
			m.logger.Warn("cannot evaluate rule", "rule", r.Name(), "err", err)
			continue
		}
		evaluated[r.Name()] = true
		for _, a := range as {
			actives[alertKey(a.Labels)] = a
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastEval, m.health = now, health
	out := append(m.update(now, actives, evaluated), m.due(now)...)
	if m.opts.Store != nil {
		states := make(map[string][]byte, len(m.active))
		for k, a := range m.active {
			if b, err := json.Marshal(a.saved()); err == nil {
				states[k] = b
			}
		}
		if err := m.opts.Store.SaveAlertStates(states); err != nil {
			m.logger.Error("cannot save alert state", "err", err)
		}
	}
	if len(out) > 0 {
		m.opts.Notify(out...)
	}
	return out
}

// Alerts returns a copy of the current alerts, sorted by labels.
func (m *Manager) Alerts() []Alert {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Alert, 0, len(m.active))
	for _, k := range slices.Sorted(maps.Keys(m.active)) {
		out = append(out, *m.active[k])
	}
	return out
}

// RuleStatus is a rule, its alerts and its last evaluation, for /api/v1/rules.
type RuleStatus struct {
	Name, Query string
	// For is the rule's pending period, Interval its evaluation interval.
	For, Interval  time.Duration
	LastEvaluation time.Time
	// Err is the last evaluation's error, nil when it succeeded.
	Err    error
	Alerts []Alert
}

// Rules returns the status of every rule, in the Manager's order.
func (m *Manager) Rules() []RuleStatus {
	alerts := m.Alerts()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]RuleStatus, 0, len(m.rules))
	for _, r := range m.rules {
		rs := RuleStatus{Name: r.Name(), Query: r.Query(), For: m.opts.For, Interval: m.opts.Interval, LastEvaluation: m.lastEval, Err: m.health[r.Name()]}
		for _, a := range alerts {
			if a.Labels[model.AlertNameLabel] == r.Name() {
				rs.Alerts = append(rs.Alerts, a)
			}
		}
		out = append(out, rs)
	}
	return out
}

// update applies one evaluation to the alerts' states and returns the
// resolved notifications of label sets that changed while firing. The
// caller holds m.mu. evaluated names the rules that could be evaluated: the
// alerts of the others keep their state.
func (m *Manager) update(now time.Time, actives map[string]Active, evaluated map[string]bool) []notifier.Alert {
	var extra []notifier.Alert
	for k, c := range actives {
		a := m.active[k]
		if a == nil || a.State == StateResolved {
			m.active[k] = &Alert{
				Labels: c.Labels, Annotations: c.Annotations, Value: c.Value, State: StatePending,
				ActiveAt: now, GeneratorURL: m.generatorURL(c.Expr),
			}
			continue
		}
		if a.State == StateFiring && a.SentLabels != nil && !maps.Equal(a.SentLabels, c.Labels) {
			extra = append(extra, notifier.Alert{Labels: a.SentLabels, Annotations: a.Annotations, StartsAt: a.ActiveAt, EndsAt: now, GeneratorURL: a.GeneratorURL})
			a.SentLabels = nil
			a.LastSentAt = time.Time{} // send the new labels now
		}
		a.Labels, a.Annotations, a.Value, a.GeneratorURL = c.Labels, c.Annotations, c.Value, m.generatorURL(c.Expr)
	}
	for k, a := range m.active {
		if _, ok := actives[k]; ok || !evaluated[a.Labels[model.AlertNameLabel]] {
			continue
		}
		switch a.State {
		case StatePending:
			delete(m.active, k)
		case StateFiring:
			a.State, a.ResolvedAt = StateResolved, now
		case StateResolved:
			if now.Sub(a.ResolvedAt) > m.opts.ResolvedRetention {
				delete(m.active, k)
			}
		}
	}
	for _, a := range m.active {
		if a.State == StatePending && now.Sub(a.ActiveAt) >= m.opts.For {
			a.State, a.FiredAt = StateFiring, now
		}
	}
	return extra
}

// due returns the alerts to send at now and marks them sent, as
// Prometheus' sendAlerts does. The caller holds m.mu.
func (m *Manager) due(now time.Time) []notifier.Alert {
	var out []notifier.Alert
	for _, k := range slices.Sorted(maps.Keys(m.active)) {
		a := m.active[k]
		if a.State == StatePending {
			continue
		}
		if !a.ResolvedAt.After(a.LastSentAt) && now.Before(a.LastSentAt.Add(m.opts.ResendDelay)) {
			continue
		}
		a.LastSentAt = now
		a.ValidUntil = now.Add(4 * max(m.opts.Interval, m.opts.ResendDelay))
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

func (m *Manager) generatorURL(expr string) string {
	return m.opts.ExternalURL + "/api/v1/query?query=" + url.QueryEscape(expr)
}

// alertKey identifies an alert: its name and labels but severity, so that
// a rising severity updates the alert rather than starting another.
func alertKey(l map[string]string) string {
	m := maps.Clone(l)
	delete(m, "severity")
	return labels.FromMap(m).String()
}
