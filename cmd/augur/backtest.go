package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/augur-sre/augur/model"
)

// backtestCommand evaluates model.Select out of sample: every series is cut
// into a training part and a held-out tail; the model selected and fitted on
// the training part is run through the tail online (forecast, then Update),
// and its one-step and horizon-step errors and interval coverage are printed
// per series and overall.
func backtestCommand(app *kingpin.Application, out io.Writer) *command {
	c := &command{clause: app.Command("backtest", "Measure forecast accuracy on held-out data: MASE, sMAPE and interval coverage per file and overall.")}
	inputs := c.clause.Flag("input", "CSV file or folder of CSV files (*.csv, also in subfolders); repeatable.").Required().Strings()
	horizon := horizonFlag(c.clause, maxBacktestSteps)
	holdout := c.clause.Flag("holdout", "Fraction of each series held out at its end.").Default("0.2").Float64()
	interval := c.clause.Flag("interval", "Nominal coverage of the prediction intervals.").Default("0.95").Float64()
	models := modelsFlag(c.clause)
	format := c.clause.Flag("format", "Output format. One of: [table, csv]").Default("table").Enum("table", "csv")
	c.run = func(ctx context.Context, logger *slog.Logger) error {
		if !(*holdout > 0 && *holdout < 1) {
			return fmt.Errorf("--holdout must be in (0,1), got %v", *holdout)
		}
		if !(*interval > 0 && *interval < 1) {
			return fmt.Errorf("--interval must be in (0,1), got %v", *interval)
		}
		var rows []backtestRow
		for _, input := range *inputs {
			files, err := csvFiles(input)
			if err != nil {
				return err
			}
			for _, path := range files {
				if err := ctx.Err(); err != nil {
					return err
				}
				t, err := readTable(path)
				if err != nil {
					return err
				}
				step, err := tableStep(t)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				h, err := horizon.steps(step)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				for c, col := range t.Columns {
					name := relName(filepath.Dir(filepath.Clean(input)), path)
					if !isNAB(t) {
						name += ":" + col
					}
					start := time.Now()
					r, err := backtestSeries(t.Values[c], step, h, *holdout, *interval, models())
					if err != nil {
						return fmt.Errorf("cannot backtest %s: %w", name, err)
					}
					r.name = name
					rows = append(rows, r)
					logger.Debug("backtested", "series", name, "model", r.model, "duration", time.Since(start))
				}
			}
		}
		return writeBacktest(out, rows, *format)
	}
	return c
}

// csvFiles lists input, or the *.csv files under it (recursively), sorted.
func csvFiles(input string) ([]string, error) {
	fi, err := os.Stat(input)
	if err != nil {
		return nil, fmt.Errorf("cannot read input: %w", err)
	}
	if !fi.IsDir() {
		return []string{input}, nil
	}
	var files []string
	err = filepath.WalkDir(input, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".csv") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot list %s: %w", input, err)
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.csv files under %s", input)
	}
	return files, nil
}

func relName(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && r != "." {
		return r
	}
	return filepath.Base(path)
}

// backtestRow holds one series' held-out accuracy. Sums are kept so that
// the overall coverage pools points across series.
type backtestRow struct {
	name, model         string
	h, nTest            int
	mase1, maseH        float64
	smape1, smapeH      float64
	cover1, coverH      int // points inside the interval
	count1, countH      int // points scored
	selMASE, selSeconds float64
}

// backtestSeries selects and fits a model on the first 1-holdout of y and
// scores it online over the rest: at each held-out point the model forecasts
// h steps, the one-step forecast is scored against that point and the
// h-step one against the point h-1 later, then the point is fed to Update.
// MASE divides by the in-sample MAE of the naive (lag-1) forecast.
func backtestSeries(y []float64, stepMs int64, h int, holdout, level float64, models []string) (backtestRow, error) {
	nTrain := len(y) - int(holdout*float64(len(y)))
	train, test := y[:nTrain], y[nTrain:]
	r := backtestRow{h: h, nTest: len(test)}
	start := time.Now()
	m, sel, err := model.Select(train, model.SelectOptions{
		Periods: seasonalCandidates(stepMs), Horizon: h, Level: level, Candidates: models,
	})
	if err != nil {
		return r, err
	}
	r.selSeconds = time.Since(start).Seconds()
	r.model, r.selMASE = sel.Model, sel.MASE
	scale := naiveScale(train)
	var f model.Forecast
	var ae1, aeH, sm1, smH float64
	for i, v := range test {
		if err := m.PredictInto(&f, h, level); err != nil {
			return r, err
		}
		if finite(v) {
			ae1 += math.Abs(v - f.Point[0])
			sm1 += smape(v, f.Point[0])
			r.count1++
			if v >= f.Lower[0] && v <= f.Upper[0] {
				r.cover1++
			}
		}
		if j := i + h - 1; j < len(test) && finite(test[j]) {
			w := test[j]
			aeH += math.Abs(w - f.Point[h-1])
			smH += smape(w, f.Point[h-1])
			r.countH++
			if w >= f.Lower[h-1] && w <= f.Upper[h-1] {
				r.coverH++
			}
		}
		m.Update(v)
	}
	r.mase1 = ae1 / float64(max(r.count1, 1)) / scale
	r.maseH = aeH / float64(max(r.countH, 1)) / scale
	r.smape1 = sm1 / float64(max(r.count1, 1))
	r.smapeH = smH / float64(max(r.countH, 1))
	return r, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// naiveScale is MASE's denominator: the mean absolute lag-1 difference
// (1 for a constant series).
func naiveScale(y []float64) float64 {
	var s float64
	var k int
	for i := 1; i < len(y); i++ {
		if d := y[i] - y[i-1]; finite(d) {
			s += math.Abs(d)
			k++
		}
	}
	if k == 0 || s == 0 {
		return 1
	}
	return s / float64(k)
}

// smape is 200|y-f|/(|y|+|f|) in percent, 0 when both are 0.
func smape(y, f float64) float64 {
	d := math.Abs(y) + math.Abs(f)
	if d == 0 {
		return 0
	}
	return 200 * math.Abs(y-f) / d
}

func writeBacktest(w io.Writer, rows []backtestRow, format string) error {
	var t backtestRow
	t.name, t.model = "overall", "-"
	for _, r := range rows {
		t.nTest += r.nTest
		t.mase1 += r.mase1
		t.maseH += r.maseH
		t.smape1 += r.smape1 / float64(len(rows))
		t.smapeH += r.smapeH / float64(len(rows))
		t.cover1 += r.cover1
		t.coverH += r.coverH
		t.count1 += r.count1
		t.countH += r.countH
		t.selSeconds += r.selSeconds
	}
	pct := func(a, b int) float64 { return 100 * float64(a) / float64(max(b, 1)) }
	if format == "csv" {
		fmt.Fprintln(w, "series,model,h,n_test,mase_1,mase_h,smape_1,smape_h,coverage_1,coverage_h,select_ms")
		for _, r := range append(rows, t) {
			fmt.Fprintf(w, "%s,%s,%d,%d,%.6f,%.6f,%.4f,%.4f,%.4f,%.4f,%.3f\n", r.name, r.model, r.h, r.nTest,
				r.mase1, r.maseH, r.smape1, r.smapeH, pct(r.cover1, r.count1), pct(r.coverH, r.countH), 1000*r.selSeconds)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "series\tmodel\th\tn_test\tMASE@1\tMASE@h\tsMAPE@1\tsMAPE@h\tcover@1 %\tcover@h %\tselect ms\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.3f\t%.3f\t%.2f\t%.2f\t%.1f\t%.1f\t%.1f\t\n", r.name, r.model, r.h, r.nTest,
			r.mase1, r.maseH, r.smape1, r.smapeH, pct(r.cover1, r.count1), pct(r.coverH, r.countH), 1000*r.selSeconds)
	}
	fmt.Fprintf(tw, "overall (MASE summed, sMAPE mean, coverage pooled)\t-\t-\t%d\t%.3f\t%.3f\t%.2f\t%.2f\t%.1f\t%.1f\t%.1f\t\n", t.nTest,
		t.mase1, t.maseH, t.smape1, t.smapeH, pct(t.cover1, t.count1), pct(t.coverH, t.countH), 1000*t.selSeconds)
	return tw.Flush()
}
