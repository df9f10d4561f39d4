// Package history is augur's own time-series store: an embedded Prometheus
// TSDB (github.com/prometheus/prometheus/tsdb) in the tsdb/ folder of
// --storage.path. The engine appends the ingested inputs (augur_input) and
// every derived series (forecasts, bands, scores, failure probabilities,
// times to limit) at each evaluation; refits read a series' history back
// from it, and the query package answers PromQL over it.
//
// A DB is safe for concurrent use, as the TSDB it wraps.
package history

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/tsdb"
)

// Dir is the name of the TSDB's folder inside the storage folder.
const Dir = "tsdb"

// Options configures Open.
type Options struct {
	// Retention is how long samples are kept (default 15 days).
	Retention time.Duration
	// OutOfOrderWindow is how far behind the newest sample of a series an
	// append may go: a replay writes the past after the live engine has
	// written the present. Zero accepts only in-order samples.
	OutOfOrderWindow time.Duration
	Logger           *slog.Logger
	Registerer       prometheus.Registerer
}

// DB is the embedded TSDB.
type DB struct {
	*tsdb.DB
}

// Open opens (creating if needed) the TSDB under storageDir/tsdb.
func Open(storageDir string, opts Options) (*DB, error) {
	if opts.Retention <= 0 {
		opts.Retention = 15 * 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Join(storageDir, Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create the TSDB folder: %w", err)
	}
	o := tsdb.DefaultOptions()
	o.RetentionDuration = opts.Retention.Milliseconds()
	o.OutOfOrderTimeWindow = opts.OutOfOrderWindow.Milliseconds()
	// Our own series and samples are the only writers; WAL compression
	// halves the disk a restart must replay at little CPU cost.
	o.WALCompression = "snappy"
	db, err := tsdb.Open(dir, opts.Logger.With("component", "tsdb"), opts.Registerer, o, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot open the TSDB in %s: %w", dir, err)
	}
	return &DB{DB: db}, nil
}
