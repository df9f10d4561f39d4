// Command augur predicts infrastructure failures from metrics. It wires the
// packages together: ingest (sources), model (numerics), forecast (the
// engine) and api (HTTP); every subcommand lives in a file of its own.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
)

// command is one augur subcommand: its flags live on clause, run does the work.
type command struct {
	clause *kingpin.CmdClause
	run    func(ctx context.Context, logger *slog.Logger) error
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout))
}

func realMain(args []string, stdout *os.File) int {
	app := kingpin.New("augur", "Predicts infrastructure failures from metrics: anomaly scores, failure probabilities and capacity forecasts.")
	app.HelpFlag.Short('h')
	logLevel := app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").
		Default("info").Enum("debug", "info", "warn", "error")
	logFormat := app.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").Default("logfmt").Enum("logfmt", "json")

	cmds := []*command{
		serveCommand(app),
		detectCommand(app, stdout),
		forecastCommand(app, stdout),
		backtestCommand(app, stdout),
		nabCommand(app),
		evaluateCommand(app, stdout),
		checkCommand(app, stdout),
		versionCommand(app, stdout),
	}
	selected, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "augur: %v\n", err)
		return 2
	}
	logger := newLogger(*logLevel, *logFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range cmds {
		if c.clause.FullCommand() == selected {
			if err := c.run(ctx, logger); err != nil {
				// Plain text, not a log line: configuration errors span
				// several lines, one per problem, each naming file and line.
				fmt.Fprintf(os.Stderr, "augur %s: %v\n", selected, err)
				return 1
			}
			return 0
		}
	}
	fmt.Fprintf(os.Stderr, "augur: unknown command %q\n", selected)
	return 2
}

func newLogger(level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(level)))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
