package model

import (
	"errors"
	"fmt"
	"time"
)

// SeriesOptions configures FitSeries.
type SeriesOptions struct {
	// Step is the spacing of the series' grid in milliseconds.
	Step int64
	// Horizon is the multi-step lead of the selection criterion, in steps
	// (0: Select's default).
	Horizon int
	// Restored, when set, is the model kind of an earlier selection (e.g.
	// restored from a snapshot): only it is fitted, and the full selection
	// runs when it cannot be.
	Restored string
	// Kept, when set, is the last fit on the whole history, whose
	// baselines and selection are kept: t and y need be only the last
	// RecentSpan points of the history, and only the forecaster is fitted
	// again, of the kept kind with the kept periods (SelectOptions.Kept),
	// as it would be on the whole history. Restored is ignored.
	Kept *FittedSeries
}

// FittedSeries is everything FitSeries fits to one series.
type FittedSeries struct {
	// Forecaster is the model Select chose, updated through the last point,
	// its seasonal state in 16 bits (see hwState.compact); Selection
	// records the choice.
	Forecaster Forecaster
	Selection  Selection
	// Baseline is the band: by time of week when the history spans two
	// weeks, else by time of day. Daily is by time of day only (the same
	// Baseline when that is daily, else its centre alone, CenterOnly); it
	// deseasonalises recent trends.
	Baseline, Daily *Baseline
	// Period is the forecaster's seasonal period in steps, 0 without.
	Period int
}

// Bytes returns the memory the fitted models hold together.
func (f *FittedSeries) Bytes() int {
	n := ForecasterBytes(f.Forecaster) + f.Baseline.Bytes()
	if f.Daily != f.Baseline {
		n += f.Daily.Bytes()
	}
	return n
}

// ErrShortHistory is returned by FitSeries for fewer than MinSeriesPoints
// finite points.
var ErrShortHistory = errors.New("history too short to fit")

// MinSeriesPoints is the fewest finite points FitSeries fits.
const MinSeriesPoints = 10

// FitSeries fits the models of one series on the regular grid t (Unix
// milliseconds, spacing opts.Step) with values y (NaN missing): the
// forecaster chosen by Select among the daily and weekly periods that the
// history spans twice, and the seasonal baselines. It is the whole refit
// of a series in one call, at about 3 ms of CPU for a fortnight at one
// minute (BenchmarkFitSeries), because each part uses only what it needs:
// Select fits on the last four days and validates on the last 2016 points
// (see Select), DetectPeriods works on block means, the baselines sample
// their global fallbacks.
//
// Slots: the weekly baseline has 30-minute slots at steps up to 3 minutes
// and the daily one 5-minute slots (and wider ones at coarser steps, so
// that a slot gathers at least ten points over two weeks; see
// baselineSlot). At one-minute steps that is 336 slots of centre and scale,
// 1.3 KiB in 16 bits a value (profile16), instead of 2,016 five-minute
// slots of both (32 KB in float64) fitted before. On the demo's
// evaluation (`augur evaluate`) the weekly band at 30 or 15 minutes gives
// the same alarms and Brier score as at 5. The daily profile, which places
// the capacity trend's seasonal correction, has a slot per step (see
// dailySlot): at 15 minutes the Brier score rose from 0.00095 to 0.00119.
func FitSeries(t []int64, y []float64, opts SeriesOptions) (*FittedSeries, error) {
	if len(t) != len(y) {
		return nil, fmt.Errorf("cannot fit %d timestamps and %d values", len(t), len(y))
	}
	if opts.Step <= 0 {
		return nil, fmt.Errorf("cannot fit a series with step %d ms", opts.Step)
	}
	valid := 0
	for _, v := range y {
		if finite(v) {
			valid++
		}
	}
	if valid < MinSeriesPoints {
		return nil, fmt.Errorf("%w: %d points", ErrShortHistory, valid)
	}
	n := len(y)
	sopts := SelectOptions{Periods: seriesPeriods(n, opts.Step), Horizon: opts.Horizon}
	if k := opts.Kept; k != nil {
		fc, sel, err := Select(y, SelectOptions{Periods: sopts.Periods, Horizon: opts.Horizon, Kept: &k.Selection})
		if err != nil {
			return nil, fmt.Errorf("cannot refit the forecaster: %w", err)
		}
		compact(fc)
		return &FittedSeries{Forecaster: fc, Selection: sel, Baseline: k.Baseline, Daily: k.Daily, Period: k.Period}, nil
	}
	if opts.Restored != "" {
		sopts.Candidates = []string{opts.Restored}
	}
	fc, sel, err := Select(y, sopts)
	if err != nil && opts.Restored != "" {
		sopts.Candidates = nil
		fc, sel, err = Select(y, sopts)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot fit a forecaster: %w", err)
	}
	compact(fc)
	f := &FittedSeries{Forecaster: fc, Selection: sel}
	if len(sel.Periods) > 0 {
		f.Period = sel.Periods[0]
	}
	weekly := t[n-1]-t[0] >= (14*24*time.Hour - time.Hour).Milliseconds()
	if f.Baseline, err = FitBaseline(t, y, BaselineOptions{SlotWidth: baselineSlot(opts.Step, weekly), Weekly: weekly}); err != nil {
		return nil, fmt.Errorf("cannot fit baseline: %w", err)
	}
	f.Daily = f.Baseline
	if weekly {
		if f.Daily, err = FitBaseline(t, y, BaselineOptions{SlotWidth: dailySlot(opts.Step), CenterOnly: true}); err != nil {
			return nil, fmt.Errorf("cannot fit daily baseline: %w", err)
		}
	}
	return f, nil
}

// seriesPeriods returns the candidate periods of a history of n points at
// step ms: a day and a week, each when the history spans it twice.
func seriesPeriods(n int, stepMs int64) []int {
	var periods []int
	for _, p := range []time.Duration{24 * time.Hour, 7 * 24 * time.Hour} {
		if k := int(p.Milliseconds() / stepMs); k > 1 && n >= 2*k {
			periods = append(periods, k)
		}
	}
	return periods
}

// RecentSpan returns how many of the last points of a history of n points
// at step ms the forecaster of a fit on it with selection sel needs to be
// refitted alone (SeriesOptions.Kept), and false when that is the whole
// history or its holdout is not yet at Select's cap (see Select). A fit
// that kept a period of a week fits on four weeks, and so always needs
// the whole of a fortnight.
//
// The span's shortest candidate period is the whole history's (a day):
// the span covers four cycles of the longest kept period, and when none
// was detected the fallback period is the shortest, which the span
// covers four times over too, so Select falls back to the same one.
func RecentSpan(n int, stepMs int64, sel Selection) (int, bool) {
	return recentSpan(n, sel, seriesPeriods(n, stepMs))
}

// dailySlot is the slot width of the daily profile that deseasonalises
// the recent trends of the crossing model (FittedSeries.Daily) on two weeks
// of history: the step, but at least a minute (1,440 slots, 2.8 KiB), so
// that each slot gathers a point a day at least, fourteen over two weeks,
// enough for a median. A slot as wide as the band's (baselineSlot, five
// minutes at one-minute steps) cuts the corners of a sharp daily pattern:
// the interpolation between its centres misses a nightly job's ten-minute
// ramp by several points at each end, the residuals of the recent points
// rise across the ramp, and their trend reads as growth towards the limit,
// every night (the demo's batch-1 crossed its limit with probability 0.75
// at the end of its ramp).
func dailySlot(stepMs int64) int64 {
	if w := max(stepMs, time.Minute.Milliseconds()); msPerDay%w == 0 {
		return w
	}
	return baselineSlot(stepMs, false)
}

// baselineSlot is the narrowest slot width, among widths that divide a day
// and are at least 30 minutes for a weekly baseline, that gathers at least
// ten points over two weeks of history.
func baselineSlot(stepMs int64, weekly bool) int64 {
	perDay := int64(14) // a daily slot sees every day of two weeks
	narrowest := time.Duration(0)
	if weekly {
		perDay, narrowest = 2, 30*time.Minute
	}
	for _, w := range []time.Duration{5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour} {
		if ms := w.Milliseconds(); w >= narrowest && ms >= stepMs && perDay*ms/stepMs >= 10 {
			return ms
		}
	}
	return (24 * time.Hour).Milliseconds()
}
