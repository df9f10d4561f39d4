// Command hwbench is augur's side of bench/run.sh: it generates the
// benchmark series, and times Holt-Winters fit plus forecast on them.
//
//	hwbench -gen DIR [-series 20]   write DIR/s00.csv ... (timestamp,value)
//	hwbench -dir DIR [-reps 20]     print series,fit_ms,mase,... as CSV
//	hwbench -throughput             print Update throughput and memory
//
// Every series has 2016 + 288 points at 5 minutes (a week of history and the
// next day): a daily cycle with a second harmonic, a small trend and AR(1)
// noise, with per-series parameters drawn from a fixed seed. The fit sees the
// first 2016 points (period 288) and forecasts the next 288; MASE divides
// the forecast's mean absolute error by the in-sample MAE of the naive
// (lag-1) forecast, as bench/ref.R and bench/ref.py do.
package main

import (
	"bufio"
	"encoding/csv"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/augur-sre/augur/model"
)

const (
	histLen = 2016
	period  = 288
	horizon = 288
)

func main() {
	gen := flag.String("gen", "", "write the benchmark series into this folder")
	series := flag.Int("series", 20, "number of series to generate")
	dir := flag.String("dir", "", "time fit+forecast on the series in this folder")
	reps := flag.Int("reps", 20, "timed repetitions per series (the median is printed)")
	tput := flag.Bool("throughput", false, "measure Update throughput and memory per fitted series")
	flag.Parse()
	var err error
	switch {
	case *gen != "":
		err = generate(*gen, *series)
	case *dir != "":
		err = timeDir(*dir, *reps)
	case *tput:
		err = throughput()
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hwbench:", err)
		os.Exit(1)
	}
}

func generate(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(2016, 288))
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for s := range n {
		level := 20 + 60*rng.Float64()
		amp := 2 + 10*rng.Float64()
		amp2 := amp * 0.3 * rng.Float64()
		trend := (rng.Float64() - 0.5) * 0.004
		sd := 0.5 + 2*rng.Float64()
		phase := 2 * math.Pi * rng.Float64()
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("s%02d.csv", s)))
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		fmt.Fprintln(w, "timestamp,value")
		var ar float64
		for t := range histLen + horizon {
			ar = 0.7*ar + sd*rng.NormFloat64()
			x := 2 * math.Pi * float64(t) / period
			v := level + trend*float64(t) + amp*math.Sin(x+phase) + amp2*math.Cos(2*x) + ar
			fmt.Fprintf(w, "%s,%.4f\n", start.Add(time.Duration(t)*5*time.Minute).Format("2006-01-02 15:04:05"), v)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

func readValues(path string) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, err
	}
	var y []float64
	for _, r := range rows[1:] {
		v, err := strconv.ParseFloat(r[1], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		y = append(y, v)
	}
	return y, nil
}

// mase is the forecast's MAE over the naive forecast's in-sample MAE.
func mase(train, test, fc []float64) float64 {
	var s, e float64
	for i := 1; i < len(train); i++ {
		s += math.Abs(train[i] - train[i-1])
	}
	s /= float64(len(train) - 1)
	for i := range test {
		e += math.Abs(test[i] - fc[i])
	}
	return e / float64(len(test)) / s
}

func timeDir(dir string, reps int) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil {
		return err
	}
	slices.Sort(files)
	fmt.Println("series,augur_ms,augur_mase,augur_select_ms,augur_select_mase,augur_select_model")
	for _, path := range files {
		y, err := readValues(path)
		if err != nil {
			return err
		}
		train, test := y[:histLen], y[histLen:histLen+horizon]
		var f model.Forecast
		times := make([]float64, reps)
		for r := range times {
			start := time.Now()
			m, err := model.FitHoltWinters(train, model.HoltWintersOptions{Period: period})
			if err != nil {
				return err
			}
			if err := m.PredictInto(&f, horizon, 0.95); err != nil {
				return err
			}
			times[r] = float64(time.Since(start).Nanoseconds()) / 1e6
		}
		slices.Sort(times)
		hwMASE := mase(train, test, f.Point)
		// The full model selection for this lead time, for comparison (not
		// the speed target).
		start := time.Now()
		sm, sel, err := model.Select(train, model.SelectOptions{Periods: []int{period}, Horizon: horizon})
		if err != nil {
			return err
		}
		if err := sm.PredictInto(&f, horizon, 0.95); err != nil {
			return err
		}
		selMs := float64(time.Since(start).Nanoseconds()) / 1e6
		fmt.Printf("%s,%.4f,%.6f,%.3f,%.6f,%s\n", filepath.Base(path), times[len(times)/2], hwMASE, selMs, mase(train, test, f.Point), sel.Model)
	}
	return nil
}

// throughput measures HoltWinters.Update on one core and the heap retained
// per fitted period-288 model.
func throughput() error {
	rng := rand.New(rand.NewPCG(1, 1))
	y := make([]float64, histLen)
	for t := range y {
		y[t] = 50 + 10*math.Sin(2*math.Pi*float64(t)/period) + rng.NormFloat64()
	}
	m, err := model.FitHoltWinters(y, model.HoltWintersOptions{Period: period})
	if err != nil {
		return err
	}
	const n = 50_000_000
	start := time.Now()
	for i := range n {
		m.Update(y[i%histLen])
	}
	el := time.Since(start)
	fmt.Printf("update: %d points in %v: %.1f M points/s (%.2f ns/point)\n", n, el.Round(time.Millisecond), n/el.Seconds()/1e6, float64(el.Nanoseconds())/n)

	const k = 2000
	models := make([]*model.HoltWinters, k)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range models {
		if models[i], err = model.FitHoltWinters(y, model.HoltWintersOptions{Period: period}); err != nil {
			return err
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	fmt.Printf("memory: %.0f bytes retained per fitted period-%d Holt-Winters (%d models)\n", float64(after.HeapAlloc-before.HeapAlloc)/k, period, k)
	runtime.KeepAlive(models)
	return nil
}
