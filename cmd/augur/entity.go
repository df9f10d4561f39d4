package main

import (
	"math"
	"sort"

	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/model"
)

// entityScorer scores one entity's rows online, as `augur detect` does for
// a wide file: each signal with its own Detector, and the entity as a whole
// with an EntityDetector over the signals' seasonal residuals.
type entityScorer struct {
	dets []*model.Detector
	res  *model.SeasonalResiduals
	ent  *model.EntityDetector
	y, z []float64

	// After observeRow: each signal's continuous score, the entity
	// score, each signal's share of it, the signals by share and the
	// failure probability (model.EntityAnomalyPrior).
	scores, shares []float64
	evidence       float64
	failure        float64
	order          []int
}

func newEntityScorer(signals int) *entityScorer {
	s := &entityScorer{
		dets:   make([]*model.Detector, signals),
		res:    model.NewSeasonalResiduals(signals, 0), // the step from the first rows: online
		ent:    model.NewEntityDetector(signals, model.EntityOptions{}),
		y:      make([]float64, signals),
		z:      make([]float64, signals),
		scores: make([]float64, signals),
		order:  make([]int, signals),
	}
	for i := range s.dets {
		s.dets[i] = model.NewDetector(model.DetectorOptions{})
	}
	return s
}

// observeRow scores row r of a wide table.
func (s *entityScorer) observeRow(t *ingest.Table, r int) {
	for c := range s.y {
		s.y[c] = t.Values[c][r]
	}
	ts := t.Times[r]
	for c, d := range s.dets {
		s.scores[c] = d.Observe(ts, s.y[c])
	}
	s.res.Observe(ts, s.y, s.z)
	s.evidence = s.ent.Update(s.z)
	s.shares = s.ent.Shares(s.shares)
	s.failure = model.EntityAnomalyPrior(s.scores, s.evidence)
	for i := range s.order {
		s.order[i] = i
	}
	sort.SliceStable(s.order, func(a, b int) bool { return s.shares[s.order[a]] > s.shares[s.order[b]] })
}

// maxScore is the largest of the signals' own scores.
func (s *entityScorer) maxScore() float64 {
	m := 0.0
	for _, v := range s.scores {
		m = math.Max(m, v)
	}
	return m
}
