package forecast

import (
	"slices"
	"time"
)

// ProbabilityPoint is an entity's failure probability at one evaluation.
type ProbabilityPoint struct {
	T int64 // Unix ms
	P float64
	// Cross and Anom are the evidence P was calibrated from.
	Cross, Anom float64
}

// EntityHistory is the failure probability of one entity over time.
type EntityHistory struct {
	Entity, EntityLabel string
	Points              []ProbabilityPoint
}

// FailureHistory returns the failure probabilities over the configured
// horizon computed at each evaluation in [start, end].
func (e *Engine) FailureHistory(start, end time.Time) []EntityHistory {
	e.mu.RLock()
	defer e.mu.RUnlock()
	from, to := start.UnixMilli(), end.UnixMilli()
	var out []EntityHistory
	for _, name := range sortedKeys(e.probHistory) {
		h := e.probHistory[name]
		eh := EntityHistory{Entity: name, EntityLabel: h.label}
		for _, p := range h.points {
			if p.T >= from && p.T <= to {
				eh.Points = append(eh.Points, p)
			}
		}
		out = append(out, eh)
	}
	return out
}

type probHistory struct {
	label  string
	points []ProbabilityPoint
}

// recordProbabilities appends the evaluation's failure probabilities to
// the entities' histories, keeping the retention window.
func (e *Engine) recordProbabilities(st *State) {
	risks := st.Entities
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.evalTime.UnixMilli()
	retain := e.opts.KeepProbabilities.Milliseconds()
	for _, r := range risks {
		h := e.probHistory[r.Entity]
		if h == nil {
			h = &probHistory{label: r.EntityLabel}
			e.probHistory[r.Entity] = h
		}
		if n := len(h.points); n > 0 && h.points[n-1].T == now {
			h.points[n-1] = ProbabilityPoint{T: now, P: r.FailureProbability, Cross: r.CrossingProbability, Anom: r.AnomalyEvidence}
			continue
		}
		h.points = append(h.points, ProbabilityPoint{T: now, P: r.FailureProbability, Cross: r.CrossingProbability, Anom: r.AnomalyEvidence})
		if h.points[0].T < now-2*retain {
			cut := 0
			for cut < len(h.points) && h.points[cut].T < now-retain {
				cut++
			}
			h.points = append(h.points[:0], h.points[cut:]...)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
