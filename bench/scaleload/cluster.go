package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ClusterResult is one replica count's line of the cluster table: the
// same fleet shared by Replicas gossiping replicas.
type ClusterResult struct {
	Size     string `json:"size"`
	Replicas int    `json:"replicas"`
	Hosts    int    `json:"hosts"`
	// Series is what the replicas model, the sum of their augur_series.
	Series []int `json:"series"`
	// ReadySec is from the start of the replicas until the fan-out
	// answer of the first one lists every host, none warming up.
	ReadySec float64 `json:"ready_s"`
	// EvalSec is each replica's mean evaluation cycle after ready; nil
	// for one that evaluated none in time.
	EvalSec []*float64 `json:"evaluation_s"`
	// RSS and Anon are each replica's VmRSS and RssAnon after the probes,
	// and their peaks.
	RSS      []int64  `json:"rss_bytes"`
	Anon     []int64  `json:"rss_anon_bytes"`
	RSSPeak  []int64  `json:"rss_peak_bytes"`
	AnonPeak []int64  `json:"rss_anon_peak_bytes"`
	Latency  []Probe  `json:"latency"`
	Notes    []string `json:"notes,omitempty"`
}

// clusterMeasure reports on the replicas of one cluster, asking the
// first one the fan-out requests.
func clusterMeasure(args []string) error {
	fs := flag.NewFlagSet("cluster", flag.ExitOnError)
	urls := fs.String("urls", "", "the replicas' base URLs, comma-separated")
	pids := fs.String("pids", "", "their process ids, comma-separated, in the same order")
	size := fs.String("size", "", "label of the fleet's size in the table")
	hosts := fs.Int("hosts", 0, "the fleet's hosts")
	var rf runFlags
	rf.register(fs)
	evalTimeout := fs.Duration("eval-timeout", 5*time.Minute, "how long to wait for an evaluation after ready on every replica")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bases := strings.Split(*urls, ",")
	var ws []*watch
	for _, p := range strings.Split(*pids, ",") {
		pid, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("-pids: %w", err)
		}
		ws = append(ws, &watch{pid: pid, maxRSS: rf.maxRSS})
	}
	if len(ws) != len(bases) || *hosts <= 0 {
		return errors.New("want as many -pids as -urls, and -hosts")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, w := range ws {
		go w.guard(ctx)
	}
	// alive fails when any replica is gone or too big; the first's watch
	// times the requests.
	alive := func() error {
		for _, w := range ws {
			if f := w.fatal.Load(); f != nil {
				return *f
			}
		}
		return nil
	}
	start := rf.start()
	r := ClusterResult{Size: *size, Replicas: len(bases), Hosts: *hosts}
	err := r.measure(ws, bases, alive, start, rf.requests, rf.budget, rf.readyTimeout, *evalTimeout)
	for _, w := range ws {
		r.RSSPeak, r.AnonPeak = append(r.RSSPeak, w.peak.Load()), append(r.AnonPeak, w.anonPeak.Load())
	}
	if err == nil {
		err = alive()
	}
	if err != nil {
		r.Notes = append(r.Notes, "failed: "+err.Error())
	}
	if e := json.NewEncoder(os.Stdout).Encode(r); e != nil {
		return e
	}
	return err
}

func (r *ClusterResult) measure(ws []*watch, bases []string, alive func() error, start time.Time, requests int, budget, readyTimeout, evalTimeout time.Duration) error {
	first := ws[0]
	progress("%d replicas: waiting until %s answers for %d hosts, fitted", r.Replicas, bases[0], r.Hosts)
	var last string
	err := first.until(readyTimeout, func() (bool, error) {
		last = fleetFitted(bases, r.Hosts)
		return last == "", alive()
	})
	if err != nil {
		return fmt.Errorf("not ready %.0fs after start (%s): %w", time.Since(start).Seconds(), last, err)
	}
	r.ReadySec = time.Since(start).Seconds()
	type count struct{ sum, n float64 }
	atReady := make([]count, len(bases))
	for i, b := range bases {
		m, err := scrape(b)
		if err != nil {
			return err
		}
		r.Series = append(r.Series, int(m.sum("augur_series")))
		atReady[i] = count{m.sum("augur_evaluation_duration_seconds_sum"), m.sum("augur_evaluation_duration_seconds_count")}
	}
	progress("%d replicas: ready in %.1fs, series %v", r.Replicas, r.ReadySec, r.Series)

	for _, p := range []struct{ name, path string }{
		{"failures", "/api/v1/failures"},
		{"capacity", "/api/v1/capacity?sort=eta&limit=20&horizon=30d"},
	} {
		progress("%d replicas: timing %s", r.Replicas, p.path)
		pr, err := first.probe(bases[0]+p.path, requests, budget)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		pr.Name = p.name
		r.Latency = append(r.Latency, pr)
	}

	progress("%d replicas: waiting for an evaluation after ready on each", r.Replicas)
	r.EvalSec = make([]*float64, len(bases))
	for i, b := range bases {
		err := first.until(evalTimeout, func() (bool, error) {
			m, err := scrape(b)
			if err != nil {
				return false, err
			}
			n := m.sum("augur_evaluation_duration_seconds_count") - atReady[i].n
			if n > 0 {
				mean := (m.sum("augur_evaluation_duration_seconds_sum") - atReady[i].sum) / n
				r.EvalSec[i] = &mean
			}
			return n > 0, alive()
		})
		if errors.Is(err, errTimeout) {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: no evaluation within %s of the probes", b, evalTimeout))
		} else if err != nil {
			return err
		}
	}
	for _, w := range ws {
		rss, err := w.rss()
		if err != nil {
			return err
		}
		r.RSS, r.Anon = append(r.RSS, rss), append(r.Anon, w.anon.Load())
	}
	return nil
}

// fleetFitted is "" when every replica is ready and the first answers
// /api/v1/failures for hosts entities with no replica left out and no
// series warming up, or what is missing.
func fleetFitted(bases []string, hosts int) string {
	for _, b := range bases {
		if err := get(b+"/-/ready", 10*time.Second); err != nil {
			return err.Error()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, bases[0]+"/api/v1/failures", nil)
	if err != nil {
		return err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var a struct {
		Data struct {
			Entities []json.RawMessage `json:"entities"`
		} `json:"data"`
		Warnings []string `json:"warnings"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return err.Error()
	}
	if i := slices.IndexFunc(a.Warnings, func(w string) bool {
		return strings.Contains(w, "left out") || strings.Contains(w, "warming_up")
	}); i >= 0 {
		return a.Warnings[i]
	}
	if len(a.Data.Entities) != hosts {
		return fmt.Sprintf("%d of %d hosts answered", len(a.Data.Entities), hosts)
	}
	return ""
}

// clusterTable prints the cluster results of FILE, one line per size and
// replica count, and each one's costs against one replica on that size.
func clusterTable(args []string) error {
	rs, err := readResults[ClusterResult](args, "clustertable")
	if err != nil {
		return err
	}
	slices.SortStableFunc(rs, func(a, b ClusterResult) int {
		if a.Hosts != b.Hosts {
			return a.Hosts - b.Hosts
		}
		return a.Replicas - b.Replicas
	})
	p99 := func(r ClusterResult, name string) float64 {
		for _, p := range r.Latency {
			if p.Name == name {
				return p.P99
			}
		}
		return math.NaN()
	}
	tw := newTabWriter()
	tw.row("size", "replicas", "series each", "ready", "evaluation each", "RSS each", "RSS total", "anon each", "anon peak each",
		"failures p50/p99", "capacity p50/p99")
	for _, r := range rs {
		lat := map[string]string{}
		for _, p := range r.Latency {
			lat[p.Name] = fmt.Sprintf("%s/%s (%d)", ms(p.P50), ms(p.P99), p.N)
		}
		var evals []string
		for _, e := range r.EvalSec {
			if e == nil {
				evals = append(evals, "n/a")
			} else {
				evals = append(evals, ms(*e))
			}
		}
		tw.row(r.Size, strconv.Itoa(r.Replicas), joinInts(r.Series), sec(measured(r.ReadySec)), strings.Join(evals, " "),
			mbs(r.RSS), mb(sum(r.RSS)), mbs(r.Anon), mbs(r.AnonPeak), lat["failures"], lat["capacity"])
	}
	tw.flush()
	for _, r := range rs {
		for _, n := range r.Notes {
			fmt.Printf("note (%s, %d replicas): %s\n", r.Size, r.Replicas, n)
		}
	}

	fmt.Println("\nagainst one replica on the same fleet (RSS and evaluation: the largest replica's):")
	tw = newTabWriter()
	tw.row("size", "replicas", "ready", "evaluation", "RSS each", "RSS total", "anon each", "failures p99", "capacity p99")
	for _, r := range rs {
		i := slices.IndexFunc(rs, func(o ClusterResult) bool { return o.Hosts == r.Hosts && o.Replicas == 1 })
		if i < 0 || r.Replicas == 1 {
			continue
		}
		one := rs[i]
		x := func(a, b float64) string {
			if !(a > 0) || math.IsNaN(b) {
				return "n/a"
			}
			return fmt.Sprintf("%.2f×", b/a)
		}
		tw.row(r.Size, strconv.Itoa(r.Replicas), x(one.ReadySec, measured(r.ReadySec)), x(maxEval(one), maxEval(r)),
			x(float64(slices.Max(one.RSS)), float64(slices.Max(r.RSS))), x(float64(sum(one.RSS)), float64(sum(r.RSS))),
			x(float64(slices.Max(one.Anon)), float64(slices.Max(r.Anon))),
			x(p99(one, "failures"), p99(r, "failures")), x(p99(one, "capacity"), p99(r, "capacity")))
	}
	tw.flush()
	return nil
}

// maxEval is the slowest replica's evaluation cycle, NaN when one is
// unknown.
func maxEval(r ClusterResult) float64 {
	m := math.NaN()
	for i, e := range r.EvalSec {
		if e == nil {
			return math.NaN()
		}
		if i == 0 || *e > m {
			m = *e
		}
	}
	return m
}

func sum(xs []int64) int64 {
	var s int64
	for _, x := range xs {
		s += x
	}
	return s
}

func mbs(bs []int64) string {
	var out []string
	for _, b := range bs {
		out = append(out, strconv.FormatInt(b>>20, 10))
	}
	return strings.Join(out, " ") + " MB"
}

func joinInts(xs []int) string {
	var out []string
	for _, x := range xs {
		out = append(out, strconv.Itoa(x))
	}
	return strings.Join(out, " ")
}
