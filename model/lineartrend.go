package model

import (
	"errors"
	"math"
)

// LinearTrend is the ordinary least-squares line through the last points of
// a (deseasonalised) series, used to extrapolate growth such as a leak or a
// filling pool. Abscissae are steps with the last point at x = 0, so the
// forecast h steps ahead is Level + Slope·h with the classical prediction
// variance (e.g. Montgomery, Peck & Vining, Introduction to Linear
// Regression Analysis, §2.4.2):
//
//	Var(ŷ_h) = σ² (1 + 1/n + (h - x̄)² / Sxx)
//
// which grows with h through the slope's uncertainty. Metric residuals are
// autocorrelated, which makes the classical slope variance far too small;
// the terms that come from the estimated line are inflated by
// (1+ρ)/(1-ρ), ρ the lag-one autocorrelation of the residuals: the variance
// of a mean of AR(1) errors, n/n_eff (e.g. Wilks, Statistical Methods in
// the Atmospheric Sciences, 3rd ed., §5.2.4).
type LinearTrend struct {
	N            int
	Level, Slope float64 // fitted value at the last point, growth per step
	Sigma        float64 // residual standard deviation (n-2 degrees of freedom)
	// Rho is the residuals' lag-one autocorrelation, clamped to [0, 0.995].
	Rho       float64
	xbar, sxx float64
}

// ErrTooFewPoints is returned when a fit has fewer points than it needs.
var ErrTooFewPoints = errors.New("too few points")

// FitLinearTrend fits the line to y; non-finite values are skipped.
func FitLinearTrend(y []float64) (LinearTrend, error) {
	n := len(y)
	var sx, sy float64
	cnt := 0
	for i, v := range y {
		if !finite(v) {
			continue
		}
		x := float64(i - (n - 1))
		sx += x
		sy += v
		cnt++
	}
	if cnt < 3 {
		return LinearTrend{}, ErrTooFewPoints
	}
	xbar, ybar := sx/float64(cnt), sy/float64(cnt)
	var sxx, sxy float64
	for i, v := range y {
		if !finite(v) {
			continue
		}
		dx := float64(i-(n-1)) - xbar
		sxx += dx * dx
		sxy += dx * (v - ybar)
	}
	slope := sxy / sxx
	icpt := ybar - slope*xbar
	sse, rho := residualStats(y, func(i int) float64 { return icpt + slope*float64(i-(n-1)) })
	return LinearTrend{N: cnt, Level: icpt, Slope: slope, Sigma: math.Sqrt(sse / float64(cnt-2)), Rho: rho, xbar: xbar, sxx: sxx}, nil
}

// residualStats returns the sum of squared residuals of y about fit and
// their lag-one autocorrelation, clamped to [0, 0.995] (a negative one would
// narrow intervals, and ρ → 1 makes the inflation (1+ρ)/(1-ρ) infinite).
// Non-finite values are skipped and break the lag chain.
func residualStats(y []float64, fit func(i int) float64) (sse, rho float64) {
	var lag float64
	prev := math.NaN()
	for i, v := range y {
		if !finite(v) {
			prev = math.NaN()
			continue
		}
		r := v - fit(i)
		sse += r * r
		if !math.IsNaN(prev) {
			lag += r * prev
		}
		prev = r
	}
	if sse > 0 {
		rho = math.Min(math.Max(lag/sse, 0), 0.995)
	}
	return sse, rho
}

// MeanSD returns the mean and standard deviation of the forecast h steps
// after the last point.
func (m LinearTrend) MeanSD(h float64) (mean, sd float64) {
	d := h - m.xbar
	inflate := (1 + m.Rho) / (1 - m.Rho)
	return m.Level + m.Slope*h, m.Sigma * math.Sqrt(1+inflate*(1/float64(m.N)+d*d/m.sxx))
}

// LineSD returns the standard deviation of the fitted line h steps after
// the last point, without the noise of a single observation: the
// uncertainty of where the level will be, the quantity a capacity plan
// needs ("when does memory reach 90 %", not "when does one sample spike
// there").
func (m LinearTrend) LineSD(h float64) float64 {
	d := h - m.xbar
	inflate := (1 + m.Rho) / (1 - m.Rho)
	return m.Sigma * math.Sqrt(inflate*(1/float64(m.N)+d*d/m.sxx))
}

// SlopeSE returns the standard error of the slope, inflated for the
// residuals' autocorrelation like the intervals.
func (m LinearTrend) SlopeSE() float64 {
	return m.Sigma * math.Sqrt((1+m.Rho)/(1-m.Rho)/m.sxx)
}
