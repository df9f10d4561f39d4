package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

func genSeries(kind string, n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 3))
	y := make([]float64, n)
	w := 0.0
	for i := range y {
		e := rng.NormFloat64()
		switch kind {
		case "noise":
			y[i] = e
		case "rw":
			w += e
			y[i] = w
		case "daily":
			y[i] = 3*math.Sin(2*math.Pi*float64(i)/288) + 2*e
		case "weekly":
			v := 3*math.Sin(2*math.Pi*float64(i)/288) + 2*e
			if (i/288)%7 >= 5 {
				v -= 3
			}
			y[i] = v
		case "dailyrw":
			w += 0.3 * e
			y[i] = 3*math.Sin(2*math.Pi*float64(i)/288) + e + w
		}
	}
	return y
}

func TestZZSeason(t *testing.T) {
	for _, kind := range []string{"noise", "rw", "daily", "weekly", "dailyrw"} {
		for _, n := range []int{288 * 14, 288 * 42} {
			var maxD, maxW, minD, minW float64 = -9, -9, 9, 9
			hits := map[string]int{}
			for seed := uint64(0); seed < 100; seed++ {
				y := genSeries(kind, n, seed)
				x := fillGaps(y)
				r, l := seasonalACF(x, 288, nil)
				maxD, minD = math.Max(maxD, r-l), math.Min(minD, r-l)
				var found []int
				if r > l {
					found = []int{288}
				}
				if n >= 3*2016 {
					r2, l2 := seasonalACF(x, 2016, found)
					maxW, minW = math.Max(maxW, r2-l2), math.Min(minW, r2-l2); if seed == 0 { t.Logf("%s weekly r %.3f limit %.3f", kind, r2, l2) }
				}
				hits[fmtInts(DetectPeriods(y, []int{288, 2016}))]++
			}
			t.Logf("%-8s n=%5d daily r-l [%.3f, %.3f] weekly r-l [%.3f, %.3f] %v", kind, n, minD, maxD, minW, maxW, hits)
		}
	}
}

func fmtInts(v []int) string {
	s := ""
	for _, x := range v {
		s += " " + string(rune('0'+x/288))
	}
	return s
}
