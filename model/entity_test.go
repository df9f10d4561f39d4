package model

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

const fiveMinutes = 300_000

// plantedEntity returns n steps of k signals at 5-minute steps: a daily
// shape per signal, a common AR(1) factor that moves them together, and
// independent noise. From step brk on, break_ modifies the values.
func plantedEntity(seed uint64, n, k, brk int, break_ func(t int, y []float64)) (ts []int64, ys [][]float64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	f := 0.0
	for t := range n {
		f = 0.9*f + rng.NormFloat64()
		y := make([]float64, k)
		for j := range y {
			day := math.Sin(2*math.Pi*float64(t%288)/288 + float64(j))
			y[j] = 10 + 3*day + 0.5*f + 0.2*rng.NormFloat64()
		}
		if t >= brk {
			break_(t, y)
		}
		ts = append(ts, int64(t)*fiveMinutes)
		ys = append(ys, y)
	}
	return ts, ys
}

// runEntity feeds the rows through SeasonalResiduals and EntityDetector and
// returns every step's score and shares.
func runEntity(ts []int64, ys [][]float64, opts EntityOptions) (scores []float64, shares [][]float64) {
	k := len(ys[0])
	res := NewSeasonalResiduals(k, fiveMinutes)
	det := NewEntityDetector(k, opts)
	z := make([]float64, k)
	for i, y := range ys {
		res.Observe(ts[i], y, z)
		scores = append(scores, det.Update(z))
		shares = append(shares, det.Shares(nil))
	}
	return scores, shares
}

func TestEntityDetectorScoresInUnitInterval(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const k = 5
	res := NewSeasonalResiduals(k, fiveMinutes)
	det := NewEntityDetector(k, EntityOptions{Warmup: 10})
	y, z := make([]float64, k), make([]float64, k)
	wild := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1e300, -1e300, 0, 1e-300}
	for i := range 5000 {
		for j := range y {
			y[j] = rng.NormFloat64()
			if rng.IntN(20) == 0 {
				y[j] = wild[rng.IntN(len(wild))]
			}
		}
		res.Observe(int64(i)*fiveMinutes, y, z)
		for j, v := range z {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("step %d: residual %d = %v", i, j, v)
			}
		}
		if s := det.Update(z); !(s >= 0 && s <= 1) {
			t.Fatalf("step %d: score %v outside [0,1]", i, s)
		}
		sum := 0.0
		for _, s := range det.Shares(nil) {
			if !(s >= 0 && s <= 1) {
				t.Fatalf("step %d: share %v outside [0,1]", i, s)
			}
			sum += s
		}
		if sum != 0 && math.Abs(sum-1) > 1e-9 {
			t.Fatalf("step %d: shares sum to %v", i, sum)
		}
	}
}

// For independent Gaussian residuals the score is the χ² CDF of a
// Mahalanobis distance with the right covariance, so it is uniform: about
// 1 % of the steps score above 0.99.
func TestEntityDetectorCalibrated(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const k, n = 8, 40000
	det := NewEntityDetector(k, EntityOptions{})
	r := make([]float64, k)
	above, counted := 0, 0
	for i := range n {
		for j := range r {
			r[j] = 2 * rng.NormFloat64()
		}
		s := det.Update(r)
		if i >= 5000 {
			counted++
			if s > 0.99 {
				above++
			}
		}
	}
	if f := float64(above) / float64(counted); f < 0.005 || f > 0.02 {
		t.Errorf("share of steps above 0.99 = %.4f, want about 0.01", f)
	}
}

// Two signals that always moved together start to move against each
// other; each stays within its usual range, the pair does not.
func TestEntityDetectorFindsCorrelationBreak(t *testing.T) {
	const n, k, brk = 6000, 6, 5000
	rng := rand.New(rand.NewPCG(5, 6))
	f := 0.0
	ts := make([]int64, n)
	ys := make([][]float64, n)
	for i := range n {
		f = 0.9*f + rng.NormFloat64()
		y := make([]float64, k)
		for j := range y {
			y[j] = 5 + math.Sin(2*math.Pi*float64(i%288)/288) + 0.3*rng.NormFloat64()
		}
		y[0] += f
		y[1] += f
		if i >= brk {
			y[1] -= 2 * f // as large as before, against y[0]
		}
		ts[i], ys[i] = int64(i)*fiveMinutes, y
	}
	// Shrinkage 1 keeps only the diagonal: the sum of squared residuals,
	// blind to the break.
	for _, c := range []struct {
		shrinkage float64
		lo, hi    int
	}{{0, 75, 500}, {1, 0, 25}} {
		scores, _ := runEntity(ts, ys, EntityOptions{Shrinkage: c.shrinkage})
		before := quantile(slices.Clone(scores[3000:brk]), 0.99)
		after := 0
		for _, s := range scores[brk : brk+500] {
			if s > before {
				after++
			}
		}
		// One step in a hundred beats the 99th percentile by chance.
		if after < c.lo || after > c.hi {
			t.Errorf("shrinkage %v: %d of 500 steps after the break above the normal 99th percentile %.4f, want %d to %d", c.shrinkage, after, before, c.lo, c.hi)
		}
	}
}

// A shift of two of eight signals: the entity score rises at once and the
// shifted signals hold the largest shares while it lasts.
func TestEntityDetectorFindsAndExplainsShift(t *testing.T) {
	const n, k, brk = 6000, 8, 5000
	ts, ys := plantedEntity(7, n, k, brk, func(_ int, y []float64) { y[2] += 3; y[5] -= 3 })
	scores, shares := runEntity(ts, ys, EntityOptions{})
	if th := quantile(slices.Clone(scores[3000:brk]), 0.999); scores[brk+3] <= th {
		t.Errorf("score after the shift %.6f, want above the normal 99.9th percentile %.6f", scores[brk+3], th)
	}
	// Over the event: at single steps the common factor moves every
	// signal and may mask one of the two.
	mean := make([]float64, k)
	for _, sh := range shares[brk+3 : brk+30] {
		for j, v := range sh {
			mean[j] += v / 27
		}
	}
	if top := topTwo(mean); !(top == [2]int{2, 5} || top == [2]int{5, 2}) {
		t.Errorf("top mean shares %v (%.3f), want signals 2 and 5", top, mean)
	}
}

// A one-step spike of two signals is not an entity anomaly once the
// distance must persist for two steps; scored step by step, it is.
func TestEntityDetectorPersistence(t *testing.T) {
	const n, k, brk = 6000, 6, 5000
	ts, ys := plantedEntity(17, n, k, brk, func(t int, y []float64) {
		if t == brk {
			y[1] += 4
			y[4] -= 4
		}
	})
	for _, c := range []struct {
		persistence int
		found       bool
	}{{1, true}, {0, false}} {
		scores, _ := runEntity(ts, ys, EntityOptions{Persistence: c.persistence})
		th := quantile(slices.Clone(scores[3000:brk]), 0.999)
		top := slices.Max(scores[brk : brk+3])
		if found := top > th; found != c.found {
			t.Errorf("persistence %d: largest score after the spike %.6f, normal 99.9th percentile %.6f: found %v, want %v", c.persistence, top, th, found, c.found)
		}
	}
}

// The score does not depend on the signals' units or offsets.
func TestEntityDetectorScaleInvariant(t *testing.T) {
	const n, k, brk = 3000, 4, 2500
	ts, ys := plantedEntity(9, n, k, brk, func(_ int, y []float64) { y[1] += 1.5 })
	want, _ := runEntity(ts, ys, EntityOptions{})
	scale := []float64{1e-3, 1, 4e4, 7}
	offset := []float64{0, -50, 1e5, 3}
	scaled := make([][]float64, n)
	for i, y := range ys {
		scaled[i] = make([]float64, k)
		for j, v := range y {
			scaled[i][j] = scale[j]*v + offset[j]
		}
	}
	got, _ := runEntity(ts, scaled, EntityOptions{})
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-6 {
			t.Fatalf("step %d: score %v with rescaled signals, %v without", i, got[i], want[i])
		}
	}
}

// A missing value is no evidence: a gap in one signal leaves the score low.
func TestEntityDetectorMissingValues(t *testing.T) {
	const n, k, brk = 4000, 5, 3000
	ts, ys := plantedEntity(11, n, k, brk, func(t int, y []float64) {
		if t < brk+200 {
			y[3] = math.NaN()
		}
	})
	scores, _ := runEntity(ts, ys, EntityOptions{})
	th := quantile(slices.Clone(scores[1000:brk]), 0.999)
	for i := brk; i < brk+200; i++ {
		if scores[i] > max(th, 0.999) {
			t.Fatalf("step %d: score %.6f during a gap, normal 99.9th percentile %.6f", i, scores[i], th)
		}
	}
}

// A detector restored from its State, through JSON, scores and explains
// the next steps as the original does; a state whose parts do not fit is refused.
func TestEntityDetectorStateRoundTrip(t *testing.T) {
	const n, k, cut = 2000, 4, 1203 // cut is not a multiple of k: the factor in use is older than the covariance
	ts, ys := plantedEntity(5, n, k, n, nil)
	res := NewSeasonalResiduals(k, fiveMinutes)
	det := NewEntityDetector(k, EntityOptions{})
	z := make([]float64, k)
	var restored *EntityDetector
	for i, y := range ys {
		res.Observe(ts[i], y, z)
		if i == cut {
			data, err := json.Marshal(det.State())
			if err != nil {
				t.Fatal(err)
			}
			var st EntityDetectorState
			if err := json.Unmarshal(data, &st); err != nil {
				t.Fatal(err)
			}
			if restored, err = NewEntityDetectorFromState(EntityOptions{}, st); err != nil {
				t.Fatal(err)
			}
		}
		want := det.Update(z)
		if restored == nil {
			continue
		}
		if got := restored.Update(z); got != want {
			t.Fatalf("step %d: restored detector scores %v, the original %v", i, got, want)
		}
		if got, want := restored.Shares(nil), det.Shares(nil); !slices.Equal(got, want) {
			t.Fatalf("step %d: restored detector's shares %v, the original's %v", i, got, want)
		}
	}
	for _, bad := range []EntityDetectorState{
		{},
		{Steps: 1, Smoothed: []float64{0, 0}, Covariance: []float64{1, 0, 0}},
		{Steps: 1, Smoothed: []float64{0}, Covariance: []float64{1}, Factor: []float64{1, 0}},
		{Steps: -1, Smoothed: []float64{0}, Covariance: []float64{1}},
		{Steps: 1, Smoothed: []float64{math.NaN()}, Covariance: []float64{1}},
		{Steps: 1, Smoothed: []float64{0}, Covariance: []float64{1}, Distances: []float64{1, 2, 3}},
		{Steps: 1, Smoothed: []float64{0}, Covariance: []float64{1}, Distances: []float64{1, math.Inf(1)}},
		{Steps: 1, Smoothed: []float64{0}, Covariance: []float64{1}, Recent: []float64{0, 0, 0}},
	} {
		if _, err := NewEntityDetectorFromState(EntityOptions{}, bad); err == nil {
			t.Errorf("NewEntityDetectorFromState(%+v): no error", bad)
		}
	}
}

func TestEntityStateBytes(t *testing.T) {
	res := NewSeasonalResiduals(19, fiveMinutes)
	det := NewEntityDetector(19, EntityOptions{})
	// The doc comments' figures.
	if got := res.StateBytes(); got < 43*1024 || got >= 44*1024 {
		t.Errorf("SeasonalResiduals(19 signals, 5 min) state %d bytes, documented as 43 KiB", got)
	}
	if got := det.StateBytes(); got < 6*1024+307 || got >= 6*1024+512 {
		t.Errorf("EntityDetector(19 signals) state %d bytes, documented as 6.4 KiB", got)
	}
	// Without a step, the first observations' spacing sets it.
	probed := NewSeasonalResiduals(19, 0)
	z := make([]float64, 19)
	for i := range stepProbe {
		probed.Observe(int64(i)*fiveMinutes, z, z)
	}
	if probed.StateBytes() != res.StateBytes() {
		t.Errorf("state after %d observations 5 minutes apart %d bytes, with the step given %d", stepProbe, probed.StateBytes(), res.StateBytes())
	}
	// A 15 s step keeps the profile at 288 bins.
	if fast := NewSeasonalResiduals(19, 15_000); fast.StateBytes() != res.StateBytes() {
		t.Errorf("state at 15 s steps %d bytes, at 5 min %d", fast.StateBytes(), res.StateBytes())
	}
}

func BenchmarkEntityStep(b *testing.B) {
	const k = 19
	ts, ys := plantedEntity(13, 2000, k, 2000, nil)
	res := NewSeasonalResiduals(k, fiveMinutes)
	det := NewEntityDetector(k, EntityOptions{})
	z, sh := make([]float64, k), make([]float64, k)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		j := i % len(ys)
		res.Observe(ts[j]+int64(i/len(ys))*int64(len(ys))*fiveMinutes, ys[j], z)
		det.Update(z)
		sh = det.Shares(sh)
	}
}

func topTwo(s []float64) [2]int {
	a, b := 0, 1
	if s[b] > s[a] {
		a, b = b, a
	}
	for j := 2; j < len(s); j++ {
		switch {
		case s[j] > s[a]:
			a, b = j, a
		case s[j] > s[b]:
			b = j
		}
	}
	return [2]int{a, b}
}
