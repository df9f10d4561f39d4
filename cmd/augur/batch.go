package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/model"
)

// csvTimeLayout is the timestamp format of augur's CSV output (NAB's).
const csvTimeLayout = "2006-01-02 15:04:05"

func detectCommand(app *kingpin.Application, stdout io.Writer) *command {
	c := &command{clause: app.Command("detect", "Score every row of CSV files for anomalies, online (row t sees rows <= t).")}
	input := c.clause.Flag("input", "CSV file or folder of CSV files (timestamp,value or wide timestamp,<name>,...).").Required().String()
	output := c.clause.Flag("output", "Output folder, or - for stdout (single file only).").Default("-").String()
	c.run = func(ctx context.Context, logger *slog.Logger) error {
		return eachInput(ctx, *input, *output, stdout, logger, detectTable)
	}
	return c
}

func forecastCommand(app *kingpin.Application, stdout io.Writer) *command {
	c := &command{clause: app.Command("forecast", "Forecast CSV series past their last row, with prediction intervals.")}
	input := c.clause.Flag("input", "CSV file or folder of CSV files.").Required().String()
	output := c.clause.Flag("output", "Output folder, or - for stdout (single file only).").Default("-").String()
	h := horizonFlag(c.clause, maxForecastSteps)
	interval := c.clause.Flag("interval", "Nominal coverage of the prediction interval.").Default("0.95").Float64()
	models := modelsFlag(c.clause)
	c.run = func(ctx context.Context, logger *slog.Logger) error {
		if !(*interval > 0 && *interval < 1) {
			return fmt.Errorf("--interval must be in (0,1), got %v", *interval)
		}
		return eachInput(ctx, *input, *output, stdout, logger, func(t *ingest.Table, w io.Writer) error {
			return forecastTable(t, w, h, *interval, models())
		})
	}
	return c
}

// eachInput reads one CSV file or every *.csv of a folder and writes the
// result of fn for each, to stdout or to a file of the same name in output.
// The files of a folder are independent, so GOMAXPROCS workers process
// them at once; the error of the first failing file (in name order) is
// returned, and no new file is started after one fails.
func eachInput(ctx context.Context, input, output string, stdout io.Writer, logger *slog.Logger, fn func(*ingest.Table, io.Writer) error) error {
	fi, err := os.Stat(input)
	if err != nil {
		return fmt.Errorf("cannot read input: %w", err)
	}
	if !fi.IsDir() {
		t, err := readTable(input)
		if err != nil {
			return err
		}
		if output == "-" {
			bw := bufio.NewWriter(stdout)
			if err := fn(t, bw); err != nil {
				return fmt.Errorf("%s: %w", input, err)
			}
			return bw.Flush()
		}
		if err := os.MkdirAll(output, 0o755); err != nil {
			return fmt.Errorf("cannot create output folder: %w", err)
		}
		return processFile(input, output, t, fn)
	}
	files, err := filepath.Glob(filepath.Join(input, "*.csv"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	if len(files) == 0 {
		return fmt.Errorf("no *.csv files in %s", input)
	}
	if output == "-" {
		return fmt.Errorf("--output must be a folder when --input is a folder")
	}
	if err := os.MkdirAll(output, 0o755); err != nil {
		return fmt.Errorf("cannot create output folder: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(files))
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(files) && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				t, err := readTable(files[i])
				if err == nil {
					err = processFile(files[i], output, t, fn)
				}
				if err != nil {
					errs[i] = err
					cancel()
					return
				}
				logger.Info("processed", "file", files[i], "rows", len(t.Times), "done", fmt.Sprintf("%d/%d", done.Add(1), len(files)))
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return context.Cause(ctx)
}

// processFile writes fn's result for the table read from path into the
// file of the same name in output.
func processFile(path, output string, t *ingest.Table, fn func(*ingest.Table, io.Writer) error) error {
	if err := writeFile(filepath.Join(output, filepath.Base(path)), func(w io.Writer) error { return fn(t, w) }); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func readTable(path string) (*ingest.Table, error) {
	f, err := openFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ingest.ReadCSV(f, path)
}

// maxInPlace is the largest output that writeFile holds in memory, and so
// may rewrite in place (a day at 5 minutes with intervals is about 20 KB);
// a larger one streams through a temporary file.
const maxInPlace = 4 << 20

// outputs hold writeFile's buffers, reused from file to file.
var outputs = sync.Pool{New: func() any { return &output{bw: bufio.NewWriterSize(nil, 64<<10)} }}

// writeFile writes fn's output to path. The output is collected in memory
// (up to maxInPlace) before path is touched, so a failed fn leaves an
// existing file as it was. An existing regular file (one link, not a
// symbolic link) is then overwritten in place and truncated to the new
// length, as R's write.csv rewrites its outputs; any other output is
// written to a temporary file renamed into place. Replacing an existing
// file by a rename costs ext4 a new inode, the old one's blocks freed and
// the new one's write-back started at once (auto_da_alloc): for 200 files
// of 20 KB, 33-54 ms of system time against 4-5 ms to overwrite them in
// place, most of the kernel's time in a rerun of forecast into the same
// folder. A failed write in place removes the file, so that no mix of old
// and new output is left behind (a kill during the write can still leave
// one: the price of not paying the rename).
func writeFile(path string, fn func(io.Writer) error) error {
	o := outputs.Get().(*output)
	defer o.release()
	o.dir = filepath.Dir(path)
	err := fn(o)
	if o.tmp == nil && err == nil {
		var done bool
		if done, err = overwrite(path, o.buf); done {
			return err
		}
		err = o.spill()
	}
	if o.tmp == nil {
		return err
	}
	if err == nil {
		err = o.bw.Flush()
	}
	if cerr := o.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(o.tmp.Name(), path)
	}
	if err != nil {
		os.Remove(o.tmp.Name()) // after a rename there is nothing to remove
	}
	return err
}

// output is an io.Writer that keeps what is written in buf while it fits
// in maxInPlace, and then moves it to a temporary file in dir and streams
// the rest there through bw.
type output struct {
	dir string
	buf []byte
	tmp *os.File
	bw  *bufio.Writer
}

func (o *output) Write(p []byte) (int, error) {
	if o.tmp == nil {
		if len(o.buf)+len(p) <= maxInPlace {
			o.buf = append(o.buf, p...)
			return len(p), nil
		}
		if err := o.spill(); err != nil {
			return 0, err
		}
	}
	return o.bw.Write(p)
}

// spill creates the temporary file and moves buf to it.
func (o *output) spill() error {
	tmp, err := createTemp(o.dir)
	if err != nil {
		return err
	}
	o.tmp = tmp
	o.bw.Reset(tmp)
	_, err = o.bw.Write(o.buf)
	o.buf = o.buf[:0]
	return err
}

// release returns o to outputs, without its file.
func (o *output) release() {
	o.buf, o.tmp = o.buf[:0], nil
	o.bw.Reset(nil)
	outputs.Put(o)
}

// overwrite writes data over the existing regular file path and truncates
// it to len(data); done is false, and nothing is written, when path is
// missing, not a regular file, a symbolic link or has other links.
func overwrite(path string, data []byte) (done bool, err error) {
	f, err := openFile(path, os.O_WRONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false, nil
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Sys().(*syscall.Stat_t).Nlink != 1 {
		f.Close()
		return false, nil
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Truncate(int64(len(data)))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return true, err
}

// openFile opens path as os.OpenFile does, but without offering the
// descriptor to the runtime's poller: a regular file cannot be polled, and
// os.OpenFile's attempt costs an epoll_ctl and three fcntl calls per file,
// half the system calls of reading or writing a small file (os.NewFile
// only asks whether the descriptor is non-blocking).
func openFile(path string, flag int, perm uint32) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, flag|syscall.O_CLOEXEC, perm)
		if err == nil {
			return os.NewFile(uintptr(fd), path), nil
		}
		if err != syscall.EINTR {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
	}
}

// createTemp creates a new file .augur-<random> in dir, as os.CreateTemp
// does (mode 0600), through openFile.
func createTemp(dir string) (*os.File, error) {
	for range 10000 {
		f, err := openFile(filepath.Join(dir, ".augur-"+strconv.FormatUint(uint64(rand.Uint32()), 10)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, &os.PathError{Op: "createtemp", Path: filepath.Join(dir, ".augur-*"), Err: fs.ErrExist}
}

func isNAB(t *ingest.Table) bool { return len(t.Columns) == 1 && t.Columns[0] == "value" }

func formatFloat(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// detectTable scores each column with its own streaming detector. The
// anomaly_score columns are the detector's alarms (Detector.Alarm: NAB's
// semantics, high at the first point of an anomaly, the output `augur nab`
// scores). Wide tables (one entity per file) also get the entity's score
// over all its columns at once (anomaly_evidence, model.EntityDetector),
// its failure probability from the continuous scores of the columns and
// the entity (model.EntityAnomalyPrior), which stay high while an anomaly lasts,
// and, while the entity score is above its median (0.5), the three columns
// that contribute most to it (factors).
func detectTable(t *ingest.Table, w io.Writer) error {
	if isNAB(t) {
		return detectNAB(t, w)
	}
	header := append([]string{"timestamp"}, t.Columns...)
	for _, c := range t.Columns {
		header = append(header, "anomaly_score_"+c)
	}
	header = append(header, "anomaly_evidence", "failure_probability", "factors")
	if _, err := fmt.Fprintln(w, strings.Join(header, ",")); err != nil {
		return err
	}
	s := newEntityScorer(len(t.Columns))
	row := make([]string, 0, len(header))
	var factors []string
	for r, ts := range t.Times {
		s.observeRow(t, r)
		row = append(row[:0], time.UnixMilli(ts).UTC().Format(csvTimeLayout))
		for c := range t.Columns {
			row = append(row, formatFloat(t.Values[c][r]))
		}
		for _, d := range s.dets {
			row = append(row, strconv.FormatFloat(d.Alarm(), 'f', 6, 64))
		}
		factors = factors[:0]
		for _, c := range s.order[:min(3, len(s.order))] {
			if s.evidence > 0.5 && s.shares[c] > 0 {
				factors = append(factors, t.Columns[c])
			}
		}
		row = append(row, strconv.FormatFloat(s.evidence, 'f', 6, 64), strconv.FormatFloat(s.failure, 'f', 6, 64), strings.Join(factors, ";"))
		if _, err := fmt.Fprintln(w, strings.Join(row, ",")); err != nil {
			return err
		}
	}
	return nil
}

// detectNAB writes NAB's results format for a timestamp,value table.
func detectNAB(t *ingest.Table, w io.Writer) error {
	if _, err := fmt.Fprintln(w, "timestamp,value,anomaly_score"); err != nil {
		return err
	}
	d := model.NewDetector(model.DetectorOptions{})
	for r, ts := range t.Times {
		v := t.Values[0][r]
		d.Observe(ts, v)
		if _, err := fmt.Fprintf(w, "%s,%s,%s\n", time.UnixMilli(ts).UTC().Format(csvTimeLayout), formatFloat(v), strconv.FormatFloat(d.Alarm(), 'f', 6, 64)); err != nil {
			return err
		}
	}
	return nil
}

// tableStep is the median spacing of a table's timestamps.
func tableStep(t *ingest.Table) (int64, error) {
	if len(t.Times) < 3 {
		return 0, fmt.Errorf("need at least 3 rows to forecast, have %d", len(t.Times))
	}
	step := t.Times[1] - t.Times[0]
	for i := 2; i < len(t.Times); i++ {
		if t.Times[i]-t.Times[i-1] != step { // not a regular grid, the usual case
			d := make([]int64, len(t.Times)-1)
			for i := range d {
				d[i] = t.Times[i+1] - t.Times[i]
			}
			slices.Sort(d)
			step = d[len(d)/2]
			break
		}
	}
	if step > 0 {
		return step, nil
	}
	return 0, fmt.Errorf("timestamps do not advance")
}

// seasonalCandidates are the periods worth testing at a step: a day and a week.
func seasonalCandidates(stepMs int64) []int {
	var out []int
	for _, p := range []time.Duration{24 * time.Hour, 7 * 24 * time.Hour} {
		if n := int(p.Milliseconds() / stepMs); n > 1 {
			out = append(out, n)
		}
	}
	return out
}

func forecastTable(t *ingest.Table, w io.Writer, hz *horizon, level float64, models []string) error {
	step, err := tableStep(t)
	if err != nil {
		return err
	}
	h, err := hz.steps(step)
	if err != nil {
		return err
	}
	fcs := make([]model.Forecast, len(t.Columns))
	for c, name := range t.Columns {
		// The model is chosen per column by rolling-origin backtest at the
		// requested horizon (model.Select), as the service does.
		m, _, err := model.Select(t.Values[c], model.SelectOptions{Periods: seasonalCandidates(step), Horizon: h, Level: level, Candidates: models})
		if err != nil {
			return fmt.Errorf("cannot fit column %q: %w", name, err)
		}
		if err := m.PredictInto(&fcs[c], h, level); err != nil {
			return fmt.Errorf("cannot forecast column %q: %w", name, err)
		}
	}
	header := []string{"timestamp"}
	for _, c := range t.Columns {
		if isNAB(t) {
			header = append(header, "forecast", "lower", "upper")
		} else {
			header = append(header, c+"_forecast", c+"_lower", c+"_upper")
		}
	}
	if _, err := fmt.Fprintln(w, strings.Join(header, ",")); err != nil {
		return err
	}
	last := t.Times[len(t.Times)-1]
	var row []byte
	for i := range h {
		row = appendTime(row[:0], last+int64(i+1)*step)
		for c := range t.Columns {
			row = appendFloat(appendFloat(appendFloat(row, fcs[c].Point[i]), fcs[c].Lower[i]), fcs[c].Upper[i])
		}
		if _, err := w.Write(append(row, '\n')); err != nil {
			return err
		}
	}
	return nil
}

// appendTime and appendFloat build an output row in place (formatFloat's
// format after a comma), so that writing a row allocates nothing.
func appendTime(row []byte, ms int64) []byte {
	return time.UnixMilli(ms).UTC().AppendFormat(row, csvTimeLayout)
}

func appendFloat(row []byte, v float64) []byte {
	row = append(row, ',')
	if math.IsNaN(v) {
		return row
	}
	return strconv.AppendFloat(row, v, 'g', -1, 64)
}
