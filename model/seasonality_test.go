package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// seasonalSeries returns n points at 5-minute steps (288 a day) of the named
// kind, from a seeded source.
func seasonalSeries(kind string, n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 3))
	y := make([]float64, n)
	var walk float64
	for i := range y {
		e := rng.NormFloat64()
		daily := 3 * math.Sin(2*math.Pi*float64(i)/288)
		switch kind {
		case "noise":
			y[i] = e
		case "random walk":
			walk += e
			y[i] = walk
		case "daily":
			y[i] = daily + 2*e
		case "daily+trend":
			y[i] = 0.01*float64(i) + daily + 2*e
		case "daily+random walk":
			walk += 0.3 * e
			y[i] = daily + e + walk
		case "weekly": // daily cycle and quiet weekends
			y[i] = daily + 2*e
			if (i/288)%7 >= 5 {
				y[i] -= 3
			}
		case "weekends only":
			y[i] = 2 * e
			if (i/288)%7 >= 5 {
				y[i] -= 3
			}
		default:
			panic("unknown kind " + kind)
		}
	}
	return y
}

func TestDetectPeriods(t *testing.T) {
	const day, week = 288, 2016
	f := func(kind string, days int, want ...int) {
		t.Helper()
		// Several seeds: detection must not hinge on one lucky draw.
		for seed := range uint64(5) {
			got := DetectPeriods(seasonalSeries(kind, days*day, seed), []int{week, day})
			if !slices.Equal(got, want) {
				t.Errorf("%s, %d days, seed %d: got %v, want %v", kind, days, seed, got, want)
			}
		}
	}
	f("noise", 14)
	f("noise", 42)
	f("random walk", 14)
	f("random walk", 42)
	f("daily", 14, day)
	f("daily", 42, day) // a daily pattern is not weekly as well
	f("daily+trend", 14, day)
	f("daily+random walk", 14, day)
	f("weekly", 14, day) // two weeks are too few to test the weekly period
	f("weekly", 42, day, week)
	f("weekends only", 42, week)
}

func TestDetectPeriodsEdgeCases(t *testing.T) {
	y := seasonalSeries("daily", 288*14, 1)
	gappy := slices.Clone(y)
	for i := 1000; i < 1300; i++ {
		gappy[i] = math.NaN()
	}
	gappy[0], gappy[len(gappy)-1] = math.NaN(), math.Inf(1)
	nan := []float64{math.NaN(), math.NaN(), math.NaN()}
	for _, c := range []struct {
		name       string
		y          []float64
		candidates []int
		want       []int
	}{
		{"gaps", gappy, []int{288}, []int{288}},
		{"unsorted duplicates", y, []int{288, 0, 1, -5, 288}, []int{288}},
		{"too long", y, []int{288 * 5}, nil},
		{"absurdly long", y, []int{math.MaxInt}, nil},
		{"no candidates", y, nil, nil},
		{"all missing", nan, []int{2}, nil},
		{"empty", nil, []int{2}, nil},
		{"constant", make([]float64, 100), []int{10}, nil},
	} {
		if got := DetectPeriods(c.y, c.candidates); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// TestAutocorrelationMatchesDirectSum checks the FFT's lags against the
// direct sums, including lags that a transform shorter than n+maxLag
// (512 for n = 512) would wrap.
func TestAutocorrelationMatchesDirectSum(t *testing.T) {
	for _, c := range []struct{ n, maxLag int }{{1000, 300}, {512, 500}, {600, 1}} {
		d := seasonalSeries("daily", c.n, 2)
		acf := autocorrelation(d, c.maxLag)
		var mean float64
		for _, v := range d {
			mean += v
		}
		mean /= float64(len(d))
		var c0 float64
		for _, v := range d {
			c0 += (v - mean) * (v - mean)
		}
		for _, k := range []int{0, 1, c.maxLag / 2, c.maxLag - 1, c.maxLag} {
			var ck float64
			for t := 0; t+k < len(d); t++ {
				ck += (d[t] - mean) * (d[t+k] - mean)
			}
			if !approxEqual(acf[k], ck/c0, 1e-10) {
				t.Errorf("n=%d: r_%d = %g, direct sum %g", c.n, k, acf[k], ck/c0)
			}
		}
	}
}

func BenchmarkDetectPeriods(b *testing.B) {
	for _, days := range []int{14, 42} {
		y := seasonalSeries("weekly", days*288*5, 1) // 1-minute steps
		b.Run(fmt.Sprintf("days=%d", days), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				DetectPeriods(y, []int{1440, 10080})
			}
		})
	}
}
