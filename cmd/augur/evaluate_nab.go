package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/nab"
)

// nabFileSource serves one NAB data file as a series labelled with its
// file name, and its labelled anomaly windows as the entity's incidents.
type nabFileSource struct {
	entity string
	file   *nab.File
}

func (s *nabFileSource) Range(_ context.Context, _ string, start, end time.Time, _ time.Duration) ([]ingest.Series, error) {
	out := ingest.Series{Labels: map[string]string{"file": s.entity}}
	for i, t := range s.file.Timestamps {
		if t >= start.UnixMilli() && t <= end.UnixMilli() {
			out.Samples = append(out.Samples, ingest.Sample{T: t, V: s.file.Values[i]})
		}
	}
	return []ingest.Series{out}, nil
}

func (s *nabFileSource) Incidents(_ context.Context, _, end time.Time) ([]ingest.Incident, error) {
	var out []ingest.Incident
	for _, w := range s.file.Windows {
		if w.Start <= end.UnixMilli() {
			out = append(out, ingest.Incident{Entity: s.entity, Name: "NABWindow", Start: time.UnixMilli(w.Start).UTC(), End: time.UnixMilli(min(w.End, end.UnixMilli())).UTC(), Source: "nab"})
		}
	}
	return out, nil
}

// evaluateNAB treats each NAB file of a category as a single-signal entity
// whose labelled windows are its incidents, replays it through the engine
// (the first 15 % as the initial history, like NAB's probationary period)
// and scores the failure probabilities against the windows.
func evaluateNAB(ctx context.Context, logger *slog.Logger, root, category string, threshold float64, out io.Writer) error {
	corpus, err := nab.LoadCorpus(root)
	if err != nil {
		return err
	}
	var hist []engine.EntityHistory
	var incidents []ingest.Incident
	from, to := time.Time{}, time.Time{}
	horizon := time.Hour
	began := time.Now()
	for i := range corpus.Files {
		f := &corpus.Files[i]
		if f.Category() != category {
			continue
		}
		entity := strings.TrimSuffix(path.Base(f.Name), ".csv")
		step := medianStep(f.Timestamps)
		if step <= 0 {
			return fmt.Errorf("%s: timestamps do not advance", f.Name)
		}
		// An hour, or twelve steps of coarser data.
		h := max(horizon, 12*step)
		n := len(f.Timestamps)
		first, last := time.UnixMilli(f.Timestamps[0]).UTC(), time.UnixMilli(f.Timestamps[n-1]).UTC()
		start := time.UnixMilli(f.Timestamps[nab.ProbationLength(n)]).UTC().Truncate(step)
		src := &nabFileSource{entity: entity, file: f}
		opts := engine.Options{
			Signals:            []engine.Signal{{Name: "value", SourceName: "nab", Source: src, Query: "value", Entity: "file", Limit: math.NaN()}},
			Step:               step,
			History:            max(start.Sub(first), 2*step),
			RefitInterval:      24 * time.Hour,
			EvaluationInterval: step,
			Horizon:            h,
			FailureThreshold:   threshold,
			Incidents:          src,
			Logger:             slog.New(slog.DiscardHandler),
		}
		e, err := engine.Replay(ctx, opts, start, last, nil, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		fh := e.FailureHistory(start, last)
		e.Close()
		hist = append(hist, fh...)
		inc, _ := src.Incidents(ctx, first, last)
		for _, w := range inc {
			if !w.Start.Before(start) {
				incidents = append(incidents, w)
			}
		}
		if from.IsZero() || start.Before(from) {
			from = start
		}
		if last.After(to) {
			to = last
		}
		logger.Info("replayed", "file", f.Name, "rows", n, "step", step, "horizon", h)
	}
	if len(hist) == 0 {
		return fmt.Errorf("no files in category %q", category)
	}
	fmt.Fprintf(out, "NAB %s: %d files as single-signal entities, labelled windows as incidents, replayed in %s\n", category, len(hist), time.Since(began).Round(time.Millisecond))
	// The alert threshold first, then lower ones: with one signal and no
	// limit, the evidence is anomalies alone, which the prior caps at 0.35
	// until incidents teach the calibration otherwise.
	for i, th := range []float64{threshold, 0.3, 0.2, 0.1} {
		rep := engine.Evaluate(hist, incidents, horizon, th, from, to)
		if i == 0 {
			fmt.Fprintf(out, "Brier score %.5f over %d predictions (%d positive)\n", rep.Brier, rep.Examples, rep.Positives)
		}
		fmt.Fprintf(out, "threshold %.2f: precision %.3f (%d alarms), recall %.3f (%d windows after the probationary period), median lead time %s\n",
			th, rep.Precision, len(rep.Alarms), rep.Recall, len(rep.Leads), rep.MedianLead)
	}
	return nil
}

func medianStep(ts []int64) time.Duration {
	if len(ts) < 2 {
		return 0
	}
	d := make([]int64, 0, len(ts)-1)
	for i := 1; i < len(ts); i++ {
		d = append(d, ts[i]-ts[i-1])
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return time.Duration(d[len(d)/2]) * time.Millisecond
}
