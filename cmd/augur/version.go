package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
)

// augur's version is Prometheus': github.com/prometheus/common/version's
// variables, set at build time as Prometheus sets them, e.g.
//
//	go build -ldflags "-X github.com/prometheus/common/version.Version=1.2.0
//	  -X github.com/prometheus/common/version.Branch=main
//	  -X github.com/prometheus/common/version.BuildDate=$(date -u +%Y%m%d-%H:%M:%S)" ./cmd/augur
//
// `augur version`, /api/v1/status/buildinfo and the index page all read
// them. A build without -ldflags has the module's version from the Go
// toolchain ("(devel)" in a checkout, the tag after go install) and its
// VCS revision.
func init() {
	if version.Version == "" {
		version.Version = "unknown"
		if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
			version.Version = info.Main.Version
		}
	}
}

func versionCommand(app *kingpin.Application, out io.Writer) *command {
	c := &command{clause: app.Command("version", "Print version information.")}
	c.run = func(context.Context, *slog.Logger) error {
		_, err := fmt.Fprintln(out, version.Print("augur"))
		return err
	}
	return c
}
