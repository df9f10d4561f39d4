package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/augur-sre/augur/model"
	"github.com/augur-sre/augur/nab"
)

// detectorName is the name augur's results carry in NAB's layout.
const detectorName = "augur"

func nabCommand(app *kingpin.Application) *command {
	cl := app.Command("nab", "Score anomaly detection on the Numenta Anomaly Benchmark (NAB v1.1): augur's streaming detector, or an existing results folder with --results.")
	data := cl.Flag("data", "NAB root with data/, labels/ and config/ (e.g. ../shared/datasets/nab).").Required().String()
	results := cl.Flag("results", "Score this results folder in NAB's layout (<detector>/<category>/<detector>_<file>.csv) instead of running augur's detector; see --detector.").String()
	detector := cl.Flag("detector", "With --results: the detector subfolder to score.").Default("numenta").String()
	output := cl.Flag("output", "Write augur's scores here in NAB's results layout (ignored with --results).").String()
	return &command{
		clause: cl,
		run: func(ctx context.Context, logger *slog.Logger) error {
			return runNAB(ctx, logger.With("component", "nab"), os.Stdout, *data, *results, *detector, *output)
		},
	}
}

func runNAB(ctx context.Context, logger *slog.Logger, w io.Writer, data, results, detector, output string) error {
	start := time.Now()
	c, err := nab.LoadCorpus(data)
	if err != nil {
		return err
	}
	profiles, err := nab.LoadProfiles(filepath.Join(data, "config", "profiles.json"))
	if err != nil {
		return err
	}
	scorer, err := nab.NewScorer(c)
	if err != nil {
		return err
	}
	logger.Info("Loaded NAB corpus", "files", len(c.Files), "rows", c.Rows(), "windows", c.Windows(), "took", time.Since(start))

	var scores [][]float64
	var published map[string]float64
	if results != "" {
		if scores, err = nab.ReadResults(results, detector, c); err != nil {
			return err
		}
		thresholds, err := nab.LoadThresholds(filepath.Join(data, "config", "thresholds.json"))
		if err != nil {
			return err
		}
		published = thresholds[detector]
		fmt.Fprintf(w, "NAB v1.1, detector %s (from %s): %d files, %d rows\n", detector, results, len(c.Files), c.Rows())
	} else {
		detector = detectorName
		t0 := time.Now()
		if scores, err = nab.Run(ctx, c, model.DetectorOptions{}); err != nil {
			return err
		}
		took := time.Since(t0)
		fmt.Fprintf(w, "NAB v1.1, detector %s: %d files, %d rows, detection %s (%.0f rows/s)\n",
			detector, len(c.Files), c.Rows(), took.Round(time.Millisecond), float64(c.Rows())/took.Seconds())
		if output != "" {
			if err := nab.WriteResults(output, detector, c, scores); err != nil {
				return err
			}
			logger.Info("Wrote results", "dir", filepath.Join(output, detector))
		}
	}

	t0 := time.Now()
	best := make([]nab.Result, len(profiles))
	for i, p := range profiles {
		if best[i], err = scorer.Optimize(scores, p); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "profile\tthreshold\tscore\traw\tTP\tFN\tFP\t")
	for _, r := range best {
		fmt.Fprintf(tw, "%s\t%.6g\t%.2f\t%.2f\t%d\t%d\t%d\t\n", r.Profile.Name, r.Threshold, r.Score, r.Raw, r.TP, r.FN, r.FP)
	}
	for _, p := range profiles {
		thr, ok := published[p.Name]
		if !ok {
			continue
		}
		r, err := scorer.Score(scores, p, thr)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s (config/thresholds.json)\t%.6g\t%.2f\t%.2f\t%d\t%d\t%d\t\n", p.Name, r.Threshold, r.Score, r.Raw, r.TP, r.FN, r.FP)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("cannot write scores: %w", err)
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "category\twindows\t")
	for _, p := range profiles {
		fmt.Fprintf(tw, "%s\t", p.Name)
	}
	fmt.Fprintln(tw)
	for ci, cat := range best[0].Categories {
		fmt.Fprintf(tw, "%s\t%d\t", cat.Name, cat.Windows)
		for _, r := range best {
			c := r.Categories[ci]
			if math.IsNaN(c.Score) {
				// Without windows only false positives count: show their cost.
				fmt.Fprintf(tw, "raw %.2f (%d FP)\t", c.Raw, c.FP)
			} else {
				fmt.Fprintf(tw, "%.2f\t", c.Score)
			}
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("cannot write scores: %w", err)
	}
	fmt.Fprintf(w, "scoring took %s, total %s; category scores use the corpus-wide threshold of each profile\n",
		time.Since(t0).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return nil
}
