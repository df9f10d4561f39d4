package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/augur-sre/augur/config"
	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/model"
)

type evaluateFlags struct {
	configFile string
	plot       string
	span       time.Duration
	end        string
	refit      time.Duration
	burnIn     time.Duration
	threshold  float64
	nab        string
	category   string
	asd        string
	failure    string
	seed       uint64
}

func evaluateCommand(app *kingpin.Application, out io.Writer) *command {
	var f evaluateFlags
	c := &command{clause: app.Command("evaluate", "Replay history through the engine, predicting as it would have at each step, and score the failure probabilities against the incidents.")}
	c.clause.Flag("config.file", "augur configuration file; without it, the embedded demo fleet.").StringVar(&f.configFile)
	c.clause.Flag("plot", "Write the reliability diagram and a timeline per incident to this PNG file.").StringVar(&f.plot)
	c.clause.Flag("replay.span", "How much history to replay (after the initial fit on the configured history before it).").Default("14d").DurationVar(&f.span)
	c.clause.Flag("replay.end", "End of the replay (RFC 3339). Default: now; for the demo, its default anchor.").StringVar(&f.end)
	c.clause.Flag("replay.burn-in", "Replayed before --replay.span but not scored: the engine learns its first calibration there.").Default("2d").DurationVar(&f.burnIn)
	c.clause.Flag("replay.refit-interval", "How often the replay refits models and calibration (the service uses the config's refit_interval).").Default("24h").DurationVar(&f.refit)
	// The name before the replay flags were dotted, kept for scripts.
	c.clause.Flag("refit-interval", "Old name of --replay.refit-interval.").Hidden().DurationVar(&f.refit)
	c.clause.Flag("threshold", "Alert threshold on the failure probability (default: the config's alerting.failure_threshold).").Float64Var(&f.threshold)
	c.clause.Flag("nab", "Instead of a configuration, evaluate on the NAB corpus at this path: each file of --nab.category is a single-signal entity, its labelled windows its incidents.").StringVar(&f.nab)
	c.clause.Flag("nab.category", "NAB category evaluated with --nab.").Default("realKnownCause").StringVar(&f.category)
	c.clause.Flag("failure.model", "What maps the evidence to the failure probability in the replay: calibrated, lstm or auto (default: the config's global.failure_model). With lstm or auto, a calibrated replay runs too and a line compares both.").EnumVar(&f.failure, config.FailureModelCalibrated, config.FailureModelLSTM, config.FailureModelAuto)
	c.clause.Flag("failure-model", "Another name of --failure.model.").Hidden().EnumVar(&f.failure, config.FailureModelCalibrated, config.FailureModelLSTM, config.FailureModelAuto)
	c.clause.Flag("failure.seed", "Seed of the learned failure model's networks (network k starts from seed+k), to see how much its score depends on it.").Default("0").Uint64Var(&f.seed)
	c.clause.Flag("asd", "Instead of a configuration, evaluate on the ASD dataset at this path (data/, labels/, interpretation/): each server is an entity, run over its training then test rows by detect's entity pipeline.").StringVar(&f.asd)
	c.run = func(ctx context.Context, logger *slog.Logger) error {
		th := f.threshold
		if th == 0 {
			th = config.Default().Alerting.FailureThreshold
		}
		switch {
		case f.nab != "":
			return evaluateNAB(ctx, logger, f.nab, f.category, th, out)
		case f.asd != "":
			return evaluateASD(ctx, logger, f.asd, th, out)
		}
		return evaluate(ctx, logger, f, out)
	}
	return c
}

// demoAnchor is the default end of a demo replay: a fixed time, so that
// `augur evaluate` prints the same numbers on every machine.
var demoAnchor = time.Date(2026, 1, 19, 0, 0, 0, 0, time.UTC)

func evaluate(ctx context.Context, logger *slog.Logger, f evaluateFlags, out io.Writer) error {
	cfg := config.Default()
	if f.configFile != "" {
		var err error
		if cfg, err = config.Load(f.configFile); err != nil {
			return err
		}
	}
	end := time.Now().UTC().Truncate(time.Duration(cfg.Global.Step))
	if isDemo(cfg) {
		end = demoAnchor
	}
	if f.end != "" {
		t, err := time.Parse(time.RFC3339, f.end)
		if err != nil {
			return fmt.Errorf("--replay.end: %w", err)
		}
		end = t
	}
	if f.span <= 0 {
		return fmt.Errorf("--replay.span must be positive")
	}
	threshold := cfg.Alerting.FailureThreshold
	if f.threshold != 0 {
		if !(f.threshold > 0 && f.threshold <= 1) {
			return fmt.Errorf("--threshold must be in (0,1], got %v", f.threshold)
		}
		threshold = f.threshold
	}
	if f.failure != "" {
		cfg.Global.FailureModel = f.failure
	}
	start := end.Add(-f.span)
	r, err := replayAndScore(ctx, logger, cfg, f, threshold, start, end)
	if err != nil {
		return err
	}
	defer r.eng.Close()
	printReport(out, r.rep, r.calib, start, end, r.took)
	if fm := r.calib.FailureModel; fm != nil {
		cfg.Global.FailureModel = config.FailureModelCalibrated
		base, err := replayAndScore(ctx, logger, cfg, f, threshold, start, end)
		if err != nil {
			return err
		}
		base.eng.Close()
		printFailureModel(out, fm, r.rep, base.rep)
	}
	rep, hist := r.rep, r.hist
	if f.plot != "" {
		if err := plotReport(f.plot, rep, hist); err != nil {
			return fmt.Errorf("cannot plot: %w", err)
		}
		fmt.Fprintf(out, "\nplot written to %s\n", f.plot)
	}
	return nil
}

// scoredReplay is a replay and its predictions scored against the
// incidents.
type scoredReplay struct {
	eng   *engine.Engine
	hist  []engine.EntityHistory
	rep   engine.Report
	calib engine.Calibration
	took  time.Duration
}

// replayAndScore replays [start − burn-in, end] through a fresh engine on
// cfg's sources and scores its predictions in [start, end].
func replayAndScore(ctx context.Context, logger *slog.Logger, cfg *config.Config, f evaluateFlags, threshold float64, start, end time.Time) (scoredReplay, error) {
	replayFrom := start.Add(-f.burnIn)
	sim := replayFrom
	clock := func() time.Time { return sim }
	srcs, err := buildSources(cfg, demoOverrides{speed: 1, start: replayFrom, clock: clock}, logger)
	if err != nil {
		return scoredReplay{}, err
	}
	opts, err := engineOptions(cfg, srcs)
	if err != nil {
		return scoredReplay{}, err
	}
	opts.RefitInterval, opts.FailureThreshold, opts.Logger = f.refit, threshold, logger
	opts.Learned.LSTM.Seed = f.seed
	began := time.Now()
	logger.Info("replaying", "from", replayFrom, "scored_from", start, "to", end, "step", opts.EvaluationInterval, "failure_model", opts.FailureModel)
	eng, err := engine.Replay(ctx, opts, replayFrom, end, func(t time.Time) { sim = t }, func(day int) {
		logger.Info("replay progress", "day", day, "of", int(end.Sub(replayFrom)/(24*time.Hour)), "elapsed", time.Since(began).Round(time.Second))
	})
	if err != nil {
		return scoredReplay{}, err
	}
	hist := eng.FailureHistory(start, end)
	// The engine knows only the incidents of its last History; a longer
	// span is scored against all of the span's, or its early alarms would
	// count as false.
	incidents := eng.Incidents()
	if opts.Incidents != nil {
		if incidents, err = opts.Incidents.Incidents(ctx, start, end); err != nil {
			eng.Close()
			return scoredReplay{}, fmt.Errorf("cannot list the incidents to score against: %w", err)
		}
	}
	rep := engine.Evaluate(hist, incidents, opts.Horizon, threshold, start, end)
	return scoredReplay{eng: eng, hist: hist, rep: rep, calib: eng.Calibration(), took: time.Since(began)}, nil
}

// printFailureModel prints the learned failure model's state at the end of
// a replay and a line comparing the replay with a calibrated one.
func printFailureModel(out io.Writer, fm *engine.FailureModelStatus, r, base engine.Report) {
	fmt.Fprintf(out, "\nfailure model %s: ", fm.Mode)
	if fm.Trained == nil {
		fmt.Fprintf(out, "not trained (%s)\n", fm.Note)
	} else {
		fmt.Fprintf(out, "LSTM correction of the calibration trained at %s on %d incidents in %.1fs (%d networks, epochs %v kept, weight α %.2f), in use: %v",
			fm.Trained.Format(time.RFC3339), fm.Incidents, fm.TrainSeconds, len(fm.Epochs), fm.Epochs, fm.Alpha, fm.InUse)
		if fm.Brier != nil && fm.CalibratedBrier != nil {
			fmt.Fprintf(out, "; held-out Brier %.6f against the calibration's %.6f on %d predictions", *fm.Brier, *fm.CalibratedBrier, fm.HeldOut)
		}
		if fm.Note != "" {
			fmt.Fprintf(out, " (%s)", fm.Note)
		}
		fmt.Fprintln(out)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "replay\tBrier\tprecision\trecall\tmedian lead time")
	for _, c := range []struct {
		name string
		r    engine.Report
	}{{"failure_model " + fm.Mode, r}, {"failure_model calibrated", base}} {
		fmt.Fprintf(tw, "%s\t%#.6g\t%.3f (%d alarms)\t%.3f\t%s\n", c.name, c.r.Brier, c.r.Precision, len(c.r.Alarms), c.r.Recall, c.r.MedianLead)
	}
	tw.Flush()
}

func isDemo(cfg *config.Config) bool {
	for _, s := range cfg.Sources {
		if s.Type != config.TypeDemo {
			return false
		}
	}
	return len(cfg.Sources) > 0
}

func printReport(out io.Writer, r engine.Report, c engine.Calibration, start, end time.Time, took time.Duration) {
	fmt.Fprintf(out, "scored %s .. %s (%s) in a replay of %s\n", start.Format(time.RFC3339), end.Format(time.RFC3339), end.Sub(start), took.Round(time.Millisecond))
	fmt.Fprintf(out, "horizon %s, alert threshold %.2f\n", r.Horizon, r.Threshold)
	if c.Prior {
		fmt.Fprintf(out, "calibration: the prior, p = 1-(1-cross)(1-anom) (%s)\n\n", c.Note)
	} else {
		fmt.Fprintf(out, "calibration: isotonic map of 1-(1-cross)(1-anom), %d blocks fitted on %d entity-minutes (%d positive); raw → calibrated:", len(c.Raw), c.Examples, c.Positives)
		for _, q := range []float64{0.5, 0.8, 0.9, 0.99} {
			fmt.Fprintf(out, " %.2f→%.2f", q, calibrationAt(c, q))
		}
		fmt.Fprint(out, "\n\n")
	}
	fmt.Fprintf(out, "Brier score      %.5f over %d entity-minutes (%d positive)\n", r.Brier, r.Examples, r.Positives)
	if len(r.Leads) == 0 {
		// Precision and recall would both read 0, as if every incident
		// had been missed.
		fmt.Fprintf(out, "no incidents in the scored span: nothing to predict, so no precision, recall or lead time (%d alarms, all false)\n\n", len(r.Alarms))
	} else {
		fmt.Fprintf(out, "precision        %.3f (%d alarms)\n", r.Precision, len(r.Alarms))
		fmt.Fprintf(out, "recall           %.3f (%d incidents)\n", r.Recall, len(r.Leads))
		fmt.Fprintf(out, "median lead time %s\n\n", r.MedianLead)
	}

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "reliability\tpredictions\tmean predicted\tobserved\t")
	for _, b := range r.Reliability {
		fmt.Fprintf(tw, "[%.1f, %.1f)\t%d\t%.3f\t%.3f\t\n", b.Lower, b.Upper, b.Count, b.MeanPredicted, b.Observed)
	}
	tw.Flush()

	if len(r.Leads) > 0 {
		fmt.Fprintln(out)
		tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "incident\tentity\tstart\tpredicted\tlead time")
		for _, l := range r.Leads {
			lead := "-"
			if l.Detected {
				lead = l.Lead.String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", l.Incident.Name, l.Incident.Entity, l.Incident.Start.Format(time.RFC3339), l.Detected, lead)
		}
		tw.Flush()
	}

	falseAlarms := map[string]int{}
	for _, a := range r.Alarms {
		if !a.True {
			falseAlarms[a.Entity]++
		}
	}
	fmt.Fprintf(out, "\nfalse alarms by entity: ")
	if len(falseAlarms) == 0 {
		fmt.Fprint(out, "none")
	}
	for _, k := range slices.Sorted(maps.Keys(falseAlarms)) {
		fmt.Fprintf(out, "%s=%d ", k, falseAlarms[k])
	}
	fmt.Fprintln(out)
	for _, a := range r.Alarms {
		if !a.True {
			fmt.Fprintf(out, "  %s %s for %s\n", a.Entity, a.Start.Format(time.RFC3339), a.End.Sub(a.Start)+time.Minute)
		}
	}
}

// calibrationAt reads the calibrated probability of raw evidence off the
// map's blocks, as model.Calibrator.Apply does.
func calibrationAt(c engine.Calibration, raw float64) float64 {
	m := model.Calibrator{X: c.Raw, Y: c.Calibrated, N: c.Examples}
	return m.Apply(raw, 0)
}
