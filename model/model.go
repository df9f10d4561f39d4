// Package model is augur's numerical core: seasonal baselines with dynamic
// bands, exponential smoothing (Holt-Winters) with prediction intervals, and
// streaming anomaly scoring. It is pure computation on float64 slices, built
// on gonum; it never does I/O and never imports the rest of augur.
package model

import "gonum.org/v1/gonum/stat/distuv"

// Forecast holds an h-step forecast with a central prediction interval.
// Point[i], Lower[i] and Upper[i] are for i+1 steps after the last observation.
type Forecast struct {
	Point, Lower, Upper []float64
	// Level is the interval's nominal coverage, e.g. 0.95.
	Level float64
}

// Resize sets the length of the forecast's slices to h, reusing their storage.
func (f *Forecast) Resize(h int) {
	f.Point = resize(f.Point, h)
	f.Lower = resize(f.Lower, h)
	f.Upper = resize(f.Upper, h)
}

func resize(s []float64, n int) []float64 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float64, n)
}

// z95 is Φ⁻¹(0.975), the half-width in standard deviations of the 95 %
// interval that the service and the CLI ask for at every step.
var z95 = distuv.UnitNormal.Quantile(0.975)

// intervalZ returns Φ⁻¹((1+level)/2), the half-width of the central interval
// of nominal coverage level in standard deviations. The quantile function
// costs more than a one-step Holt-Winters forecast, so the common level is
// looked up instead of computed.
func intervalZ(level float64) float64 {
	if level == 0.95 {
		return z95
	}
	return distuv.UnitNormal.Quantile((1 + level) / 2)
}
