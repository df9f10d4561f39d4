package engine

import (
	"math"

	"github.com/augur-sre/augur/model"
)

// maxResidual bounds a standardised residual fed to an entity's channel,
// as model.SeasonalResiduals bounds its own: one wild point (a forecaster
// whose interval collapsed) must not own the covariance for days.
const maxResidual = 100

// entityState is the multivariate channel of one entity: a
// model.EntityDetector over the standardised one-step residuals of all its
// series, which sees combinations of residuals the per-series scores do
// not (signals that normally move together moving apart, several signals
// each a little off at once). It steps once per evaluation, with the
// newest residual each series gained since the previous one (a series
// without one counts as 0); its warm-up and half-life are therefore in
// evaluations. State: the detector's 4 + p + 3k + 2k² float64 (p = 2) and 2k buffers
// for k series, 0.4 KiB for three. Only the Run goroutine writes it, under
// Engine.mu; readers hold the read lock.
type entityState struct {
	members []*series // in the order of the detector's inputs
	// det is nil until the first update after the members changed: a new
	// series restarts the channel's learning, as a new entity starts it.
	det *model.EntityDetector
	z   []float64
	// score is the channel's last score in [0,1], shares each member's
	// share of it (model.EntityDetector.Shares).
	score  float64
	shares []float64
	// updated is the time (Unix ms) of the newest residual the channel has
	// seen.
	updated int64

	// rows are the entity's features at its last failureModelWindow
	// evaluations, oldest first, filled how many of them are set, and
	// correction the learned failure model's correction of the
	// calibration's logit (NaN without one): see observeFeatures. Empty
	// unless a learned model is configured.
	rows       [][]float64
	filled     int
	correction float64
	// prevCross and prevAnom are the evidence of the last published
	// State, NaN before one.
	prevCross, prevAnom float64
}

// entityMember links a series to its entity's channel and holds the
// residual it feeds it.
type entityMember struct {
	state *entityState
	index int
	// signal is the index of the series' signal in Engine.signals.
	signal int
	// resid is the newest standardised one-step residual (NaN without
	// one), residT its time (Unix ms).
	resid  float64
	residT int64
}

// noteResidual records the standardised one-step residual of the point
// v at t against the forecast f and its 95 % interval [lo, hi]:
// (v − f)/σ with σ = (hi − lo)/(2·z95), bounded by ±maxResidual.
func (m *entityMember) noteResidual(t int64, v, f, lo, hi float64) {
	r := (v - f) * 2 * z95 / (hi - lo)
	if math.IsInf(r, 0) { // a collapsed interval says nothing of the scale
		r = math.NaN()
	}
	m.resid, m.residT = max(min(r, maxResidual), -maxResidual), t
}

// joinEntity adds a new series to its entity's channel. The caller holds
// e.mu for writing.
func (e *Engine) joinEntity(s *series) {
	st := e.entities[s.entity]
	if st == nil {
		st = &entityState{correction: math.NaN(), prevCross: math.NaN(), prevAnom: math.NaN()}
		e.entities[s.entity] = st
	}
	sig := 0
	for i, g := range e.signals {
		if g == s.signal {
			sig = i
		}
	}
	s.member = entityMember{state: st, index: len(st.members), signal: sig, resid: math.NaN()}
	st.members = append(st.members, s)
	st.det, st.score = nil, 0
}

// updateEntities steps every entity's channel with the residuals its
// series gained since its last step; an entity none of whose series gained
// one (its sources are down, or its models not fitted yet) keeps its
// score. O(k²) per entity of k series, amortised, and no allocation once
// every entity has stepped with its current members.
func (e *Engine) updateEntities() {
	prev := e.State()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.learnedMode() {
		for _, r := range prev.Entities {
			if st := e.entities[r.Entity]; st != nil {
				st.prevCross, st.prevAnom = r.CrossingProbability, r.AnomalyEvidence
			}
		}
	}
	for name, st := range e.entities {
		e.observeFeatures(st)
		k := len(st.members)
		if st.det == nil && !e.resumeEntity(name, st) {
			st.det = model.NewEntityDetector(k, model.EntityOptions{})
			st.z, st.shares = make([]float64, k), make([]float64, k)
		}
		newest := st.updated
		for i, s := range st.members {
			st.z[i] = math.NaN()
			if m := &s.member; m.residT > st.updated {
				st.z[i] = m.resid
				newest = max(newest, m.residT)
			}
		}
		if newest == st.updated {
			continue
		}
		st.updated = newest
		st.score = st.det.Update(st.z)
		st.shares = st.det.Shares(st.shares)
	}
}

// entityScore returns the channel's score for an entity, 0 for one it
// does not know. The caller holds e.mu.
func (e *Engine) entityScore(entity string) float64 {
	if st := e.entities[entity]; st != nil {
		return st.score
	}
	return 0
}

// entityShare returns the series' share of its entity channel's score,
// 0 before the channel has stepped with it. The caller holds e.mu.
func (s *series) entityShare() float64 {
	m := s.member
	if m.state == nil || m.index >= len(m.state.shares) {
		return 0
	}
	return m.state.shares[m.index]
}

// addEntityWeights adds the entity channel's evidence to the factors'
// weights: the channel multiplies the probability that no anomaly means a
// failure by model.EntitySurvival(score), that is adds −ln of it to the
// entity's total evidence −ln(1 − raw), which each signal receives in
// proportion to its share of the channel. Weights and shares are
// parallel.
func addEntityWeights(weights, shares []float64, score float64) {
	w := -math.Log(max(model.EntitySurvival(score), 1e-300))
	for i, sh := range shares {
		weights[i] += w * sh
	}
}

// restoredChannel is an entity's channel restored from a snapshot, and the
// keys of its members, in the detector's order.
type restoredChannel struct {
	members []string
	ch      *entityState
}

// resumeEntity gives st the channel the snapshot restored for the entity,
// if its series are the snapshot's, in the same order, and reports whether
// it did. The caller holds e.mu for writing.
func (e *Engine) resumeEntity(name string, st *entityState) bool {
	rc, ok := e.restoredEntities[name]
	if !ok || !sameMembers(st.members, rc.members) {
		return false
	}
	delete(e.restoredEntities, name)
	st.adopt(rc.ch)
	return true
}

// adopt takes over the detector and the last score of another state of
// the same entity's channel.
func (st *entityState) adopt(from *entityState) {
	st.det, st.z, st.score, st.shares = from.det, from.z, from.score, from.shares
	st.updated = max(st.updated, from.updated)
}

// sameMembers reports whether the series are those of the keys, in order.
func sameMembers(members []*series, keys []string) bool {
	if len(members) != len(keys) {
		return false
	}
	for i, s := range members {
		if s.key != keys[i] {
			return false
		}
	}
	return true
}

// adoptEntities takes over the channels of a replay's entities whose series
// are the same, in the same order, as this engine's: a replay of the past
// has warmed them up, where this engine's own would score 0 for their
// first EntityOptions.Warmup evaluations. r must not be evaluated after.
func (e *Engine) adoptEntities(r *Engine) {
	r.mu.RLock()
	got := make(map[string]*entityState, len(r.entities))
	for name, st := range r.entities {
		if st.det != nil {
			got[name] = st
		}
	}
	r.mu.RUnlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, st := range e.entities {
		rs := got[name]
		if rs == nil || len(rs.members) != len(st.members) {
			continue
		}
		same := true
		for i, s := range st.members {
			same = same && s.key == rs.members[i].key
		}
		if same {
			st.adopt(rs)
		}
	}
}
