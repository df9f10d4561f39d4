package model

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// Forecaster is a fitted model of one series that forecasts it online:
// OneStep and PredictInto read the state, Update advances it by one
// observation (a non-finite y is missing). HoltWinters, SeasonalNaive, AR and
// MSTL implement it, and Select returns one. Implementations are not safe for
// concurrent use.
type Forecaster interface {
	// OneStep returns the forecast of the next observation.
	OneStep() float64
	// Update feeds the next observation in O(1) (O(lags) for AR).
	Update(y float64)
	// PredictInto writes the h-step forecast and its central prediction
	// interval of nominal coverage level ∈ (0, 1) into dst.
	PredictInto(dst *Forecast, h int, level float64) error
	// Name is the model kind, e.g. "holtwinters_damped".
	Name() string
	// Params are the fitted parameters, for display.
	Params() map[string]float64
}

// checkPredict validates PredictInto's arguments, shared by the models.
func checkPredict(dst *Forecast, h int, level float64) error {
	if dst == nil {
		return errors.New("cannot predict into a nil forecast")
	}
	if h < 0 {
		return fmt.Errorf("cannot predict %d steps ahead", h)
	}
	if !(level > 0 && level < 1) {
		return fmt.Errorf("cannot use interval level %g: outside (0, 1)", level)
	}
	return nil
}

// SeasonalNaive forecasts each point by the last observed value one period
// earlier, ŷ_{t+h} = y_{t+h-m(⌊(h-1)/m⌋+1)}; Period 1 is the naive (random
// walk) forecast. Its h-step error standard deviation is σ·sqrt(⌊(h-1)/m⌋+1)
// with σ the root mean square of the in-sample seasonal differences
// (Hyndman & Athanasopoulos, "Forecasting: Principles and Practice", 3rd ed.,
// §5.5, Table 5.2).
type SeasonalNaive struct {
	Period int
	// Sigma is the RMS of y_t - y_{t-m} over the fitted series.
	Sigma float64
	// N is the number of observations consumed.
	N int

	ring []float64 // ring[pos] is the value one period before the next step
	pos  int
}

// FitSeasonalNaive fits a seasonal naive model of the given period (≤ 1 means
// 1, the naive forecast) to y, which needs at least one full period after its
// leading missing points. Missing points inside y repeat the value a period
// earlier.
func FitSeasonalNaive(y []float64, period int) (*SeasonalNaive, error) {
	for len(y) > 0 && !finite(y[0]) {
		y = y[1:]
	}
	if period < 1 {
		period = 1
	}
	if len(y) < period+1 {
		return nil, fmt.Errorf("cannot fit a period-%d seasonal naive model to %d points: %w", period, len(y), ErrTooShort)
	}
	m := &SeasonalNaive{Period: period, ring: make([]float64, period)}
	last := y[0]
	for i := range period {
		if finite(y[i]) {
			last = y[i]
		}
		m.ring[i] = last
	}
	var ss float64
	var k int
	for _, v := range y[period:] {
		if finite(v) {
			e := v - m.ring[m.pos]
			ss += e * e
			k++
		}
		m.Update(v)
	}
	if k > 0 {
		m.Sigma = math.Sqrt(ss / float64(k))
	}
	m.N = len(y)
	return m, nil
}

// OneStep returns the value one period before the next step.
func (m *SeasonalNaive) OneStep() float64 { return m.ring[m.pos] }

// Update records y; a missing y repeats the value a period earlier.
func (m *SeasonalNaive) Update(y float64) {
	if finite(y) {
		m.ring[m.pos] = y
	}
	m.pos++
	if m.pos == len(m.ring) {
		m.pos = 0
	}
	m.N++
}

// PredictInto writes the h-step seasonal naive forecast with its interval.
func (m *SeasonalNaive) PredictInto(dst *Forecast, h int, level float64) error {
	if err := checkPredict(dst, h, level); err != nil {
		return err
	}
	dst.Resize(h)
	dst.Level = level
	z := intervalZ(level)
	for j := 1; j <= h; j++ {
		p := m.ring[(m.pos+j-1)%m.Period]
		w := z * m.Sigma * math.Sqrt(float64((j-1)/m.Period+1))
		dst.Point[j-1], dst.Lower[j-1], dst.Upper[j-1] = p, p-w, p+w
	}
	return nil
}

// predictPoints writes the point forecasts of leads 1..len(dst).
func (m *SeasonalNaive) predictPoints(dst []float64) {
	for j := range dst {
		dst[j] = m.ring[(m.pos+j)%m.Period]
	}
}

// halfWidth returns the half-width of the lead-j interval.
func (m *SeasonalNaive) halfWidth(j int, level float64) float64 {
	return intervalZ(level) * m.Sigma * math.Sqrt(float64((j-1)/m.Period+1))
}

// Bytes returns the memory the model holds: its ring and header.
func (m *SeasonalNaive) Bytes() int { return int(unsafe.Sizeof(*m)) + 8*cap(m.ring) }

// Name is "snaive", or "naive" for period 1.
func (m *SeasonalNaive) Name() string {
	if m.Period == 1 {
		return "naive"
	}
	return "snaive"
}

// Params returns the period and σ.
func (m *SeasonalNaive) Params() map[string]float64 {
	return map[string]float64{"period": float64(m.Period), "sigma": m.Sigma}
}

// SelectOptions configures Select. The zero value is usable but finds no
// seasonality: set Periods.
type SelectOptions struct {
	// Periods are the seasonal periods worth testing, in steps (e.g. a day
	// and a week); DetectPeriods keeps those the series has.
	Periods []int
	// Horizon is the lead time, in steps, of the multi-step part of the
	// criterion; 0 means 1/24 of the shortest of Periods (an hour when it is
	// a day), at least 1.
	Horizon int
	// Level is the nominal coverage the intervals are calibrated for
	// (default 0.95).
	Level float64
	// Holdout is the fraction of y held out for validation (default 0.2).
	Holdout float64
	// MaxOrigins bounds the number of forecast origins of the multi-step
	// backtest (default 250: neighbouring origins share most of their errors, so more
	// cost time and add little); one-step errors use every held-out point.
	MaxOrigins int
	// Candidates restricts the models tried, by Name (nil: all that fit
	// but "lstm", which is tried only when named: see candidates).
	Candidates []string
	// AdaptRate is the step η of the online interval adaptation (see
	// Calibrated); 0 means 0.05, negative turns it off.
	AdaptRate float64
	// Kept, when set, is an earlier selection on a longer history whose
	// kind is refitted alone (Candidates is ignored), with its periods
	// instead of DetectPeriods' and the holdout capped as on that history:
	// y may then be only the last recentSpan points of it, too short to
	// detect a weekly period or to reach the cap by the Holdout fraction,
	// and the fit is the one Select would make of the same kind and
	// periods on the whole history (the validation error MASE is scaled
	// by the naive forecast's error on the points read).
	Kept *Selection
}

// Selection records Select's choice, for /api/v1/targets.
type Selection struct {
	// Model is the chosen model's Name.
	Model string
	// MASE is the chosen model's validation error (see Select); NaN when y
	// was too short to validate and a default was taken.
	MASE float64
	// Candidates maps every model fitted to its validation error (+Inf
	// when its forecasts were not finite; a lower bound, above the
	// chosen one's, for a model whose validation stopped early, see
	// backtest); models that could not be fitted are absent. Encoders that reject NaN and Inf (encoding/json) must map
	// them, e.g. to null.
	Candidates map[string]float64
	// Periods are the seasonal periods detected or, when none is and a
	// model of the hypothetical shortest period ("snaive", "holtwinters",
	// "holtwinters_damped") wins the backtest, that period; Horizon is the
	// multi-step lead.
	Periods []int
	Horizon int
}

// Lengths of Select's validation split: at least minHoldout held out and
// at most maxHoldout or the shortest period (whichever is more), at least
// minFitLen before, and of those only the last maxFitCycles longest periods
// or maxFitPoints points (whichever is more) are fitted on. The caps are
// what makes a long series at a fine step cheap: a fortnight at one minute
// is validated on its last 2016 points (a day and a half) after a fit on the
// four days before them, a third of the cost of six days and a 4032-point
// holdout. (On demo-like one-minute series, three days raised the
// out-of-sample error an hour ahead by 2 %, four by 1 %, while the smaller
// holdout alone changed it by under 0.5 %.)
const (
	minHoldout   = 12
	maxHoldout   = 2016
	minFitLen    = 24
	maxFitCycles = 4
	maxFitPoints = 4032
)

// cleanPeriods returns the periods of at least two steps, sorted, without
// repeats, in a new slice.
func cleanPeriods(periods []int) []int {
	periods = slices.DeleteFunc(slices.Clone(periods), func(p int) bool { return p < 2 })
	slices.Sort(periods)
	return slices.Compact(periods)
}

// selectSeason returns the periods Select's seasonal candidates use: those
// detected or, when none is, the shortest candidate period.
func selectSeason(detected, periods []int) []int {
	if len(detected) == 0 && len(periods) > 0 {
		return periods[:1]
	}
	return detected
}

// holdoutCap is the most points Select holds out given the season: the
// shortest period validates at least one whole cycle.
func holdoutCap(season []int) int {
	if len(season) > 0 {
		return max(maxHoldout, season[0])
	}
	return maxHoldout
}

// fitSpan is how many points before the holdout Select fits on.
func fitSpan(season []int) int {
	if len(season) > 0 {
		return max(maxFitCycles*season[len(season)-1], maxFitPoints)
	}
	return maxFitPoints
}

// recentSpan returns how many of the last points of a history of n
// points Select uses when it refits the kind sel chose with the same
// periods (SelectOptions.Kept): the fit's span and the holdout. ok is
// false when the holdout is not at its cap on n points (a shorter read
// would hold out fewer), or when the span is the whole history.
// periods are the candidate periods Select was given.
func recentSpan(n int, sel Selection, periods []int) (span int, ok bool) {
	season := selectSeason(sel.Periods, cleanPeriods(periods))
	c := holdoutCap(season)
	span = c + fitSpan(season)
	return span, int(float64(n)*0.2) >= c && span < n
}

// candidate is one model family that Select can try.
type candidate struct {
	name     string
	minLen   int // fewest points the fit needs
	priority int // validation order, lowest first: the usual winners
	fit      func(y []float64) (Forecaster, error)
	// named: tried only when SelectOptions.Candidates names it.
	named bool
}

// Select chooses a forecaster for y by rolling-origin backtest and returns it
// fitted and updated through all of y, with its intervals calibrated.
//
// The last Holdout of y (at least 12 points, at most 2016 or the shortest
// period) is held out. Every candidate is fitted on the points before (the
// last four longest periods or 4032 points, whichever is more: older data
// changes the parameters little and costs time) and run
// forward through the held-out part with Update, without refitting. Its
// one-step error is recorded at every held-out point, and its errors at every
// lead 1..Horizon at up to MaxOrigins evenly spaced origins. A candidate's
// score is the mean of its one-step MASE and its MASE over those leads, MASE
// being the mean absolute error divided by the in-sample MAE of the naive
// forecast on the fitted part (Hyndman & Koehler, "Another look at measures
// of forecast accuracy", IJF 2006). The lowest score wins. The usual winners
// (Holt-Winters) are validated first, and a candidate whose errors so far
// already put its score above the best one's is not validated further: it
// cannot win, and that saves most of the losers' validation. (Scoring lead
// Horizon alone misleads when the held-out part is short: with Horizon near
// the period every target falls a period after its origin, and a model
// without a season passes for seasonal naive.)
//
// Candidates: "naive", "snaive" (shortest period), "holt_damped",
// "holtwinters" and "holtwinters_damped" (shortest period; started from the
// line and seasonal profile of all full periods of the fitted part, not R's
// first two, see hwEstimatedInit), "mstl" (two or more detected periods), "ari" (ridge AR on recent and seasonal lags of the
// changes of y). An AR on the levels themselves is not a candidate: it
// reverts to the training mean, so a level shift after the fit (a host
// drained, a disk filled) biases every forecast; on NAB's grok_asg_anomaly it
// had 3.5 times ETS's error while winning the validation. "lstm" (the LSTM
// forecaster within a fixed training budget, lstmCandidate) is tried only
// when Candidates names it.
//
// When DetectPeriods finds no period, the shortest of Periods is still tried
// by the seasonal candidates (when the fitted part holds two cycles) and the
// backtest decides: the autocorrelation test misses seasons that are strong
// but share the variance with persistent noise (a daily sine under AR(1)
// noise, bench/hwbench), and it cannot test a season with fewer than three
// cycles. That is also the cold start: usable after one period of data
// (snaive), better as history grows. Below 36 points nothing is validated
// and the naive model is returned with MASE NaN.
//
// The returned model's intervals are split-conformal: the half-widths are
// scaled by the Level-quantile of |error|/half-width over the held-out one-step
// and Horizon-step errors (interpolated linearly in the lead time between the
// two, constant beyond), so that they cover about Level of points the model
// did not see (Vovk et al., "Algorithmic Learning in a Random World", 2005).
func Select(y []float64, opts SelectOptions) (Forecaster, Selection, error) {
	for len(y) > 0 && !finite(y[0]) {
		y = y[1:]
	}
	if opts.Level == 0 {
		opts.Level = 0.95
	}
	if !(opts.Level > 0 && opts.Level < 1) {
		return nil, Selection{}, fmt.Errorf("cannot calibrate intervals at level %g: outside (0, 1)", opts.Level)
	}
	if opts.Holdout == 0 {
		opts.Holdout = 0.2
	}
	if !(opts.Holdout > 0 && opts.Holdout < 1) {
		return nil, Selection{}, fmt.Errorf("cannot hold out a fraction %g of the series", opts.Holdout)
	}
	if opts.MaxOrigins <= 0 {
		opts.MaxOrigins = 250
	}
	periods := cleanPeriods(opts.Periods)
	if opts.Horizon <= 0 {
		opts.Horizon = 1
		if len(periods) > 0 {
			opts.Horizon = max(1, periods[0]/24)
		}
	}
	sel := Selection{Horizon: opts.Horizon, Candidates: map[string]float64{}, MASE: math.NaN()}
	n := len(y)
	if n < 3 {
		return nil, sel, fmt.Errorf("cannot select a model for %d points: %w", n, ErrTooShort)
	}
	nVal := max(int(float64(n)*opts.Holdout), minHoldout)
	nFit := n - nVal
	if nFit < minFitLen {
		m, err := FitSeasonalNaive(y, 1)
		if err != nil {
			return nil, sel, err
		}
		sel.Model = m.Name()
		return m, sel, nil
	}

	// Periods: those detected; when none is, the shortest candidate as a
	// hypothesis for the backtest to confirm or reject.
	want := opts.Candidates
	if k := opts.Kept; k != nil {
		sel.Periods, want = slices.Clone(k.Periods), []string{k.Model}
	} else {
		sel.Periods = DetectPeriods(y, periods)
	}
	season := selectSeason(sel.Periods, periods)
	if c := holdoutCap(season); nVal > c || opts.Kept != nil {
		nVal = min(nVal, c)
		if opts.Kept != nil {
			nVal = c
		}
		nFit = n - nVal
		if nFit < minFitLen {
			return nil, sel, fmt.Errorf("cannot refit %s on %d points: %w", opts.Kept.Model, n, ErrTooShort)
		}
	}
	cands := slices.DeleteFunc(candidates(season), func(c candidate) bool {
		if want == nil {
			return c.named
		}
		return !slices.Contains(want, c.name)
	})

	scale := naiveMAE(y[:nFit])
	from := max(0, nFit-fitSpan(season))
	// The likely winners are validated first, so that the others can be
	// abandoned early (see backtest); ties still go to the earlier of
	// candidates' order.
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cands[a].priority - cands[b].priority })
	var best Forecaster
	var bestCal calibration
	bestScore, bestIdx := math.Inf(1), -1
	for _, i := range order {
		c := cands[i]
		if nFit-from < c.minLen {
			continue
		}
		m, err := c.fit(y[from:nFit])
		if err != nil {
			continue // e.g. a constant stretch the optimiser cannot use
		}
		mae, cal := backtest(m, y[nFit:], opts.Horizon, opts.MaxOrigins, opts.Level, bestScore*scale)
		score := mae / scale
		if math.IsNaN(score) {
			score = math.Inf(1)
		}
		sel.Candidates[c.name] = score
		if score < bestScore || (score == bestScore && i < bestIdx) || best == nil {
			best, bestScore, bestCal, bestIdx = m, score, cal, i
		}
	}
	if best == nil {
		return nil, sel, errors.New("cannot fit any candidate model")
	}
	sel.Model = best.Name()
	sel.MASE = bestScore
	if len(sel.Periods) == 0 && len(season) > 0 {
		switch sel.Model {
		case "snaive", "holtwinters", "holtwinters_damped":
			// The backtest confirmed the season that detection missed.
			sel.Periods = season
		}
	}
	bestCal.h = opts.Horizon
	if opts.AdaptRate == 0 {
		opts.AdaptRate = 0.05
	}
	return &Calibrated{Forecaster: best, cal: bestCal, level: opts.Level, eta: max(opts.AdaptRate, 0)}, sel, nil
}

// lstmCandidate is the LSTM forecaster as a candidate: smaller than the
// seed's 64/32 units and trained on at most 1000 windows for 10 epochs,
// about 3·10⁹ multiply-adds a series, a few seconds (BenchmarkSelectLSTM):
// its time budget. It is not among the default candidates: on NAB's
// real series it never won the backtest (see README, Known limitations).
var lstmCandidate = LSTMForecastOptions{Window: 48, MaxSamples: 1000,
	LSTMOptions: LSTMOptions{Hidden1: 16, Hidden2: 8, Epochs: 10, LearningRate: 3e-3, Seed: 1}}

// candidates lists the model families for the given seasonal periods.
func candidates(season []int) []candidate {
	cs := []candidate{
		{"naive", 2, 6, func(y []float64) (Forecaster, error) { return FitSeasonalNaive(y, 1) }, false},
		{"holt_damped", 3, 4, func(y []float64) (Forecaster, error) {
			return FitHoltWinters(y, HoltWintersOptions{Damped: true})
		}, false},
		{"ari", minFitLen, 3, func(y []float64) (Forecaster, error) {
			return FitAR(y, AROptions{Periods: season, Difference: true})
		}, false},
		{"lstm", lstmCandidate.Window + 8, 7, func(y []float64) (Forecaster, error) {
			return FitLSTMForecaster(y, lstmCandidate)
		}, true},
	}
	if len(season) == 0 {
		return cs
	}
	p := season[0]
	// The damped model starts from the undamped one's optimum, which it
	// fits first when the undamped candidate was not tried (a restored
	// choice), so that both paths give the same model.
	var undamped *HoltWinters
	var init *HoltWintersInit
	fitUndamped := func(y []float64) (*HoltWinters, error) {
		init = hwEstimatedInit(y, p)
		m, err := FitHoltWinters(y, HoltWintersOptions{Period: p, Init: init})
		undamped = m
		return m, err
	}
	cs = append(cs,
		candidate{"snaive", p + 1, 5, func(y []float64) (Forecaster, error) { return FitSeasonalNaive(y, p) }, false},
		candidate{"holtwinters", 2 * p, 0, func(y []float64) (Forecaster, error) { return fitUndamped(y) }, false},
		candidate{"holtwinters_damped", 2 * p, 1, func(y []float64) (Forecaster, error) {
			if undamped == nil {
				if _, err := fitUndamped(y); err != nil {
					return nil, err
				}
			}
			start := [4]float64{undamped.Alpha, undamped.Beta, undamped.Gamma, 0.95}
			return FitHoltWinters(y, HoltWintersOptions{Period: p, Damped: true, Init: init, start: &start})
		}, false},
	)
	if len(season) > 1 {
		long := season[len(season)-1]
		cs = append(cs, candidate{"mstl", long + 2*p, 2, func(y []float64) (Forecaster, error) {
			return FitMSTL(y, MSTLOptions{Periods: season})
		}, false})
	}
	return cs
}

// naiveMAE is the mean absolute one-step change of y, MASE's scale; 1 when
// y is constant (so that errors stay comparable instead of infinite).
func naiveMAE(y []float64) float64 {
	var sum float64
	var k int
	for i := 1; i < len(y); i++ {
		if d := y[i] - y[i-1]; finite(d) {
			sum += math.Abs(d)
			k++
		}
	}
	if k == 0 || sum == 0 {
		return 1
	}
	return sum / float64(k)
}

// pointPredictor is a Forecaster whose interval half-widths depend on the
// lead time only, not on the state: backtest then forecasts points alone
// and computes the two half-widths it needs once. HoltWinters,
// SeasonalNaive, AR and MSTL implement it.
type pointPredictor interface {
	// predictPoints writes the point forecasts of leads 1..len(dst).
	predictPoints(dst []float64)
	// halfWidth returns the half-width of the lead-j interval at level.
	halfWidth(j int, level float64) float64
}

// backtest runs m forward through val and returns its validation error,
// the mean of its one-step mean absolute error and its mean absolute error
// over leads 1..h (the one-step one alone when h is 1), and the interval
// calibration. The partial sums of absolute errors only grow, so once
// they, divided by the final counts, exceed limit the error cannot end
// below it: backtest then stops and returns that lower bound (and no
// calibration), which saves most of the validation of candidates that
// lose clearly.
func backtest(m Forecaster, val []float64, h, maxOrigins int, level, limit float64) (mae float64, cal calibration) {
	lastOrigin := max(0, len(val)-h) // the last origin with all h leads inside
	stride := max(1, (lastOrigin+maxOrigins)/maxOrigins)
	// The final counts of the one-step and the multi-step errors, the
	// latter those in each origin's window val[i:i+h], counted as the
	// window slides (lo..hi holds nIn finite values).
	var n1All, nHAll int
	for _, v := range val {
		if finite(v) {
			n1All++
		}
	}
	if h > 1 {
		lo, hi, nIn := 0, 0, 0
		for i := 0; i <= lastOrigin; i += stride {
			for end := min(i+h, len(val)); hi < end; hi++ {
				if finite(val[hi]) {
					nIn++
				}
			}
			for ; lo < i; lo++ {
				if finite(val[lo]) {
					nIn--
				}
			}
			nHAll += nIn
		}
	}
	bound := func(sum1, sumH float64) float64 {
		b := sum1 / float64(max(n1All, 1))
		if h > 1 {
			b = (b + sumH/float64(max(nHAll, 1))) / 2
		}
		return b
	}
	pp, fixed := m.(pointPredictor)
	var w1, wh float64
	if fixed {
		w1, wh = pp.halfWidth(1, level), pp.halfWidth(h, level)
	}
	var f Forecast
	if fixed {
		f.Point = make([]float64, h) // the intervals are not needed
	} else {
		f.Resize(h)
	}
	s1 := make([]float64, 0, n1All)
	var sH []float64
	if h > 1 {
		sH = make([]float64, 0, lastOrigin/stride+1)
	}
	var sum1, sumH float64
	var n1, nH int
	for i, v := range val {
		if h > 1 && i%stride == 0 && i <= lastOrigin {
			ok := true
			if fixed {
				pp.predictPoints(f.Point)
			} else if ok = m.PredictInto(&f, h, level) == nil; ok {
				wh = f.Upper[h-1] - f.Point[h-1]
			}
			for j := range min(h, len(val)-i) {
				if w := val[i+j]; ok && finite(w) {
					sumH += math.Abs(w - f.Point[j])
					nH++
				}
			}
			if j := i + h - 1; ok && j < len(val) && finite(val[j]) && wh > 0 {
				sH = append(sH, math.Abs(val[j]-f.Point[h-1])/wh)
			}
		}
		if finite(v) {
			p := m.OneStep()
			e := v - p
			sum1 += math.Abs(e)
			n1++
			if !fixed {
				w1 = 0
				if m.PredictInto(&f, 1, level) == nil {
					w1 = f.Upper[0] - f.Point[0]
				}
			}
			if w1 > 0 {
				s1 = append(s1, math.Abs(e)/w1)
			}
		}
		m.Update(v)
		if i%64 == 63 {
			if b := bound(sum1, sumH); b > limit {
				return b, calibration{}
			}
		}
	}
	mae1, maeH := math.NaN(), math.NaN()
	if n1 > 0 {
		mae1 = sum1 / float64(n1)
	}
	if nH > 0 {
		maeH = sumH / float64(nH)
	} else if h == 1 {
		maeH = mae1
	}
	cal = calibration{f1: conformalFactor(s1, level), fh: conformalFactor(sH, level)}
	if len(sH) == 0 {
		cal.fh = cal.f1
	}
	if h > 1 {
		return (mae1 + maeH) / 2, cal
	}
	return mae1, cal
}

// conformalFactor is the finite-sample split-conformal quantile of the
// ratios, the ⌈(n+1)·level⌉-th smallest (reordering r); 1 when there are
// none.
func conformalFactor(r []float64, level float64) float64 {
	if len(r) == 0 {
		return 1
	}
	k := int(math.Ceil(float64(len(r)+1)*level)) - 1
	return nthElement(r, min(max(k, 0), len(r)-1))
}

// calibration holds the interval scale factors at lead 1 and lead h.
type calibration struct {
	f1, fh float64
	h      int
}

func (c calibration) at(j int) float64 {
	if j >= c.h || c.h <= 1 {
		return c.fh
	}
	return c.f1 + (c.fh-c.f1)*float64(j-1)/float64(c.h-1)
}

// Calibrated wraps a Forecaster and rescales the half-widths of its
// prediction intervals: by split-conformal factors learnt on held-out data
// (see Select), and by an online factor k_t that adaptive conformal
// inference keeps at the nominal miss rate under distribution shift (Gibbs &
// Candès, "Adaptive Conformal Inference Under Distribution Shift", NeurIPS
// 2021), in multiplicative form: after each observation,
//
//	log k_{t+1} = log k_t + η·(miss_t - (1 - level)),
//
// where miss_t is 1 when y_t fell outside the one-step interval, so that the
// long-run one-step miss rate tends to 1 - level whatever the data do (k is
// kept in [1/20, 20]). The same k widens every lead time. Update costs one
// one-step PredictInto of the wrapped model. The factors were learnt at
// Select's level; at other levels they are applied as they are.
type Calibrated struct {
	Forecaster
	cal   calibration
	level float64 // the level the factors are for
	eta   float64
	logK  float64
	one   Forecast // Update's scratch
}

// maxLogK bounds the online factor to [1/20, 20].
var maxLogK = math.Log(20)

// Update scores y against the current one-step interval, adapts k and
// feeds y to the wrapped model.
func (c *Calibrated) Update(y float64) {
	if c.eta > 0 && finite(y) && c.Forecaster.PredictInto(&c.one, 1, c.level) == nil {
		p := c.one.Point[0]
		w := (c.one.Upper[0] - p) * c.cal.at(1) * math.Exp(c.logK)
		miss := 0.0
		if math.Abs(y-p) > w {
			miss = 1
		}
		c.logK = math.Max(-maxLogK, math.Min(maxLogK, c.logK+c.eta*(miss-(1-c.level))))
	}
	c.Forecaster.Update(y)
}

// PredictInto forecasts with the wrapped model and rescales the intervals.
func (c *Calibrated) PredictInto(dst *Forecast, h int, level float64) error {
	if err := c.Forecaster.PredictInto(dst, h, level); err != nil {
		return err
	}
	adapt := math.Exp(c.logK)
	for j := range h {
		k := c.cal.at(j+1) * adapt
		p := dst.Point[j]
		dst.Lower[j] = p - k*(p-dst.Lower[j])
		dst.Upper[j] = p + k*(dst.Upper[j]-p)
	}
	return nil
}

// Bytes returns the memory the wrapped model and the wrapper hold.
func (c *Calibrated) Bytes() int {
	return int(unsafe.Sizeof(*c)) + ForecasterBytes(c.Forecaster) + 8*(cap(c.one.Point)+cap(c.one.Lower)+cap(c.one.Upper))
}

func (c *Calibrated) compact() { compact(c.Forecaster) }

// ForecasterBytes returns the memory a fitted forecaster holds (its state,
// parameters and scratch), or 0 for a model that does not say.
func ForecasterBytes(f Forecaster) int {
	if s, ok := f.(interface{ Bytes() int }); ok {
		return s.Bytes()
	}
	return 0
}

// compact moves a fitted model's seasonal state to 16 bits where the model
// supports it (HoltWinters, MSTL's Holt-Winters part; see hwState.compact).
func compact(f Forecaster) {
	if c, ok := f.(interface{ compact() }); ok {
		c.compact()
	}
}

// Params returns the wrapped model's parameters and the interval factors
// "interval_scale_1", "interval_scale_h" and "interval_adapt" (k_t).
func (c *Calibrated) Params() map[string]float64 {
	p := c.Forecaster.Params()
	p["interval_scale_1"] = c.cal.f1
	p["interval_scale_h"] = c.cal.fh
	p["interval_adapt"] = math.Exp(c.logK)
	return p
}
