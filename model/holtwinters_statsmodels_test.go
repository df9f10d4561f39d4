package model

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// smCase is one statsmodels ExponentialSmoothing reference fixture written by
// testdata/gen_statsmodels.py (Debian python3-statsmodels 0.13.5): a fit of
// the first n points of an R fixture's series, the last 24 held out.
//
// statsmodels' smoothing_level and smoothing_trend are R's α and β (Holt's
// form of the trend recursion, although statsmodels bounds the trend
// parameter by smoothing_level as if it were Hyndman's β* = αβ), and
// smoothing_seasonal is Hyndman's γ* = γ(1-α), the weight of the one-step
// error in the seasonal update, so augur's (R's) γ = smoothing_seasonal/(1-α).
type smCase struct {
	name, series string
	y            []float64 // the whole series; the fit used y[:n]
	n, period    int
	damped       bool
	params       map[string]float64
	init         HoltWintersInit
	fitted       []float64
	forecast     []float64
}

var smCases = []struct{ name, series string }{
	{"co2", "co2"},
	{"co2_damped", "co2"},
	{"synthetic24", "synthetic24"},
	{"synthetic24_damped", "synthetic24"},
	{"synthetic288", "synthetic288"},
}

func loadSMCase(t testing.TB, name, series string) smCase {
	t.Helper()
	c := smCase{name: name, series: series, params: map[string]float64{}}
	for _, r := range readCSV(t, filepath.Join("testdata", "hw_"+series+"_input.csv")) {
		c.y = append(c.y, parseFloat(t, r[0]))
	}
	base := filepath.Join("testdata", "sm_"+name)
	for _, r := range readCSV(t, base+"_params.csv") {
		c.params[r[0]] = parseFloat(t, r[1])
	}
	c.n, c.period, c.damped = int(c.params["n"]), int(c.params["period"]), c.params["damped"] == 1
	c.init = HoltWintersInit{Level: c.params["initial_level"], Trend: c.params["initial_trend"]}
	for i := range c.period {
		v, ok := c.params[fmt.Sprintf("s%d", i)]
		if !ok {
			t.Fatalf("%s: no s%d", base, i)
		}
		c.init.Season = append(c.init.Season, v)
	}
	for _, r := range readCSV(t, base+"_fitted.csv") {
		c.fitted = append(c.fitted, parseFloat(t, r[1]))
	}
	for _, r := range readCSV(t, base+"_forecast.csv") {
		c.forecast = append(c.forecast, parseFloat(t, r[1]))
	}
	if len(c.fitted) != c.n || c.n+len(c.forecast) != len(c.y) {
		t.Fatalf("%s: %d fitted, %d forecast for %d of %d points", base, len(c.fitted), len(c.forecast), c.n, len(c.y))
	}
	return c
}

// options returns statsmodels' parameters in augur's parametrisation, with
// its initial states.
func (c *smCase) options() HoltWintersOptions {
	alpha := c.params["smoothing_level"]
	opts := HoltWintersOptions{
		Period: c.period,
		Damped: c.damped,
		Alpha:  ptr(alpha),
		Beta:   ptr(c.params["smoothing_trend"]),
		Gamma:  ptr(c.params["smoothing_seasonal"] / (1 - alpha)),
		Init:   &c.init,
	}
	if c.damped {
		opts.Phi = ptr(c.params["damping_trend"])
	}
	return opts
}

// relErr returns |got-want| relative to |want|, with |want| < 1 counting as 1
// (the measure approxEqual bounds).
func relErr(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(1, math.Abs(want))
}

// TestHoltWintersReproducesStatsmodels runs augur's filter with statsmodels'
// parameters and initial states and checks statsmodels' fitted values, SSE
// and 24-step forecasts (those at multiples of the period corrected for a
// statsmodels bug, see below). The filters are algebraically equal (augur's
// error-correction form and its component form against statsmodels'
// component form), so only rounding separates them: about 1e-14 relative
// is reached, 1e-9 is asserted.
func TestHoltWintersReproducesStatsmodels(t *testing.T) {
	const tol = 1e-9
	for _, cc := range smCases {
		t.Run(cc.name, func(t *testing.T) {
			c := loadSMCase(t, cc.name, cc.series)
			opts := c.options()
			if g := *opts.Gamma; !(g >= 0 && g <= 1) {
				t.Fatalf("gamma = %g outside [0, 1]: statsmodels' gamma* exceeds 1 - alpha", g)
			}
			y := c.y[:c.n]
			m, err := FitHoltWinters(y, opts)
			if err != nil {
				t.Fatal(err)
			}
			var worst float64
			check := func(what string, got, want float64) {
				t.Helper()
				worst = math.Max(worst, relErr(got, want))
				if !approxEqual(got, want, tol) {
					t.Errorf("%s = %.12g, statsmodels has %.12g", what, got, want)
				}
			}
			check("SSE", m.SSE, c.params["sse"])
			var f Forecast
			if err := m.PredictInto(&f, len(c.forecast), 0.95); err != nil {
				t.Fatal(err)
			}
			// statsmodels 0.13.5 forecasts h = m, 2m, ... with the seasonal
			// component of one season before the last observation's update
			// (statsmodels/statsmodels#9538, fixed by #10230): its forecast
			// there lacks the last update γ* e_n, which is added back.
			en := y[c.n-1] - c.fitted[c.n-1]
			for h, want := range c.forecast {
				if (h+1)%c.period == 0 {
					want += c.params["smoothing_seasonal"] * en
				}
				check(fmt.Sprintf("forecast[h=%d]", h+1), f.Point[h], want)
			}

			// Fitted values: the one-step forecasts of the online filter
			// (Update's component form) from the same initial state.
			step := &HoltWinters{
				Alpha: *opts.Alpha, Beta: *opts.Beta, Gamma: *opts.Gamma, Phi: 1,
				Period: c.period,
				hwState: hwState{
					level: c.init.Level, trend: c.init.Trend,
					season: append([]float64(nil), c.init.Season...),
				},
			}
			if c.damped {
				step.Phi = *opts.Phi
			}
			for i, v := range y {
				check(fmt.Sprintf("fitted[%d]", i), step.OneStep(), c.fitted[i])
				step.Update(v)
			}
			check("level after Update", step.level, m.level)
			check("trend after Update", step.trend, m.trend)
			t.Logf("alpha %.4f beta %.4f gamma %.4f (statsmodels gamma* %.4f) phi %.4f: max relative error %.2g",
				m.Alpha, m.Beta, m.Gamma, c.params["smoothing_seasonal"], m.Phi, worst)
		})
	}
}

// mase returns the mean absolute error of forecast against actual, scaled by
// the in-sample mean absolute error of the seasonal naive one-step forecast
// on train.
func mase(forecast, actual, train []float64, period int) float64 {
	var scale float64
	for i := period; i < len(train); i++ {
		scale += math.Abs(train[i] - train[i-period])
	}
	scale /= float64(len(train) - period)
	var mae float64
	for i, v := range actual {
		mae += math.Abs(forecast[i] - v)
	}
	return mae / float64(len(actual)) / scale
}

// TestHoltWintersAccuracyVsStatsmodels compares augur's own fit (R's initial
// states, SSE-optimal parameters) with statsmodels' fit (initial states
// estimated with the parameters, or Hyndman's heuristic for period 288) and
// the seasonal naive forecast on the 24 held-out points of each fixture.
//
// Measured (MASE; augur, statsmodels, seasonal naive): co2 0.21, 0.32, 1.86;
// co2_damped 0.34, 0.29, 1.86; synthetic24 0.53, 0.65, 1.27;
// synthetic24_damped 0.79, 0.81, 1.27; synthetic288 1.34, 0.46, 0.74. On
// period 288 augur loses, also in-sample (SSE per point 1.84 against 1.01):
// R's start (the seasonal figure of two noisy periods) drives the
// SSE-optimal γ to 1, while statsmodels' heuristic start allows γ* = 0. One origin of 24 points says
// little, so the test asserts only that, summed over the period-12 and
// period-24 cases, augur's MASE is within 10% of statsmodels', and logs the
// rest.
func TestHoltWintersAccuracyVsStatsmodels(t *testing.T) {
	var sumAugur, sumSM float64
	var report strings.Builder
	for _, cc := range smCases {
		c := loadSMCase(t, cc.name, cc.series)
		train, actual := c.y[:c.n], c.y[c.n:]
		m, err := FitHoltWinters(train, HoltWintersOptions{Period: c.period, Damped: c.damped})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var f Forecast
		if err := m.PredictInto(&f, len(actual), 0.95); err != nil {
			t.Fatal(err)
		}
		naive := make([]float64, len(actual))
		for h := range naive {
			naive[h] = train[len(train)-c.period+h%c.period]
		}
		a, s := mase(f.Point, actual, train, c.period), mase(c.forecast, actual, train, c.period)
		if c.period <= 24 {
			sumAugur += a
			sumSM += s
		}
		fmt.Fprintf(&report, "\n%-20s MASE augur %.4f statsmodels %.4f seasonal naive %.4f (augur alpha %.3f beta %.3f gamma %.3f phi %.3f, SSE %.5g on %d points)",
			c.name, a, s, mase(naive, actual, train, c.period), m.Alpha, m.Beta, m.Gamma, m.Phi, m.SSE, len(train)-c.period)
	}
	t.Logf("held-out 24-step MASE:%s\nsum over periods 12 and 24: augur %.4f, statsmodels %.4f", report.String(), sumAugur, sumSM)
	if sumAugur > 1.1*sumSM {
		t.Errorf("augur's summed MASE %.4f exceeds statsmodels' %.4f by more than 10%%", sumAugur, sumSM)
	}
}

func TestHoltWintersInitValidation(t *testing.T) {
	y := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	f := func(period int, init HoltWintersInit) {
		t.Helper()
		if _, err := FitHoltWinters(y, HoltWintersOptions{Period: period, Init: &init}); err == nil {
			t.Errorf("period %d, init %+v: no error", period, init)
		}
	}
	f(4, HoltWintersInit{Season: []float64{0, 0, 0}})
	f(0, HoltWintersInit{Season: []float64{0}})
	f(4, HoltWintersInit{Level: math.NaN(), Season: make([]float64, 4)})
	f(4, HoltWintersInit{Trend: math.Inf(1), Season: make([]float64, 4)})
	f(2, HoltWintersInit{Season: []float64{0, math.NaN()}})

	if _, err := FitHoltWinters(nil, HoltWintersOptions{Period: 2, Init: &HoltWintersInit{Season: []float64{0, 0}}}); !errors.Is(err, ErrTooShort) {
		t.Errorf("empty series: err = %v, want ErrTooShort", err)
	}
	// A given initial state filters from y[0], keeping leading missing
	// points, and the caller's Season is not modified.
	season := []float64{1, -1}
	yy := []float64{math.NaN(), 9, 12, 9}
	m, err := FitHoltWinters(yy, HoltWintersOptions{Period: 2, Alpha: ptr(0.5), Beta: ptr(0.1), Gamma: ptr(0.2),
		Init: &HoltWintersInit{Level: 10, Trend: 0, Season: season}})
	if err != nil {
		t.Fatal(err)
	}
	if season[0] != 1 || season[1] != -1 {
		t.Errorf("Init.Season modified: %v", season)
	}
	if m.N != len(yy) {
		t.Errorf("N = %d, want %d", m.N, len(yy))
	}
	// By hand: y[0] missing keeps l = 10, b = 0; e1 = 9-(10-1) = 0;
	// e2 = 12-(10+1) = 1; then l = 10.5, b = 0.05, s = (1.1, -1);
	// e3 = 9-(10.55-1) = -0.55.
	if want := 1 + 0.55*0.55; math.Abs(m.SSE-want) > 1e-12 {
		t.Errorf("SSE = %.15g, want %.15g", m.SSE, want)
	}
}
