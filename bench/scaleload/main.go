// Command scaleload is the measuring half of bench/scale.sh: it watches one
// running `augur serve` on a demo fleet of a given size, or the replicas
// sharing one, and reports what the script tabulates, and it prepares the
// real-Prometheus variant.
//
//	scaleload measure -url URL -pid PID -log FILE -storage DIR -size 10k   one JSON line of results
//	scaleload restart -url URL -pid PID -log FILE -result FILE   FILE's result with the time to ready after a restart
//	scaleload table FILE                     the table of FILE's JSON lines and the ratios between sizes
//	scaleload openmetrics -hosts N -out FILE the demo fleet's history as OpenMetrics, for promtool
//	scaleload ingest -url URL -hosts N       samples/s read through augur's Prometheus source
//	scaleload port                           a free TCP port on 127.0.0.1
//	scaleload cluster -urls U1,U2 -pids P1,P2 -hosts N   one JSON line on replicas sharing a fleet
//	scaleload clustertable FILE              their table and the costs against one replica
//
// Times come from augur itself where it says them (the "fitted models" log
// line for a full refit; the mean of augur_evaluation_duration_seconds over
// the evaluations after ready, the first one having loaded the history),
// resident memory from /proc/PID/status, request latencies from sequential
// requests timed here.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/internal/testservers"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: scaleload measure|table|openmetrics|ingest|port|cluster|clustertable [flags]")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "measure":
		err = measure(args)
	case "restart":
		err = restart(args)
	case "table":
		err = table(args)
	case "openmetrics":
		err = openMetrics(args)
	case "ingest":
		err = ingestRate(args)
	case "port":
		err = freePort()
	case "cluster":
		err = clusterMeasure(args)
	case "clustertable":
		err = clusterTable(args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaleload:", err)
		os.Exit(1)
	}
}

// Result is one size's line of the table.
type Result struct {
	Size     string   `json:"size"`
	Source   string   `json:"source"`
	Planned  int      `json:"planned_series"` // hosts × 3
	Series   int      `json:"series"`         // what augur models, augur_series
	ReadySec float64  `json:"ready_s"`
	FitSec   float64  `json:"first_fit_s"`
	RefitSec *float64 `json:"refit_s"`      // a full refit after ready; nil if none was seen
	EvalSec  *float64 `json:"evaluation_s"` // nil when augur does not export it
	RSSReady int64    `json:"rss_ready_bytes"`
	RSSRefit int64    `json:"rss_refit_bytes"`
	RSSPeak  int64    `json:"rss_peak_bytes"` // the most seen, sampled every 250 ms
	// The anonymous part of the resident memory (RssAnon): VmRSS also
	// counts the pages of the TSDB's memory-mapped chunk and block files
	// that were read, page cache the kernel reclaims under pressure.
	AnonReady   int64   `json:"rss_anon_ready_bytes"`
	AnonRefit   int64   `json:"rss_anon_refit_bytes"`
	AnonPeak    int64   `json:"rss_anon_peak_bytes"`
	Latency     []Probe `json:"latency"`
	TSDBBytes   int64   `json:"tsdb_bytes"`
	TSDBSamples float64 `json:"tsdb_samples"`  // appended, per augur_tsdb_appended_samples_total
	BlockBytes  int64   `json:"block_bytes"`   // in compacted blocks
	BlockSample int64   `json:"block_samples"` // their meta.json numSamples
	IngestRate  float64 `json:"ingest_samples_per_s,omitempty"`
	// A restart on the same storage (warm TSDB, models file): the time to
	// ready and how many series it installed from the models file and
	// had to fit.
	RestartReadySec *float64 `json:"restart_ready_s,omitempty"`
	RestartModels   int      `json:"restart_models,omitempty"`
	RestartFits     int      `json:"restart_fits,omitempty"`
	Notes           []string `json:"notes,omitempty"`
}

// Probe is the latency of one endpoint over N sequential requests.
type Probe struct {
	Name string  `json:"name"`
	N    int     `json:"n"`
	P50  float64 `json:"p50_s"`
	P99  float64 `json:"p99_s"`
}

// measure reports on one augur; when augur fails after it was ready, the
// figures measured until then are still printed, with the failure as a note.
func measure(args []string) error {
	fs := flag.NewFlagSet("measure", flag.ExitOnError)
	base := fs.String("url", "", "augur's base URL")
	pid := fs.Int("pid", 0, "augur's process id")
	logFile := fs.String("log", "", "augur's log file (logfmt)")
	storage := fs.String("storage", "", "augur's --storage.path")
	size := fs.String("size", "", "label of this size in the table")
	source := fs.String("source", "demo", "label of the source in the table")
	var rf runFlags
	rf.register(fs)
	refitTimeout := fs.Duration("refit-timeout", 30*time.Minute, "how long to wait for a full refit after ready")
	ingestRate := fs.Float64("ingest-rate", 0, "samples/s measured by scaleload ingest, to print with this size")
	planned := fs.Int("planned", 0, "the series the configuration asks for")
	only := fs.String("probes", "failures capacity query_range", "the endpoints to time, space-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	w := &watch{pid: *pid, maxRSS: rf.maxRSS, log: *logFile}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.guard(ctx)
	start := rf.start()
	r := Result{Size: *size, Source: *source, Planned: *planned, IngestRate: *ingestRate}

	progress("%s: waiting for /-/ready", *size)
	err := w.until(rf.readyTimeout, func() (bool, error) { return get(*base+"/-/ready", 10*time.Second) == nil, nil })
	if err != nil {
		err = fmt.Errorf("not ready %.0fs after start: %w", time.Since(start).Seconds(), err)
	} else {
		r.ReadySec = time.Since(start).Seconds()
		err = w.afterReady(&r, *base, *storage, strings.Fields(*only), rf.requests, rf.budget, *refitTimeout)
	}
	if f := w.fatal.Load(); f != nil {
		// What failed in flight failed because augur was killed.
		err = fmt.Errorf("%.0fs after start: %w", time.Since(start).Seconds(), *f)
	}
	r.RSSPeak, r.AnonPeak = w.peak.Load(), w.anonPeak.Load()
	if err != nil {
		r.Notes = append(r.Notes, "failed: "+err.Error())
		_ = json.NewEncoder(os.Stdout).Encode(r)
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// restart adds to a result of measure the time a restarted augur, on the
// storage of the measured one, took to get ready.
func restart(args []string) error {
	fs := flag.NewFlagSet("restart", flag.ExitOnError)
	base := fs.String("url", "", "augur's base URL")
	pid := fs.Int("pid", 0, "augur's process id")
	logFile := fs.String("log", "", "augur's log file (logfmt)")
	result := fs.String("result", "", "the file of measure's result")
	var rf runFlags
	rf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	rs, err := readResults[Result]([]string{*result}, "restart")
	if err != nil {
		return err
	}
	r := rs[len(rs)-1]
	w := &watch{pid: *pid, maxRSS: rf.maxRSS, log: *logFile}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.guard(ctx)
	start := rf.start()
	progress("%s: waiting for /-/ready after a restart", r.Size)
	err = w.until(rf.readyTimeout, func() (bool, error) { return get(*base+"/-/ready", 10*time.Second) == nil, nil })
	if f := w.fatal.Load(); f != nil {
		err = *f
	}
	if err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("restart: not ready %.0fs after start: %v", time.Since(start).Seconds(), err))
	} else {
		d := time.Since(start).Seconds()
		r.RestartReadySec = &d
		r.RestartModels, r.RestartFits = w.installed()
		progress("%s: ready %.1fs after a restart, %d series' models installed, %d fitted", r.Size, d, r.RestartModels, r.RestartFits)
	}
	if e := json.NewEncoder(os.Stdout).Encode(r); err == nil {
		err = e
	}
	return err
}

// installedLine is augur's log line of the series whose models a start
// installed from its models file, and those it had to fit.
var installedLine = regexp.MustCompile(`msg="installing models from the models file".* series=(\d+) to_fit=(\d+)`)

// installed returns what the log's installedLine says, zeros without one.
func (w *watch) installed() (models, fits int) {
	b, err := os.ReadFile(w.log)
	if err != nil {
		return 0, 0
	}
	if m := installedLine.FindSubmatch(b); m != nil {
		models, _ = strconv.Atoi(string(m[1]))
		fits, _ = strconv.Atoi(string(m[2]))
	}
	return models, fits
}

func (w *watch) afterReady(r *Result, base, storage string, only []string, requests int, budget, refitTimeout time.Duration) error {
	size := r.Size
	fits, err := w.fits()
	if err != nil {
		return err
	}
	if len(fits) == 0 {
		return errors.New(`augur is ready but logged no "fitted models" line`)
	}
	r.FitSec = fits[0]
	if r.RSSReady, err = w.rss(); err != nil {
		return err
	}
	r.AnonReady = w.anon.Load()
	m, err := scrape(base)
	if err != nil {
		return err
	}
	r.Series = int(m.sum("augur_series"))
	// The evaluations up to ready include the first, which loads the
	// whole history: the cycle is timed from the evaluations after it.
	evalSum, evalCount := m.sum("augur_evaluation_duration_seconds_sum"), m.sum("augur_evaluation_duration_seconds_count")
	progress("%s: ready in %.1fs, %d series, first fit %.1fs, RSS %d MB, anonymous %d MB", size, r.ReadySec, r.Series, r.FitSec, r.RSSReady>>20, r.AnonReady>>20)

	now := time.Now()
	rangeQuery := func(q string) string {
		return "/api/v1/query_range?" + url.Values{
			"query": {q},
			"start": {strconv.FormatInt(now.Add(-24*time.Hour).Unix(), 10)},
			"end":   {strconv.FormatInt(now.Unix(), 10)},
			"step":  {"60"},
		}.Encode()
	}
	probes := []struct{ name, path, fallback string }{
		{"failures", "/api/v1/failures", ""},
		{"capacity", "/api/v1/capacity?sort=eta&limit=20&horizon=30d", ""},
		// An engine without PromQL answers 400 to the aggregation; the
		// plain selector is then what a dashboard can ask of it.
		{"query_range", rangeQuery("max by (host) (augur_anomaly_score)"), rangeQuery("augur_anomaly_score")},
	}
	for _, p := range probes {
		if !slices.Contains(only, p.name) {
			r.Notes = append(r.Notes, p.name+": not timed (PROBES)")
			continue
		}
		progress("%s: timing %s", size, p.path)
		pr, err := w.probe(base+p.path, requests, budget)
		var bad *statusError
		if errors.As(err, &bad) && bad.code == http.StatusBadRequest && p.fallback != "" {
			r.Notes = append(r.Notes, fmt.Sprintf("query_range: HTTP %d for max by (host) (augur_anomaly_score): no PromQL aggregation; timed the plain selector augur_anomaly_score instead", bad.code))
			pr, err = w.probe(base+p.fallback, requests, budget)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		pr.Name = p.name
		r.Latency = append(r.Latency, pr)
		if p.name == "query_range" {
			if n, err := resultSeries(base + p.path); err != nil || n == 0 {
				r.Notes = append(r.Notes, fmt.Sprintf("query_range: %d series returned (%v): the latency is that of an empty answer", n, err))
			}
		}
	}

	progress("%s: waiting for a full refit", size)
	err = w.until(refitTimeout, func() (bool, error) {
		f, err := w.fits()
		if len(f) > 1 {
			r.RefitSec = &f[1]
		}
		return len(f) > 1, err
	})
	switch {
	case errors.Is(err, errTimeout):
		r.Notes = append(r.Notes, fmt.Sprintf("no full refit within %s", refitTimeout))
	case err != nil:
		return err
	}
	if r.RSSRefit, err = w.rss(); err != nil {
		return err
	}
	r.AnonRefit = w.anon.Load()
	if m, err = scrape(base); err != nil {
		return err
	}
	switch n := m.sum("augur_evaluation_duration_seconds_count"); {
	case n > evalCount:
		mean := (m.sum("augur_evaluation_duration_seconds_sum") - evalSum) / (n - evalCount)
		r.EvalSec = &mean
	case n > 0:
		r.Notes = append(r.Notes, "evaluation cycle: no evaluation after ready")
	default:
		r.Notes = append(r.Notes, "evaluation cycle: augur exports no augur_evaluation_duration_seconds")
	}
	r.TSDBSamples = m.sum("augur_tsdb_appended_samples_total")
	r.TSDBBytes, r.BlockBytes, r.BlockSample, err = tsdbDisk(filepath.Join(storage, "tsdb"))
	return err
}

// runFlags are the flags of measure and cluster: when augur started, how
// its requests are timed, how long it may take and how big it may grow.
type runFlags struct {
	started      float64
	requests     int
	budget       time.Duration
	readyTimeout time.Duration
	maxRSS       int64
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.Float64Var(&f.started, "started", 0, "Unix time augur was started, in seconds")
	fs.IntVar(&f.requests, "requests", 200, "requests per endpoint")
	fs.DurationVar(&f.budget, "budget", time.Minute, "time per endpoint: fewer requests when they are slow (at least 3)")
	fs.DurationVar(&f.readyTimeout, "ready-timeout", 30*time.Minute, "how long augur may take to be ready")
	fs.Int64Var(&f.maxRSS, "max-rss", 16<<30, "kill augur and fail above this anonymous resident memory (RssAnon), in bytes")
}

func (f *runFlags) start() time.Time { return time.Unix(0, int64(f.started*1e9)) }

// watch checks on augur while waiting: it fails as soon as the process is
// gone or holds more than maxRSS of anonymous memory.
type watch struct {
	pid    int
	maxRSS int64
	log    string
	peak   atomic.Int64
	// anon is the last RssAnon read, anonPeak the most seen.
	anon, anonPeak atomic.Int64
	fatal          atomic.Pointer[error]
}

// guard samples augur's memory every 250 ms, also while a request is in
// flight (today's engine can grow by gigabytes within one), so that rss
// kills it at the cap and peak is the most it held.
func (w *watch) guard(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := w.rss(); err != nil {
				w.fatal.CompareAndSwap(nil, &err)
				return
			}
		}
	}
}

var errTimeout = errors.New("timed out")

func (w *watch) until(timeout time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := w.rss(); err != nil {
			return err
		}
		ok, err := done()
		if ok || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %s", errTimeout, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// rss returns augur's resident memory (VmRSS), records its anonymous part
// (RssAnon) and kills augur when that part exceeds maxRSS, so that a size
// this machine cannot hold fails instead of exhausting it. The cap is on
// RssAnon because VmRSS also counts the pages of the TSDB's memory-mapped
// chunk and block files that were read: page cache the kernel reclaims under
// pressure, which grew a 100k run's VmRSS gigabytes past its heap.
func (w *watch) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.pid))
	if err != nil {
		return 0, fmt.Errorf("augur (pid %d) is gone: %w", w.pid, err)
	}
	rss, anon := int64(-1), int64(-1)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || (f[0] != "VmRSS:" && f[0] != "RssAnon:") {
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cannot parse %q: %w", line, err)
		}
		if f[0] == "RssAnon:" {
			anon = kb << 10
		} else {
			rss = kb << 10
		}
	}
	if rss < 0 || anon < 0 {
		if strings.Contains(string(b), "State:\tZ") {
			return 0, fmt.Errorf("augur (pid %d) exited", w.pid)
		}
		return 0, fmt.Errorf("no VmRSS or RssAnon in /proc/%d/status", w.pid)
	}
	raise(&w.peak, rss)
	w.anon.Store(anon)
	raise(&w.anonPeak, anon)
	if anon > w.maxRSS {
		if p, err := os.FindProcess(w.pid); err == nil {
			_ = p.Kill()
		}
		return 0, fmt.Errorf("augur's anonymous resident memory (RssAnon) %d MB exceeds the cap of %d MB (VmRSS %d MB): killed", anon>>20, w.maxRSS>>20, rss>>20)
	}
	return rss, nil
}

// raise raises peak to b.
func raise(peak *atomic.Int64, b int64) {
	for {
		p := peak.Load()
		if b <= p || peak.CompareAndSwap(p, b) {
			return
		}
	}
}

var fitLine = regexp.MustCompile(`msg="fitted models".* duration=(\S+)`)

// fits returns the durations of the full fits augur logged so far.
func (w *watch) fits() ([]float64, error) {
	f, err := os.Open(w.log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []float64
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := fitLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		d, err := time.ParseDuration(strings.Trim(m[1], `"`))
		if err != nil {
			return nil, fmt.Errorf("cannot parse the fit duration in %q: %w", sc.Text(), err)
		}
		out = append(out, d.Seconds())
	}
	return out, sc.Err()
}

// probe times sequential GETs of u, after one untimed warm-up request; any
// answer but 200 fails the benchmark. A warm-up slower than a tenth of the
// budget counts as the first sample: nothing is left to warm up when one
// request takes that long.
func (w *watch) probe(u string, n int, budget time.Duration) (Probe, error) {
	began := time.Now()
	if err := get(u, requestTimeout); err != nil {
		return Probe{}, err
	}
	var lat []float64
	if d := time.Since(began); d > budget/10 {
		lat = append(lat, d.Seconds())
	}
	for len(lat) < n && (len(lat) < 3 || time.Since(began) < budget) {
		if _, err := w.rss(); err != nil {
			return Probe{}, err
		}
		t0 := time.Now()
		if err := get(u, requestTimeout); err != nil {
			return Probe{}, err
		}
		lat = append(lat, time.Since(t0).Seconds())
	}
	slices.Sort(lat)
	return Probe{N: len(lat), P50: quantile(lat, 0.5), P99: quantile(lat, 0.99)}, nil
}

// quantile is the nearest-rank quantile of sorted xs.
func quantile(xs []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[max(i, 0)]
}

// requestTimeout bounds one request: today's engine takes minutes to plan
// the capacity of a thousand series.
const requestTimeout = 20 * time.Minute

func get(u string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return &statusError{code: resp.StatusCode, msg: fmt.Sprintf("GET %s: %s: %.300s", u, resp.Status, body)}
	}
	return nil
}

// resultSeries returns how many series a query_range answers with.
func resultSeries(u string) (int, error) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("cannot decode %s: %w", u, err)
	}
	return len(body.Data.Result), nil
}

// statusError is an answer other than 200.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// metrics are the samples of one /metrics scrape, by series.
type metrics map[string]float64

func scrape(base string) (metrics, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	m := metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if line == "" || line[0] == '#' || i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	return m, sc.Err()
}

// sum adds the samples of the metric called name, whatever their labels.
func (m metrics) sum(name string) float64 {
	var s float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			s += v
		}
	}
	return s
}

// tsdbDisk returns the bytes under dir and those and the samples of its
// compacted blocks (from each block's meta.json).
func tsdbDisk(dir string) (total, blockBytes, blockSamples int64, err error) {
	// A compaction may remove a block or its temporary folder while the
	// walk is in it: what is gone no longer takes space.
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		total += fi.Size()
		return nil
	})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("cannot measure the TSDB: %w", err)
	}
	metas, _ := filepath.Glob(filepath.Join(dir, "*", "meta.json"))
	for _, meta := range metas {
		b, err := os.ReadFile(meta)
		if errors.Is(err, fs.ErrNotExist) {
			continue // compacted into another block since the glob
		}
		if err != nil {
			return 0, 0, 0, err
		}
		var m struct {
			Stats struct {
				NumSamples int64 `json:"numSamples"`
			} `json:"stats"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return 0, 0, 0, fmt.Errorf("cannot parse %s: %w", meta, err)
		}
		blockSamples += m.Stats.NumSamples
		_ = filepath.WalkDir(filepath.Dir(meta), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if fi, err := d.Info(); err == nil {
					blockBytes += fi.Size()
				}
			}
			return nil
		})
	}
	return total, blockBytes, blockSamples, nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s scaleload: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// openMetrics writes the demo fleet's history (the three signals and
// max_connections, 14 days at 1m up to -end) for promtool, one host at a
// time.
func openMetrics(args []string) error {
	fs := flag.NewFlagSet("openmetrics", flag.ExitOnError)
	hosts := fs.Int("hosts", ingest.DefaultDemoHosts, "fleet size")
	out := fs.String("out", "", "output file")
	history := fs.Duration("history", 14*24*time.Hour, "history before -end")
	end := fs.Int64("end", time.Now().Unix(), "end of the history, Unix seconds")
	if err := fs.Parse(args); err != nil {
		return err
	}
	anchor := time.Unix(*end, 0)
	d := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Hosts: *hosts, Start: anchor, History: *history, Clock: func() time.Time { return anchor }})
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	om := testservers.NewOpenMetricsWriter(f)
	var s testservers.Series
	for _, m := range ingest.DemoMetrics() {
		err := d.Each(context.Background(), m, anchor.Add(-*history), anchor, time.Minute, func(in ingest.Series) error {
			s = testservers.Series{Name: m, Labels: in.Labels, T: s.T[:0], V: s.V[:0]}
			for _, x := range in.Samples {
				s.T, s.V = append(s.T, x.T), append(s.V, x.V)
			}
			return om.Write(s)
		})
		if err != nil {
			return err
		}
	}
	if err := om.Close(); err != nil {
		return err
	}
	return f.Close()
}

// ingestRate reads the three signals and the limit of a backfilled demo
// fleet from a real Prometheus through augur's Prometheus source, as the
// engine's first fetch does, and prints samples per second.
func ingestRate(args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ExitOnError)
	u := fs.String("url", "", "Prometheus URL")
	end := fs.Int64("end", 0, "end of the backfilled history, Unix seconds")
	history := fs.Duration("history", 14*24*time.Hour, "history to read")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, err := ingest.NewPrometheus(ingest.PrometheusOptions{URL: *u})
	if err != nil {
		return err
	}
	to := time.Unix(*end, 0)
	var samples int
	t0 := time.Now()
	for _, m := range ingest.DemoMetrics() {
		ss, err := p.Range(context.Background(), m, to.Add(-*history), to, time.Minute)
		if err != nil {
			return err
		}
		for _, s := range ss {
			samples += len(s.Samples)
		}
	}
	el := time.Since(t0).Seconds()
	progress("read %d samples in %.1fs", samples, el)
	fmt.Printf("%.0f\n", float64(samples)/el)
	return nil
}

func freePort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

// table prints the results of scale.sh's sizes, the ratios between
// consecutive sizes (per series, so 1.00 is linear) and the issue's
// targets for the largest.
func table(args []string) error {
	rs, err := readResults[Result](args, "table")
	if err != nil {
		return err
	}
	slices.SortStableFunc(rs, func(a, b Result) int { return a.Planned - b.Planned })
	tw := newTabWriter()
	tw.row("size", "source", "series", "ready", "fit", "refit", "eval", "restart ready (models/fits)", "RSS ready", "RSS refit", "RSS peak", "KB/series", "anon ready/refit/peak", "anon KB/series",
		"failures p50/p99", "capacity p50/p99", "query_range p50/p99", "TSDB B/sample", "blocks B/sample", "ingest/s")
	for _, r := range rs {
		lat := map[string]string{}
		for _, p := range r.Latency {
			lat[p.Name] = fmt.Sprintf("%s/%s (%d)", ms(p.P50), ms(p.P99), p.N)
		}
		ingest := "-"
		if r.IngestRate > 0 {
			ingest = fmt.Sprintf("%.2fM", r.IngestRate/1e6)
		}
		restarted := "-"
		if r.RestartReadySec != nil {
			restarted = fmt.Sprintf("%s (%d/%d)", sec(*r.RestartReadySec), r.RestartModels, r.RestartFits)
		}
		tw.row(r.Size, r.Source, strconv.Itoa(r.Series), sec(measured(r.ReadySec)), sec(measured(r.FitSec)), sec(opt(r.RefitSec)), sec(opt(r.EvalSec)), restarted,
			mb(r.RSSReady), mb(r.RSSRefit), mb(r.RSSPeak), ratio(float64(max(r.RSSReady, r.RSSRefit))/1024, float64(r.Series)),
			mb(r.AnonReady)+"/"+mb(r.AnonRefit)+"/"+mb(r.AnonPeak), ratio(float64(r.AnonRefit)/1024, float64(r.Series)),
			lat["failures"], lat["capacity"], lat["query_range"],
			ratio(float64(r.TSDBBytes), r.TSDBSamples), ratio(float64(r.BlockBytes), float64(r.BlockSample)), ingest)
	}
	tw.flush()
	for _, r := range rs {
		for _, n := range r.Notes {
			fmt.Printf("note (%s): %s\n", r.Size, n)
		}
	}

	ok := 0
	for _, r := range rs {
		if r.Series > 0 {
			ok++
		}
	}
	if ok > 1 {
		fmt.Println("\nper-series cost, larger size over smaller (1.00 = linear, below = better than linear):")
		tw = newTabWriter()
		tw.row("sizes", "series ×", "ready", "refit", "RSS", "marginal KB/series", "failures p99", "capacity p99", "query_range p99")
		for i := 1; i < len(rs); i++ {
			a, b := rs[i-1], rs[i]
			if a.Series == 0 || b.Series == 0 {
				continue // a size augur did not get ready on has no costs
			}
			n := float64(b.Series) / float64(a.Series)
			per := func(x, y float64) string { return fmt.Sprintf("%.2f", y/x/n) }
			p99 := func(name string) string {
				var x, y float64
				for _, p := range a.Latency {
					if p.Name == name {
						x = p.P99
					}
				}
				for _, p := range b.Latency {
					if p.Name == name {
						y = p.P99
					}
				}
				return per(x, y)
			}
			rssA, rssB := float64(max(a.RSSReady, a.RSSRefit)), float64(max(b.RSSReady, b.RSSRefit))
			tw.row(a.Size+"→"+b.Size, fmt.Sprintf("%.1f", n), per(a.ReadySec, b.ReadySec), per(opt(a.RefitSec), opt(b.RefitSec)), per(rssA, rssB),
				fmt.Sprintf("%.1f", (rssB-rssA)/1024/float64(b.Series-a.Series)), p99("failures"), p99("capacity"), p99("query_range"))
		}
		tw.flush()
	}

	r := rs[len(rs)-1]
	fmt.Printf("\ntargets (issue 12, for 100k series) at %s (%d series):\n", r.Size, r.Series)
	rss := float64(max(r.RSSReady, r.RSSRefit, r.RSSPeak))
	check := func(what string, got, limit float64, unit string) {
		verdict := "met"
		if math.IsNaN(got) {
			verdict = "not measured"
		} else if got > limit {
			verdict = fmt.Sprintf("missed by %.1fx", got/limit)
		}
		fmt.Printf("  %-34s %10.3g %-5s (target ≤ %g): %s\n", what, got, unit, limit, verdict)
	}
	check("resident memory (peak)", rss/(1<<30), 2.5, "GB")
	check("anonymous memory (peak)", float64(r.AnonPeak)/(1<<30), 2.5, "GB")
	check("ready after start", measured(r.ReadySec), 180, "s")
	check("ready after a restart (warm TSDB)", opt(r.RestartReadySec), 180, "s")
	check("full refit", opt(r.RefitSec), 120, "s")
	check("evaluation cycle", opt(r.EvalSec), 5, "s")
	for _, p := range r.Latency {
		if p.Name != "query_range" {
			check(p.Name+" p99", p.P99, 0.2, "s")
		}
	}
	check("TSDB bytes per sample", float64(r.TSDBBytes)/r.TSDBSamples, 2, "B")
	return nil
}

// readResults reads the JSON lines of the one file args names, for the
// command cmd.
func readResults[T any](args []string, cmd string) ([]T, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("usage: scaleload %s FILE", cmd)
	}
	f, err := os.Open(args[0])
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rs []T
	for dec := json.NewDecoder(f); dec.More(); {
		var r T
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("cannot parse %s: %w", args[0], err)
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("%s: no results", args[0])
	}
	return rs, nil
}

// measured is s, or NaN for a time a failed run did not reach.
func measured(s float64) float64 {
	if s == 0 {
		return math.NaN()
	}
	return s
}

// opt is *p, or NaN for a figure not measured.
func opt(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func sec(s float64) string {
	if math.IsNaN(s) {
		return "n/a"
	}
	return fmt.Sprintf("%.1fs", s)
}

func ms(s float64) string { return strconv.FormatFloat(s*1000, 'f', 1, 64) + "ms" }

func mb(b int64) string { return fmt.Sprintf("%d MB", b>>20) }

func ratio(x, y float64) string {
	if !(y > 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", x/y)
}

// tabWriter prints aligned rows.
type tabWriter struct{ w *tabwriter.Writer }

func newTabWriter() *tabWriter { return &tabWriter{tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)} }

func (t *tabWriter) row(cells ...string) { fmt.Fprintln(t.w, strings.Join(cells, "\t")) }

func (t *tabWriter) flush() { t.w.Flush() }
