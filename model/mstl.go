package model

import (
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// Decomposition is an additive decomposition y = Trend + Σ Seasonal[i] +
// Remainder, with Seasonal[i] of period Periods[i].
type Decomposition struct {
	Periods   []int
	Trend     []float64
	Seasonal  [][]float64
	Remainder []float64
}

// DecomposeMSTL decomposes y into a trend, one periodic seasonal component
// per period and a remainder, by the backfitting of MSTL (Bandara, Hyndman &
// Bergmeir, "MSTL: A Seasonal-Trend Decomposition Algorithm for Time Series
// with Multiple Seasonal Patterns", 2021) with periodic seasonal windows: for
// iterations rounds, and for each period p from the shortest, the other
// components are removed, the trend is the centred moving average over p (as
// R's decompose; held constant at the ends), and the seasonal component is
// the zero-mean per-phase mean of what remains. This is R's
// forecast::mstl(s.window = "periodic") with moving averages instead of
// loess; the final trend is the centred moving average over the longest
// period of the seasonally adjusted series. Missing values are interpolated
// first. iterations ≤ 0 means 2 (R's default).
func DecomposeMSTL(y []float64, periods []int, iterations int) (*Decomposition, error) {
	ps := slices.Clone(periods)
	slices.Sort(ps)
	ps = slices.Compact(ps)
	ps = slices.DeleteFunc(ps, func(p int) bool { return p < 2 })
	if len(ps) == 0 {
		return nil, fmt.Errorf("cannot decompose without a period ≥ 2")
	}
	if iterations <= 0 {
		iterations = 2
	}
	x := fillGaps(y)
	if x == nil {
		return nil, fmt.Errorf("cannot decompose a series without finite values")
	}
	if len(x) < 2*ps[len(ps)-1] {
		return nil, fmt.Errorf("cannot decompose %d points with period %d (need two periods): %w", len(x), ps[len(ps)-1], ErrTooShort)
	}
	d := &Decomposition{Periods: ps, Seasonal: make([][]float64, len(ps))}
	profiles := make([][]float64, len(ps))
	for i, p := range ps {
		d.Seasonal[i] = make([]float64, len(x))
		profiles[i] = make([]float64, p)
	}
	adj := make([]float64, len(x))
	for range iterations {
		for i, p := range ps {
			// adj = x minus the other seasonal components.
			copy(adj, x)
			for j := range ps {
				if j != i {
					for t, s := range d.Seasonal[j] {
						adj[t] -= s
					}
				}
			}
			trend := maTrend(adj, p)
			phaseMeans(profiles[i], adj, trend)
			for t := range x {
				d.Seasonal[i][t] = profiles[i][t%p]
			}
		}
	}
	copy(adj, x)
	for i := range ps {
		for t, s := range d.Seasonal[i] {
			adj[t] -= s
		}
	}
	d.Trend = maTrend(adj, ps[len(ps)-1])
	d.Remainder = make([]float64, len(x))
	for t := range x {
		d.Remainder[t] = adj[t] - d.Trend[t]
	}
	return d, nil
}

// maTrend is centredMA over p aligned with x, held constant at both ends.
func maTrend(x []float64, p int) []float64 {
	ma := centredMA(x, p)
	h := p / 2
	tr := make([]float64, len(x))
	for t := range tr {
		i := min(max(t-h, 0), len(ma)-1)
		tr[t] = ma[i]
	}
	return tr
}

// phaseMeans sets prof[k] to the mean of x-trend over t ≡ k (mod len(prof)),
// centred to zero mean over k.
func phaseMeans(prof, x, trend []float64) {
	p := len(prof)
	cnt := make([]int, p)
	clear(prof)
	for t, v := range x {
		prof[t%p] += v - trend[t]
		cnt[t%p]++
	}
	var mean float64
	for k := range prof {
		prof[k] /= float64(max(cnt[k], 1))
		mean += prof[k]
	}
	mean /= float64(p)
	for k := range prof {
		prof[k] -= mean
	}
}

// MSTLOptions configures FitMSTL.
type MSTLOptions struct {
	// Periods are the seasonal periods in steps, at least two (e.g. a day
	// and a week).
	Periods []int
	// Damped selects a damped trend for the Holt-Winters part.
	Damped bool
}

// MSTL forecasts a series with several seasonal periods: the components of
// the longer periods are estimated once by DecomposeMSTL and held fixed
// (periodic), and the seasonally adjusted series y_t - Σ_{i≥1} s_i(t) is
// forecast by an additive Holt-Winters model with the shortest period, which
// keeps adapting the daily pattern, level and trend online. This is the
// forecasting scheme of forecast::stlf/mstl (decompose, forecast the adjusted
// series, add the seasonal components back) with Holt-Winters taking the
// shortest season. Intervals are Holt-Winters' on the adjusted series.
type MSTL struct {
	// Periods are the fixed periods (all but the shortest).
	Periods []int
	// Profiles[i] is the fixed seasonal component of Periods[i] by phase.
	Profiles [][]float64
	// HW forecasts the adjusted series.
	HW *HoltWinters

	pos []int // phase of the next step in each profile
}

// FitMSTL fits an MSTL model; y needs two cycles of its longest period.
func FitMSTL(y []float64, opts MSTLOptions) (*MSTL, error) {
	for len(y) > 0 && !finite(y[0]) {
		y = y[1:]
	}
	ps := slices.Clone(opts.Periods)
	slices.Sort(ps)
	ps = slices.Compact(ps)
	if len(ps) < 2 || ps[0] < 2 {
		return nil, fmt.Errorf("cannot fit MSTL with periods %v: need two periods ≥ 2", opts.Periods)
	}
	dec, err := DecomposeMSTL(y, ps, 2)
	if err != nil {
		return nil, err
	}
	m := &MSTL{Periods: ps[1:], pos: make([]int, len(ps)-1)}
	adj := slices.Clone(y)
	for i := 1; i < len(ps); i++ {
		prof := make([]float64, ps[i])
		for k := range prof {
			prof[k] = dec.Seasonal[i][k]
		}
		m.Profiles = append(m.Profiles, prof)
		for t := range adj {
			adj[t] -= prof[t%ps[i]]
		}
		m.pos[i-1] = len(y) % ps[i]
	}
	m.HW, err = FitHoltWinters(adj, HoltWintersOptions{Period: ps[0], Damped: opts.Damped})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// fixed returns the sum of the fixed components j steps after the next.
func (m *MSTL) fixed(j int) float64 {
	var s float64
	for i, prof := range m.Profiles {
		s += prof[(m.pos[i]+j)%len(prof)]
	}
	return s
}

// OneStep returns Holt-Winters' forecast plus the fixed components.
func (m *MSTL) OneStep() float64 { return m.HW.OneStep() + m.fixed(0) }

// Update feeds y minus the fixed components to Holt-Winters, in O(periods).
func (m *MSTL) Update(y float64) {
	m.HW.Update(y - m.fixed(0))
	for i := range m.pos {
		m.pos[i]++
		if m.pos[i] == len(m.Profiles[i]) {
			m.pos[i] = 0
		}
	}
}

// PredictInto writes Holt-Winters' forecast of the adjusted series plus the
// fixed components.
func (m *MSTL) PredictInto(dst *Forecast, h int, level float64) error {
	if err := m.HW.PredictInto(dst, h, level); err != nil {
		return err
	}
	for j := range h {
		s := m.fixed(j)
		dst.Point[j] += s
		dst.Lower[j] += s
		dst.Upper[j] += s
	}
	return nil
}

// Bytes returns the memory the model holds: its Holt-Winters part and the
// fixed profiles (float64: a weekly one at one-minute steps is 80 KB, which
// only a history of three weeks can select, see DetectPeriods).
func (m *MSTL) Bytes() int {
	n := int(unsafe.Sizeof(*m)) + m.HW.Bytes() + 8*(cap(m.Periods)+cap(m.pos)) + 24*cap(m.Profiles)
	for _, p := range m.Profiles {
		n += 8 * cap(p)
	}
	return n
}

func (m *MSTL) compact() { m.HW.compact() }

// predictPoints writes the point forecasts of leads 1..len(dst).
func (m *MSTL) predictPoints(dst []float64) {
	m.HW.predictPoints(dst)
	for j := range dst {
		dst[j] += m.fixed(j)
	}
}

// halfWidth returns the half-width of the lead-j interval, Holt-Winters'.
func (m *MSTL) halfWidth(j int, level float64) float64 { return m.HW.halfWidth(j, level) }

// Name is "mstl".
func (m *MSTL) Name() string { return "mstl" }

// Params returns Holt-Winters' parameters and the fixed periods as
// "period2", "period3", ....
func (m *MSTL) Params() map[string]float64 {
	p := m.HW.Params()
	for i, q := range m.Periods {
		p[fmt.Sprintf("period%d", i+2)] = float64(q)
	}
	var amp float64
	for _, prof := range m.Profiles {
		lo, hi := slices.Min(prof), slices.Max(prof)
		amp = math.Max(amp, hi-lo)
	}
	p["fixed_amplitude"] = amp
	return p
}
