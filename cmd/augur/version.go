package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"

	"github.com/alecthomas/kingpin/v2"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

func revision() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

func versionCommand(app *kingpin.Application, out io.Writer) *command {
	c := &command{clause: app.Command("version", "Print version information.")}
	c.run = func(context.Context, *slog.Logger) error {
		_, err := fmt.Fprintf(out, "augur, version %s (revision: %s)\n  go version: %s\n", Version, revision(), runtime.Version())
		return err
	}
	return c
}
