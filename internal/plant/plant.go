// Package plant draws the synthetic series with planted capacity problems
// that augur's capacity tests measure against: their noiseless level is
// known everywhere, past and future, so the true time to a threshold is.
// It is test data for model's and engine's tests, seeded by the caller.
package plant

import (
	"fmt"
	"math"
	"math/rand/v2"
)

const (
	msPerDay  = 24 * 60 * 60 * 1000
	msPerWeek = 7 * msPerDay
	// Step is the series' sample interval, five minutes.
	Step int64 = 5 * 60 * 1000
)

// Series is a simulated series sampled every Step up to Now, whose
// noiseless level is known everywhere, past and future.
type Series struct {
	Now    int64 // ms, the last sample
	Values []float64
	Level  func(t int64) float64
	// Rate is the growth per day of the level's trend now.
	Rate float64
	Desc string // the planted features, for logs
}

// LeakAfterQuiet dSteps issue 14's fleet: 21 days at five minutes, AR(1)
// noise, a daily cycle with a second harmonic, a weekend dip with 6-hour
// ramps, a level shift older than the leak and a linear leak of 0.5-3 % of
// the limit (100) per day that began 2 to 10 days ago, whose trend would
// reach 90 in 2 to 50 days. Hosts whose cycles have already touched 90 are
// redStepn.
func LeakAfterQuiet(rng *rand.Rand) Series {
	const days = 21
	now := int64(1772323200000) + rng.Int64N(msPerWeek)/Step*Step
	start := now - days*msPerDay
	for {
		rate := 0.5 + 2.5*rng.Float64()
		began := now - int64((2+8*rng.Float64())*float64(msPerDay))
		ahead := 2 + 48*rng.Float64()
		levelNow := 90 - rate*ahead
		if levelNow < 20 {
			continue
		}
		shiftAt := start + msPerDay + int64(rng.Float64()*float64(began-start-2*msPerDay))
		shift := (3 + 7*rng.Float64()) * float64(1-2*rng.IntN(2))
		amp, ph1, ph2 := 2+6*rng.Float64(), 2*math.Pi*rng.Float64(), 2*math.Pi*rng.Float64()
		dip := 1 + 4*rng.Float64()
		base := levelNow - rate*float64(now-began)/float64(msPerDay) - shift
		level := func(t int64) float64 {
			v := base
			if t >= shiftAt {
				v += shift
			}
			if t > began {
				v += rate * float64(t-began) / float64(msPerDay)
			}
			d := 2 * math.Pi * float64(((t%msPerDay)+msPerDay)%msPerDay) / float64(msPerDay)
			v += amp * (math.Sin(d+ph1) + 0.3*math.Sin(2*d+ph2))
			return v - dip*weekend(t)
		}
		p := Series{Now: now, Level: level, Rate: rate}
		touched := false
		for t := start; t <= now; t += Step {
			touched = touched || level(t) >= 90
		}
		if touched {
			continue
		}
		phi := 0.7 + 0.25*rng.Float64()
		sd := 0.5 + 2*rng.Float64() // marginal
		p.Desc = fmt.Sprintf("leak %.2f/d since %.1f d, shift %+.1f %.1f d ago, daily ±%.1f, weekend -%.1f, AR(1) φ %.2f sd %.2f",
			rate, float64(now-began)/float64(msPerDay), shift, float64(now-shiftAt)/float64(msPerDay), amp, dip, phi, sd)
		e := sd * rng.NormFloat64()
		for t := start; t <= now; t += Step {
			e = phi*e + sd*math.Sqrt(1-phi*phi)*rng.NormFloat64()
			p.Values = append(p.Values, level(t)+e)
		}
		return p
	}
}

// weekend is 1 on Saturdays and Sundays (UTC), 0 on weekdays, with linear
// 6-hour ramps centred on midnight.
func weekend(t int64) float64 {
	w := ((t-2*msPerDay)%msPerWeek + msPerWeek) % msPerWeek // 0 = Saturday 00:00
	ramp := func(x int64) float64 {
		const r = msPerDay / 4
		return math.Min(math.Max(float64(x+r/2)/r, 0), 1)
	}
	return ramp(w) - ramp(w-2*msPerDay) + ramp(w-msPerWeek)
}

// TrueETA returns the time in ms from Now until the noiseless level first
// reaches threshold, interpolated between samples, or +Inf past horizon.
func (p Series) TrueETA(threshold float64, horizon int64) float64 {
	prev := p.Level(p.Now)
	for t := p.Now + Step; t <= p.Now+horizon; t += Step {
		if v := p.Level(t); v >= threshold {
			return float64(t-Step-p.Now) + float64(Step)*(threshold-prev)/(v-prev)
		}
		prev = p.Level(t)
	}
	return math.Inf(1)
}

// Leak is the engine's capacity coverage series (TestCapacityETACoverage):
// 14 days at five minutes of a linear leak of 0.5-2 % per day from the
// start, a daily sine of amplitude 3-7 and AR(1) noise (φ = 0.8,
// innovations of 0.5-1.5), and a threshold 2 to 8 days of growth above the
// last noiseless value.
func Leak(rng *rand.Rand) (p Series, threshold float64) {
	const days = 14
	n := days * msPerDay / Step
	slope := (0.5 + 1.5*rng.Float64()) / float64(msPerDay/Step) // per sample
	amp := 3 + 4*rng.Float64()
	noise := 0.5 + rng.Float64()
	now := int64(1772323200000) + rng.Int64N(288)*Step
	start := now - days*msPerDay
	p = Series{Now: now, Rate: slope * float64(msPerDay/Step)}
	p.Level = func(t int64) float64 {
		tod := float64(((t%msPerDay)+msPerDay)%msPerDay) / float64(msPerDay)
		return 50 + slope*float64(t-start)/float64(Step) + amp*math.Sin(2*math.Pi*tod)
	}
	e := 0.0
	for i := range n + 1 {
		e = 0.8*e + noise*rng.NormFloat64()
		p.Values = append(p.Values, p.Level(start+i*Step)+e)
	}
	ahead := 2 + 6*rng.Float64()
	return p, p.Level(now) + slope*ahead*float64(msPerDay/Step)
}
