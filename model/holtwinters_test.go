package model

import (
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// rCase is one stats::HoltWinters reference fixture written by
// testdata/gen_reference.R (R 4.x, base stats only).
type rCase struct {
	name   string
	y      []float64
	params map[string]float64
	season []float64
	pred   [][3]float64 // fit, lwr, upr for h = 1..24
}

func readCSV(t testing.TB, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("cannot read %s: %v", path, err)
	}
	return rows[1:] // header
}

func parseFloat(t testing.TB, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func loadRCase(t testing.TB, name string) rCase {
	t.Helper()
	c := rCase{name: name, params: map[string]float64{}}
	base := filepath.Join("testdata", "hw_"+name)
	for _, r := range readCSV(t, base+"_input.csv") {
		c.y = append(c.y, parseFloat(t, r[0]))
	}
	for _, r := range readCSV(t, base+"_params.csv") {
		c.params[r[0]] = parseFloat(t, r[1])
	}
	for i := 1; ; i++ {
		v, ok := c.params[fmt.Sprintf("s%d", i)]
		if !ok {
			break
		}
		c.season = append(c.season, v)
	}
	for _, r := range readCSV(t, base+"_pred.csv") {
		c.pred = append(c.pred, [3]float64{parseFloat(t, r[1]), parseFloat(t, r[2]), parseFloat(t, r[3])})
	}
	return c
}

var rCases = []string{"co2", "airpassengers", "synthetic24", "synthetic288", "holt"}

// approxEqual reports whether got is within tol of want relative to |want|, with
// an absolute floor of tol for |want| < 1.
func approxEqual(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func ptr(v float64) *float64 { return &v }

// seasonInOrder returns the seasonal ring starting at the next step, the
// order of R's coefficients s1..sp.
func seasonInOrder(m *HoltWinters) []float64 {
	return append(append([]float64(nil), m.season[m.pos:]...), m.season[:m.pos]...)
}

func TestHoltWintersReproducesR(t *testing.T) {
	const tol = 1e-6
	for _, name := range rCases {
		t.Run(name, func(t *testing.T) {
			c := loadRCase(t, name)
			opts := HoltWintersOptions{
				Period: int(c.params["period"]),
				Alpha:  ptr(c.params["alpha"]),
				Beta:   ptr(c.params["beta"]),
			}
			if opts.Period > 1 {
				opts.Gamma = ptr(c.params["gamma"])
			}
			m, err := FitHoltWinters(c.y, opts)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, got, want float64) {
				t.Helper()
				if !approxEqual(got, want, tol) {
					t.Errorf("%s = %.12g, R has %.12g", what, got, want)
				}
			}
			check("SSE", m.SSE, c.params["sse"])
			check("Sigma²", m.Sigma*m.Sigma, c.params["var_residuals"])
			check("level", m.level, c.params["a"])
			check("trend", m.trend, c.params["b"])
			if opts.Period > 1 {
				for i, s := range seasonInOrder(m) {
					check(fmt.Sprintf("s%d", i+1), s, c.season[i])
				}
			}
			var f Forecast
			if err := m.PredictInto(&f, len(c.pred), 0.95); err != nil {
				t.Fatal(err)
			}
			for h, p := range c.pred {
				check(fmt.Sprintf("point[h=%d]", h+1), f.Point[h], p[0])
				check(fmt.Sprintf("lower[h=%d]", h+1), f.Lower[h], p[1])
				check(fmt.Sprintf("upper[h=%d]", h+1), f.Upper[h], p[2])
			}
		})
	}
}

func TestHoltWintersOptimiserAtLeastAsGoodAsR(t *testing.T) {
	for _, name := range rCases {
		t.Run(name, func(t *testing.T) {
			c := loadRCase(t, name)
			m, err := FitHoltWinters(c.y, HoltWintersOptions{Period: int(c.params["period"])})
			if err != nil {
				t.Fatal(err)
			}
			rSSE := c.params["sse"]
			t.Logf("SSE %.6g (R %.6g), alpha %.4f beta %.4f gamma %.4f (R %.4f %.4f %.4f)",
				m.SSE, rSSE, m.Alpha, m.Beta, m.Gamma, c.params["alpha"], c.params["beta"], c.params["gamma"])
			if m.SSE > rSSE*1.001 {
				t.Errorf("SSE %.8g > R's %.8g * 1.001", m.SSE, rSSE)
			}
			for _, p := range []float64{m.Alpha, m.Beta, m.Gamma} {
				if p < 0 || p > 1 {
					t.Errorf("parameter %g outside [0, 1]", p)
				}
			}
		})
	}
}

// synthDaily returns n points with period p: a sine cycle, a trend and
// Gaussian noise, from a seeded source.
func synthDaily(n, p int, trend, noise float64, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	y := make([]float64, n)
	for i := range y {
		y[i] = 100 + trend*float64(i) + 20*math.Sin(2*math.Pi*float64(i)/float64(p)) + noise*rng.NormFloat64()
	}
	return y
}

func TestHoltWintersProperties(t *testing.T) {
	y := synthDaily(24*14, 24, 0.05, 2, 1)
	for _, damped := range []bool{false, true} {
		t.Run(fmt.Sprintf("damped=%v", damped), func(t *testing.T) {
			m, err := FitHoltWinters(y, HoltWintersOptions{Period: 24, Damped: damped})
			if err != nil {
				t.Fatal(err)
			}
			if damped && (m.Phi < 0.8 || m.Phi > 0.98) {
				t.Errorf("phi = %g outside [0.8, 0.98]", m.Phi)
			}
			// Noise sd is 2: the one-step residual sd must be close to it.
			if m.Sigma < 1.6 || m.Sigma > 2.6 {
				t.Errorf("Sigma = %g, want about 2", m.Sigma)
			}
			var f Forecast
			if err := m.PredictInto(&f, 48, 0.9); err != nil {
				t.Fatal(err)
			}
			if f.Level != 0.9 || len(f.Point) != 48 {
				t.Fatalf("forecast level %g, %d points", f.Level, len(f.Point))
			}
			for h := range f.Point {
				if !(f.Lower[h] <= f.Point[h] && f.Point[h] <= f.Upper[h]) {
					t.Errorf("h=%d: %g <= %g <= %g violated", h+1, f.Lower[h], f.Point[h], f.Upper[h])
				}
				w := f.Upper[h] - f.Lower[h]
				if h > 0 && w < f.Upper[h-1]-f.Lower[h-1] {
					t.Errorf("interval narrows at h=%d", h+1)
				}
				if sd := m.StdDev(h + 1); !approxEqual(w, 2*1.6448536269514722*sd, 1e-9) {
					t.Errorf("h=%d: width %g, StdDev %g", h+1, w, sd)
				}
			}
			if f.Point[0] != m.OneStep() {
				t.Errorf("Point[0] = %g, OneStep = %g", f.Point[0], m.OneStep())
			}
			// The truth one day ahead is the noiseless cycle.
			next := 100 + 0.05*float64(len(y)) + 20*math.Sin(2*math.Pi*float64(len(y))/24)
			if math.Abs(f.Point[0]-next) > 3 {
				t.Errorf("one-step forecast %g, truth %g", f.Point[0], next)
			}
		})
	}
}

// TestHoltWintersStdDevMonteCarlo checks the analytic h-step variance, in
// particular the damped case that R cannot check, against paths simulated
// from the model itself: y = OneStep() + Sigma·ε, ε ~ N(0, 1).
func TestHoltWintersStdDevMonteCarlo(t *testing.T) {
	const period, horizon, paths = 12, 30, 4000
	y := synthDaily(period*10, period, 0.1, 1, 8)
	for _, damped := range []bool{false, true} {
		opts := HoltWintersOptions{Period: period, Damped: damped, Alpha: ptr(0.4), Beta: ptr(0.3), Gamma: ptr(0.5)}
		if damped {
			opts.Phi = ptr(0.85)
		}
		m, err := FitHoltWinters(y, opts)
		if err != nil {
			t.Fatal(err)
		}
		var f Forecast
		if err := m.PredictInto(&f, horizon, 0.95); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(11, 12))
		var sumSq [horizon]float64
		for range paths {
			sim := *m
			sim.season = slices.Clone(m.season)
			for h := range horizon {
				v := sim.OneStep() + m.Sigma*rng.NormFloat64()
				sumSq[h] += (v - f.Point[h]) * (v - f.Point[h])
				sim.Update(v)
			}
		}
		for h := range horizon {
			// The sd of a sample sd from 4000 paths is about 1.1%.
			if got, want := math.Sqrt(sumSq[h]/paths), m.StdDev(h+1); math.Abs(got/want-1) > 0.05 {
				t.Errorf("damped=%v h=%d: simulated sd %.4f, StdDev %.4f", damped, h+1, got, want)
			}
		}
	}
}

func TestHoltWintersUpdateMatchesRefit(t *testing.T) {
	y := synthDaily(24*10, 24, 0.1, 1, 2)
	y[150] = math.NaN()
	y[230] = math.NaN()
	split := 24 * 6
	m, err := FitHoltWinters(y[:split], HoltWintersOptions{Period: 24})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range y[split:] {
		m.Update(v)
	}
	ref, err := FitHoltWinters(y, HoltWintersOptions{
		Period: 24, Alpha: ptr(m.Alpha), Beta: ptr(m.Beta), Gamma: ptr(m.Gamma),
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.N != len(y) || ref.N != len(y) {
		t.Errorf("N = %d and %d, want %d", m.N, ref.N, len(y))
	}
	if !approxEqual(m.level, ref.level, 1e-12) || !approxEqual(m.trend, ref.trend, 1e-12) {
		t.Errorf("level/trend %g/%g after Update, %g/%g after refit", m.level, m.trend, ref.level, ref.trend)
	}
	got, want := seasonInOrder(m), seasonInOrder(ref)
	for i := range got {
		if !approxEqual(got[i], want[i], 1e-12) {
			t.Errorf("s%d = %g after Update, %g after refit", i+1, got[i], want[i])
		}
	}
}

func TestHoltWintersMissing(t *testing.T) {
	y := synthDaily(24*8, 24, 0, 1, 3)
	gappy := append([]float64{math.NaN(), math.NaN()}, y...)
	for i := 60; i < 72; i++ {
		gappy[i] = math.NaN()
	}
	gappy[100] = math.Inf(1)
	m, err := FitHoltWinters(gappy, HoltWintersOptions{Period: 24})
	if err != nil {
		t.Fatal(err)
	}
	if math.IsNaN(m.SSE) || math.IsNaN(m.OneStep()) || math.IsNaN(m.Sigma) {
		t.Fatalf("NaN leaked: SSE %g, OneStep %g, Sigma %g", m.SSE, m.OneStep(), m.Sigma)
	}
	// A missing point advances the state on its own forecast.
	want := m.OneStep()
	season := m.season[m.pos]
	m.Update(math.NaN())
	if got := m.level + m.season[(m.pos+len(m.season)-1)%len(m.season)]; !approxEqual(got, want, 1e-12) {
		t.Errorf("after a missing point level+season = %g, want the forecast %g", got, want)
	}
	if m.season[(m.pos+len(m.season)-1)%len(m.season)] != season {
		t.Error("a missing point changed the seasonal component")
	}
}

func TestHoltWintersDegenerate(t *testing.T) {
	step := make([]float64, 24*4)
	for i := range step {
		if i >= 60 {
			step[i] = 10
		}
	}
	huge := synthDaily(24*4, 24, 1e9, 1e10, 9)
	for name, y := range map[string][]float64{
		"constant": make([]float64, 24*4),
		"step":     step,
		"huge":     huge,
	} {
		for _, period := range []int{0, 24} {
			m, err := FitHoltWinters(y, HoltWintersOptions{Period: period, Damped: name == "step"})
			if err != nil {
				t.Errorf("%s, period %d: %v", name, period, err)
				continue
			}
			var f Forecast
			if err := m.PredictInto(&f, 30, 0.8); err != nil {
				t.Fatal(err)
			}
			for h := range f.Point {
				if !finite(f.Point[h]) || !finite(f.Lower[h]) || !finite(f.Upper[h]) || f.Lower[h] > f.Upper[h] {
					t.Errorf("%s, period %d, h=%d: forecast %g [%g, %g]", name, period, h+1, f.Point[h], f.Lower[h], f.Upper[h])
					break
				}
			}
		}
	}
}

func TestHoltWintersErrors(t *testing.T) {
	f := func(y []float64, opts HoltWintersOptions, tooShort bool) {
		t.Helper()
		_, err := FitHoltWinters(y, opts)
		if err == nil {
			t.Fatalf("no error for %d points, %+v", len(y), opts)
		}
		if errors.Is(err, ErrTooShort) != tooShort {
			t.Errorf("error %v: ErrTooShort = %v, want %v", err, !tooShort, tooShort)
		}
	}
	f(make([]float64, 47), HoltWintersOptions{Period: 24}, true)
	f(make([]float64, 47), HoltWintersOptions{Period: math.MaxInt}, true)
	f([]float64{1, 2}, HoltWintersOptions{}, true)
	f(nil, HoltWintersOptions{Period: 1}, true)
	f([]float64{math.NaN(), 1, 2}, HoltWintersOptions{}, true)
	f([]float64{1, math.NaN(), 2, 3}, HoltWintersOptions{}, false)
	nan := make([]float64, 48)
	for i := range nan {
		nan[i] = math.NaN()
	}
	nan[0] = 1
	f(nan, HoltWintersOptions{Period: 24}, false)
	f([]float64{1, 2, 3, 4}, HoltWintersOptions{Alpha: ptr(1.5)}, false)
	f([]float64{1, 2, 3, 4}, HoltWintersOptions{Phi: ptr(0.9)}, false)

	m, err := FitHoltWinters([]float64{1, 2, 3, 4}, HoltWintersOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var fc Forecast
	for _, bad := range []struct {
		dst   *Forecast
		h     int
		level float64
	}{{nil, 3, 0.95}, {&fc, -1, 0.95}, {&fc, 3, 1}, {&fc, 3, 0}, {&fc, 3, math.NaN()}} {
		if err := m.PredictInto(bad.dst, bad.h, bad.level); err == nil {
			t.Errorf("PredictInto(%v, %d, %g): no error", bad.dst, bad.h, bad.level)
		}
	}
}

// TestHoltWintersGradient checks the adjoint gradient of the SSE against
// central differences.
func TestHoltWintersGradient(t *testing.T) {
	y := synthDaily(24*6, 24, 0.2, 1, 4)
	y[90] = math.NaN()
	init, start, err := hwInit(y, 24)
	if err != nil {
		t.Fatal(err)
	}
	o, err := newHWObjective(y[start:], &init, 24, HoltWintersOptions{Period: 24, Damped: true})
	if err != nil {
		t.Fatal(err)
	}
	th := [4]float64{0.4, 0.2, 0.3, 0.9}
	o.sse(th)
	grad := o.grad(th)
	for i := range th {
		const eps = 1e-6
		up, dn := th, th
		up[i] += eps
		dn[i] -= eps
		num := (o.sse(up) - o.sse(dn)) / (2 * eps)
		if !approxEqual(grad[i], num, 1e-5) {
			t.Errorf("dSSE/dθ%d = %g, central difference %g", i, grad[i], num)
		}
	}
}

func BenchmarkFitHoltWinters(b *testing.B) {
	for _, bc := range []struct{ n, p int }{{2016, 288}, {20160, 1440}} {
		y := synthDaily(bc.n, bc.p, 0.01, 2, 5)
		b.Run(fmt.Sprintf("n=%d/period=%d", bc.n, bc.p), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := FitHoltWinters(y, HoltWintersOptions{Period: bc.p}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkHoltWintersUpdate(b *testing.B) {
	y := synthDaily(2016, 288, 0.01, 2, 6)
	m, err := FitHoltWinters(y, HoltWintersOptions{Period: 288})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Update(y[i%len(y)])
		i++
	}
}

func BenchmarkHoltWintersPredictInto(b *testing.B) {
	y := synthDaily(2016, 288, 0.01, 2, 7)
	m, err := FitHoltWinters(y, HoltWintersOptions{Period: 288})
	if err != nil {
		b.Fatal(err)
	}
	var f Forecast
	b.ReportAllocs()
	for b.Loop() {
		if err := m.PredictInto(&f, 288, 0.95); err != nil {
			b.Fatal(err)
		}
	}
}
