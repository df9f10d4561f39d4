package engine

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/augur-sre/augur/model"
)

// indexedHorizons are the horizons whose capacity requests a State answers
// from a capacityIndex: /api/v1/capacity's default and the month that
// dashboards and bench/scale.sh ask about.
var indexedHorizons = [...]time.Duration{DefaultCapacityHorizon, 30 * 24 * time.Hour}

// indexedTop is how many of the soonest series to their limits a
// capacityIndex answers ahead of the requests: a request for up to as
// many, of the whole fleet or of the series a matcher selects among them,
// takes them as they are.
const indexedTop = 100

// capacityIndex holds, for one State and each of indexedHorizons, what the
// requests sorted by ETA against each series' limit (no threshold) are
// answered from, computed once after the State is published (see
// Engine.publish): a request otherwise bounds the median of every plan
// and answers dozens of month-long crossing curves, a cost that grows with
// the fleet (BenchmarkCapacityEngine). It is immutable once built.
type capacityIndex struct {
	st       *State
	horizons [len(indexedHorizons)]horizonIndex
}

// horizonIndex is a capacityIndex's search at one horizon.
type horizonIndex struct {
	h int64 // ms
	// items are the plans with a limit, against it, in label order, and
	// order the bounds of their medians (medianOrder).
	items []capacityItem
	order []bounded
	// top is searchTop's first indexedTop items, inTop their indices;
	// fewer mean it holds every item with a median within h (complete).
	top      []found
	inTop    map[int]bool
	complete bool
	// known holds the answers the search computed of items not in top,
	// and, when complete, those of the first items in label order after
	// it (others).
	known map[int]Capacity
	// short are the items with less history than h.
	short []int
}

// newCapacityIndex builds st's capacity index on grid g, its horizons in
// parallel.
func newCapacityIndex(st *State, g model.Grid) *capacityIndex {
	x := &capacityIndex{st: st}
	var wg sync.WaitGroup
	for i, h := range indexedHorizons {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x.horizons[i] = newHorizonIndex(st.plans, g, h.Milliseconds(), indexedTop)
		}()
	}
	wg.Wait()
	return x
}

// newHorizonIndex builds the index of plans at horizon h ms on grid g with
// the first n items answered.
func newHorizonIndex(plans []capacityPlan, g model.Grid, h int64, n int) horizonIndex {
	x := horizonIndex{h: h}
	for i := range plans {
		p := &plans[i]
		if math.IsNaN(p.limit) {
			continue
		}
		if p.shortOf(h) {
			x.short = append(x.short, len(x.items))
		}
		x.items = append(x.items, capacityItem{p, p.limit})
	}
	var sc scratch
	x.order = medianOrder(&sc, x.items, g, h)
	x.top, x.known = searchTop(&sc, x.items, x.order, n, g, h)
	x.complete = len(x.top) < n
	x.inTop = make(map[int]bool, len(x.top))
	for _, f := range x.top {
		x.inTop[f.i] = true
	}
	if x.complete {
		for _, f := range others(&sc, x.items, func(i int) bool { return x.inTop[i] }, x.known, n-len(x.top), g, h) {
			x.known[f.i] = f.c
		}
	}
	return x
}

// indexed returns the index at q's horizon of the State st when the index
// holds q's answer: sorted by ETA, limited, against the series' limits,
// and st indexed already; else nil.
func (e *Engine) indexed(st *State, q CapacityQuery) *horizonIndex {
	x := e.capIndex.Load()
	if x == nil || x.st != st || q.Threshold != nil || !q.SortByETA || q.Limit <= 0 {
		return nil
	}
	if i := slices.Index(indexedHorizons[:], q.Horizon); i >= 0 {
		return &x.horizons[i]
	}
	return nil
}

// soonest returns the first k answers in ETA order of the items match
// selects (all when nil), as capacity does, and whether some selected
// series have less history than the horizon. It takes them from top when
// it holds k selected items, or every selected item with a median: the
// first k selected of top are the first k selected overall, since top
// holds the first items overall. Otherwise it searches the selected items
// in the order computed.
func (x *horizonIndex) soonest(sc *scratch, match Matcher, k int, g model.Grid) ([]Capacity, bool) {
	sel := func(i int) bool { return match == nil || match(x.items[i].p.labels) }
	short := slices.ContainsFunc(x.short, sel)
	var out []Capacity
	for _, f := range x.top {
		if len(out) == k {
			break
		}
		if sel(f.i) {
			out = append(out, f.c)
		}
	}
	switch {
	case len(out) == k:
		return out, short
	case x.complete:
		for _, f := range others(sc, x.items, func(i int) bool { return x.inTop[i] || !sel(i) }, x.known, k-len(out), g, x.h) {
			out = append(out, f.c)
		}
		return out, short
	}
	items, order := x.items, x.order
	if match != nil {
		// The selected items, renumbered, keep the order's.
		at := make([]int, len(x.items))
		items = nil
		for i, it := range x.items {
			at[i] = -1
			if sel(i) {
				at[i] = len(items)
				items = append(items, it)
			}
		}
		order = make([]bounded, 0, len(x.order))
		for _, b := range x.order {
			if j := at[b.i]; j >= 0 {
				order = append(order, bounded{j, b.lb})
			}
		}
	}
	if k >= len(items) {
		return answerAll(items, CapacityQuery{SortByETA: true, Limit: k}, g, x.h), short
	}
	return soonest(sc, items, order, k, g, x.h), short
}
