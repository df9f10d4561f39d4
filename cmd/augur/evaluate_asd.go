package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// asdServer is one server of the ASD dataset after the entity pipeline ran
// over its train and test rows: the test rows' scores and labels.
type asdServer struct {
	name     string
	labels   []bool       // per test row
	segments []asdSegment // labelled segments with their responsible metrics
	failure  []float64    // failure_probability per test row
	evidence []float64    // anomaly_evidence per test row
	maxScore []float64    // largest per-signal score per test row
	ranks    [][]int      // signals by decreasing share, per test row
	stepMs   int64
}

// asdSegment is a labelled segment: test rows first..last and the 0-based
// signals the publishers judged responsible.
type asdSegment struct {
	first, last int
	signals     []int
}

// evaluateASD runs `augur detect`'s entity pipeline over each ASD server's
// training then test rows (labels are read only here, by the scorer) and
// prints the dataset's conventional results: best F1 over one threshold
// for all servers, on raw points and point-adjusted, HitRate@100 % and
// @150 % of the factors against the interpretation labels, and how many
// labelled segments the failure probability anticipated.
func evaluateASD(ctx context.Context, logger *slog.Logger, root string, threshold float64, out io.Writer) error {
	files, err := filepath.Glob(filepath.Join(root, "data", "*.csv"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no data/*.csv files in %s", root)
	}
	began := time.Now()
	var servers []asdServer
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		s, err := runASDServer(root, f)
		if err != nil {
			return err
		}
		servers = append(servers, s)
		logger.Info("replayed", "server", s.name, "test rows", len(s.labels))
	}
	fmt.Fprintf(out, "ASD: %d servers as entities, replayed over train then test in %s; scored on the test rows, one threshold for all servers\n", len(servers), time.Since(began).Round(time.Millisecond))
	for _, c := range []struct {
		name  string
		score func(s *asdServer) []float64
	}{
		{"failure_probability", func(s *asdServer) []float64 { return s.failure }},
		{"anomaly_evidence (entity score)", func(s *asdServer) []float64 { return s.evidence }},
		{"max per-signal continuous score", func(s *asdServer) []float64 { return s.maxScore }},
	} {
		raw, rawTh := bestF1(servers, c.score, false)
		pa, paTh := bestF1(servers, c.score, true)
		fmt.Fprintf(out, "%-32s best F1 raw %.3f (threshold %.6g), point-adjusted %.3f (threshold %.6g)\n", c.name, raw, rawTh, pa, paTh)
	}
	evidence := func(s *asdServer) []float64 { return s.evidence }
	fmt.Fprintf(out, "anomaly_evidence with a threshold per server chosen on its labels (a bound on calibrating it across servers): best F1 raw %.3f, point-adjusted %.3f\n",
		bestF1PerServer(servers, evidence, false), bestF1PerServer(servers, evidence, true))
	fmt.Fprintf(out, "factors: HitRate@100%% %.3f, HitRate@150%% %.3f over the labelled points\n", hitRate(servers, 1), hitRate(servers, 1.5))
	const lead = 15 * time.Minute
	horizon := time.Hour
	got, total := 0, 0
	falseAlarms := 0
	for i := range servers {
		s := &servers[i]
		early := int(lead.Milliseconds() / s.stepMs)
		window := int(horizon.Milliseconds() / s.stepMs)
		for _, g := range s.segments {
			total++
			for r := max(g.first-window, 0); r <= g.first-early; r++ {
				if s.failure[r] >= threshold {
					got++
					break
				}
			}
		}
		// Alarms: rises through the threshold, false when no segment
		// starts within the horizon after it nor is under way.
		for r := 1; r < len(s.failure); r++ {
			if s.failure[r] >= threshold && s.failure[r-1] < threshold && !s.segmentNear(r, window) {
				falseAlarms++
			}
		}
	}
	fmt.Fprintf(out, "incidents (labelled segments): %d of %d anticipated by ≥ %s (failure_probability ≥ %.2f within the %s before the start); %d alarms with no segment under way or within %s\n",
		got, total, lead, threshold, horizon, falseAlarms, horizon)
	return nil
}

func (s *asdServer) segmentNear(r, window int) bool {
	for _, g := range s.segments {
		if r >= g.first-window && r <= g.last {
			return true
		}
	}
	return false
}

// runASDServer reads one server's data, labels and interpretation and
// runs the entity pipeline over all its rows.
func runASDServer(root, dataFile string) (asdServer, error) {
	name := strings.TrimSuffix(filepath.Base(dataFile), ".csv")
	s := asdServer{name: name}
	t, err := readTable(dataFile)
	if err != nil {
		return s, err
	}
	labels, err := readTable(filepath.Join(root, "labels", name+".csv"))
	if err != nil {
		return s, err
	}
	if len(labels.Columns) != 1 || len(labels.Times) == 0 || len(labels.Times) > len(t.Times) {
		return s, fmt.Errorf("%s: want timestamp,label for the last rows of %s", labels.Name, dataFile)
	}
	test := len(t.Times) - len(labels.Times)
	if labels.Times[0] != t.Times[test] {
		return s, fmt.Errorf("%s:2: first label at %d, the test rows of %s start at %d", labels.Name, labels.Times[0]/1000, dataFile, t.Times[test]/1000)
	}
	for _, v := range labels.Values[0] {
		s.labels = append(s.labels, v == 1)
	}
	if s.segments, err = readInterpretation(filepath.Join(root, "interpretation", name+".txt"), len(s.labels), len(t.Columns)); err != nil {
		return s, err
	}
	if s.stepMs, err = tableStep(t); err != nil {
		return s, fmt.Errorf("%s: %w", dataFile, err)
	}
	e := newEntityScorer(len(t.Columns))
	for r := range t.Times {
		e.observeRow(t, r)
		if r < test {
			continue
		}
		s.failure = append(s.failure, e.failure)
		s.evidence = append(s.evidence, e.evidence)
		s.maxScore = append(s.maxScore, e.maxScore())
		s.ranks = append(s.ranks, slices.Clone(e.order))
	}
	return s, nil
}

// readInterpretation reads lines FIRST-LAST:METRICS (0-based test rows,
// 1-based metric numbers separated by commas).
func readInterpretation(path string, rows, signals int) ([]asdSegment, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []asdSegment
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		bad := func(why string) error { return fmt.Errorf("%s:%d: %s, want FIRST-LAST:METRICS", path, line, why) }
		span, metrics, ok := strings.Cut(text, ":")
		if !ok {
			return nil, bad("no colon")
		}
		a, b, ok := strings.Cut(span, "-")
		first, err1 := strconv.Atoi(a)
		last, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || first < 0 || last < first || last >= rows {
			return nil, bad(fmt.Sprintf("range %q not within the %d test rows", span, rows))
		}
		g := asdSegment{first: first, last: last}
		for _, m := range strings.Split(metrics, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(m))
			if err != nil || n < 1 || n > signals {
				return nil, bad(fmt.Sprintf("metric %q not in 1..%d", m, signals))
			}
			g.signals = append(g.signals, n-1)
		}
		out = append(out, g)
	}
	return out, sc.Err()
}

// bestF1 is the best F1 over one threshold for all servers, with true and
// false positives and negatives summed over servers; with adjust, a
// labelled segment counts as found in full when any of its points is
// flagged (point-adjust, Xu et al., "Unsupervised Anomaly Detection via
// Variational Auto-Encoder for Seasonal KPIs in Web Applications", WWW
// 2018).
func bestF1(servers []asdServer, score func(*asdServer) []float64, adjust bool) (f1, threshold float64) {
	var evs []f1Event
	for i := range servers {
		evs = append(evs, servers[i].f1Events(score(&servers[i]), adjust)...)
	}
	c := newF1Curve(evs)
	for i := range c.tp {
		if f := c.f1(i); f > f1 {
			f1, threshold = f, c.threshold[i]
		}
	}
	return f1, threshold
}

// bestF1PerServer is the best F1, counted as bestF1 counts it, over a
// threshold chosen for each server apart: the labels choose them, so it
// is no detector's result but a bound on what calibrating the score
// across servers could gain over one threshold for all. It maximises
// the pooled F1 = 2TP/(2TP+FP+FN) by Dinkelbach's iteration: for a
// trial F1 λ, the sum over servers of 2TP − λ(2TP+FP+FN) separates,
// each server takes its threshold maximising its term, and λ rises to
// the F1 of those thresholds until it stops rising (Dinkelbach, "On
// Nonlinear Fractional Programming", Management Science 13(7), 1967).
func bestF1PerServer(servers []asdServer, score func(*asdServer) []float64, adjust bool) float64 {
	curves := make([]f1Curve, len(servers))
	for i := range servers {
		curves[i] = newF1Curve(servers[i].f1Events(score(&servers[i]), adjust))
	}
	lambda := 0.0
	for {
		tp, fp, positives := 0, 0, 0
		for _, c := range curves {
			best, at := math.Inf(-1), 0
			for i := range c.tp {
				if v := float64(2*c.tp[i]) - lambda*float64(c.tp[i]+c.fp[i]+c.positives); v > best {
					best, at = v, i
				}
			}
			tp, fp, positives = tp+c.tp[at], fp+c.fp[at], positives+c.positives
		}
		f := 2 * float64(tp) / float64(tp+fp+positives)
		if !(f > lambda+1e-12) {
			return lambda
		}
		lambda = f
	}
}

// f1Event is a row that costs a false positive above its score, or a
// labelled row (with point-adjust, a segment at its highest score) worth
// one or more true positives.
type f1Event struct {
	score  float64
	tp, fp int
}

// f1Events are the server's events for the score of each of its rows.
func (s *asdServer) f1Events(sc []float64, adjust bool) []f1Event {
	var evs []f1Event
	for r := 0; r < len(sc); r++ {
		if !s.labels[r] {
			evs = append(evs, f1Event{sc[r], 0, 1})
			continue
		}
		if !adjust {
			evs = append(evs, f1Event{sc[r], 1, 0})
			continue
		}
		start, top := r, math.Inf(-1)
		for ; r < len(sc) && s.labels[r]; r++ {
			top = math.Max(top, sc[r])
		}
		evs = append(evs, f1Event{top, r - start, 0})
		r--
	}
	return evs
}

// f1Curve holds the true and false positives of flagging the scores at
// or above each distinct threshold, from the highest, and the positives
// in all (FN = positives − TP). Index 0 flags nothing.
type f1Curve struct {
	threshold []float64
	tp, fp    []int
	positives int
}

func newF1Curve(evs []f1Event) f1Curve {
	slices.SortFunc(evs, func(a, b f1Event) int { return cmp.Compare(b.score, a.score) })
	c := f1Curve{threshold: []float64{math.Inf(1)}, tp: []int{0}, fp: []int{0}}
	tp, fp := 0, 0
	for i := 0; i < len(evs); {
		th := evs[i].score
		for ; i < len(evs) && evs[i].score == th; i++ {
			tp += evs[i].tp
			fp += evs[i].fp
		}
		c.threshold, c.tp, c.fp = append(c.threshold, th), append(c.tp, tp), append(c.fp, fp)
	}
	c.positives = tp
	return c
}

// f1 is the F1 of flagging at the curve's ith threshold.
func (c f1Curve) f1(i int) float64 {
	return 2 * float64(c.tp[i]) / float64(c.tp[i]+c.fp[i]+c.positives)
}

// hitRate is the mean, over the labelled points, of the share of the
// segment's responsible signals among the top ⌈p·|truth|⌉ ranked signals
// (Li et al., "Multivariate Time Series Anomaly Detection and
// Interpretation using Hierarchical Inter-Metric and Temporal Embedding",
// KDD 2021, after Su et al., OmniAnomaly, KDD 2019).
func hitRate(servers []asdServer, p float64) float64 {
	sum, n := 0.0, 0
	for _, s := range servers {
		for _, g := range s.segments {
			top := int(math.Ceil(p * float64(len(g.signals))))
			for r := g.first; r <= g.last; r++ {
				hits := 0
				for _, c := range s.ranks[r][:min(top, len(s.ranks[r]))] {
					if slices.Contains(g.signals, c) {
						hits++
					}
				}
				sum += float64(hits) / float64(len(g.signals))
				n++
			}
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}
