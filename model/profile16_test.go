package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestProfile16 checks the rounding bound profile16 documents (3e-5 of the
// largest deviation from the offset) for a fitted profile and for one
// written online, whose unit widens past a large value and, once a cycle
// has overwritten it with small ones, tightens again.
func TestProfile16(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name  string
		build func() ([]float64, profile16)
	}{
		{"fitted", func() ([]float64, profile16) {
			x := make([]float64, 1440)
			for i := range x {
				x[i] = 8e9 + 1e8*math.Sin(float64(i)/100) + rng.NormFloat64()
			}
			return x, newProfile16(x)
		}},
		{"constant", func() ([]float64, profile16) {
			x := []float64{3, 3, 3}
			return x, newProfile16(x)
		}},
		{"online, widened", func() ([]float64, profile16) {
			p := makeProfile16(288)
			x := make([]float64, 288)
			for i := range x {
				x[i] = float64(i) * 1e-3 * math.Pow(10, float64(i%4))
				p.set(i, x[i])
			}
			return x, p
		}},
		{"online, tightened", func() ([]float64, profile16) {
			// An early outlier, then two cycles of small values with
			// tighten between them, as an online model calls it.
			p := makeProfile16(288)
			p.set(0, 1e6)
			x := make([]float64, 288)
			for range 2 {
				for i := range x {
					x[i] = rng.NormFloat64()
					p.set(i, x[i])
				}
				p.tighten()
			}
			return x, p
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			x, p := c.build()
			dev := 0.0
			for _, v := range x {
				dev = max(dev, math.Abs(v-p.offset))
			}
			for i, v := range x {
				if got := p.at(i); math.Abs(got-v) > 3.1e-5*dev {
					t.Fatalf("value %d = %g, stored %g: error %g > 3e-5 of %g", i, v, got, math.Abs(got-v), dev)
				}
			}
			if p.bytes() != 2*len(x) {
				t.Errorf("%d bytes for %d values", p.bytes(), len(x))
			}
		})
	}
}
