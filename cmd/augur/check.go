package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/model"

	"github.com/augur-sre/augur/config"
	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/remotewrite"
)

type checkConfigFlags struct {
	configFile   string
	sources      bool
	sourcesRange time.Duration
}

// checkCommand is `augur check config`, after `promtool check config` and
// `amtool check-config`: it prints what it checked and exits non-zero on
// any problem.
func checkCommand(app *kingpin.Application, out io.Writer) *command {
	var f checkConfigFlags
	check := app.Command("check", "Check augur's configuration.")
	c := &command{clause: check.Command("config", "Check a configuration file: every problem at once; with --sources, what each signal's queries return.")}
	c.clause.Flag("config.file", "augur configuration file to check.").Required().StringVar(&f.configFile)
	c.clause.Flag("sources", "Also run each signal's query and limit_query on its source over the last --sources.range, and report the series, entities, entities without a limit and label problems that augur would.").BoolVar(&f.sources)
	c.clause.Flag("sources.range", "How much of the recent past --sources queries.").Default("15m").DurationVar(&f.sourcesRange)
	c.run = func(ctx context.Context, logger *slog.Logger) error { return checkConfig(ctx, out, logger, f) }
	return c
}

// errCheckFailed makes the exit code non-zero once the problems are printed.
var errCheckFailed = errors.New("check failed")

func checkConfig(ctx context.Context, out io.Writer, logger *slog.Logger, f checkConfigFlags) error {
	fmt.Fprintf(out, "Checking %s\n", f.configFile)
	cfg, err := config.Load(f.configFile)
	if err != nil {
		fmt.Fprintf(out, "  FAILED:\n%s\n", indent(err.Error()))
		return errCheckFailed
	}
	srcs, err := buildSources(cfg, demoOverrides{}, logger)
	var opts engine.Options
	if err == nil {
		opts, err = engineOptions(cfg, srcs)
	}
	if err == nil {
		err = remotewrite.Check(cfg.RemoteWriteConfigs())
	}
	if err != nil {
		fmt.Fprintf(out, "  FAILED:\n%s\n", indent(err.Error()))
		return errCheckFailed
	}
	fmt.Fprintf(out, "  SUCCESS: %s, %s", plural(len(cfg.Sources), "source"), plural(len(cfg.Signals), "signal"))
	if n := len(cfg.RemoteWrite); n > 0 {
		fmt.Fprintf(out, ", %s", plural(n, "remote_write endpoint"))
	}
	fmt.Fprintln(out)
	if !f.sources {
		return nil
	}
	end := srcs.now()
	fmt.Fprintf(out, "\nChecking the signals' queries over the last %s:\n", model.Duration(f.sourcesRange))
	failed := 0
	for _, sig := range opts.Signals {
		c := engine.CheckSignal(ctx, sig, end.Add(-f.sourcesRange), end, opts.Step)
		fmt.Fprintf(out, "  %s (source %s): %d series, %d entities", c.Signal, c.Source, c.Series, c.Entities)
		if sig.LimitQuery != "" {
			fmt.Fprintf(out, ", %d without a limit", len(c.NoLimit))
		}
		fmt.Fprintln(out)
		for _, p := range c.Problems {
			fmt.Fprintf(out, "    %s: %s\n", p.Health, p.Message)
		}
		if len(c.Problems) > 0 {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(out, "  FAILED: %d of %d signals have problems\n", failed, len(opts.Signals))
		return errCheckFailed
	}
	fmt.Fprintf(out, "  SUCCESS: every signal has data, entity labels and limits\n")
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
