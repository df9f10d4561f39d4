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
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
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
	// NoWAL keeps the samples in memory and in blocks only: for a
	// temporary TSDB that no restart reads.
	NoWAL      bool
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// DB is the embedded TSDB.
type DB struct {
	*tsdb.DB
	// temp is the folder Close removes, for OpenTemp.
	temp   string
	ooo    bool // an out-of-order window is set
	logger *slog.Logger
}

// OpenTemp opens a TSDB without a WAL in a new temporary folder that Close
// removes: the store of an engine that replays the past (augur evaluate,
// the calibration replay) or of a test.
func OpenTemp(logger *slog.Logger) (*DB, error) {
	dir, err := os.MkdirTemp("", "augur-tsdb-")
	if err != nil {
		return nil, fmt.Errorf("cannot create a temporary TSDB: %w", err)
	}
	// A replay may span more than the default retention; it keeps all.
	db, err := Open(dir, Options{NoWAL: true, Logger: logger, OutOfOrderWindow: 48 * time.Hour, Retention: 100 * 365 * 24 * time.Hour})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	db.temp = dir
	return db, nil
}

// Close closes the TSDB, and removes it when it is temporary.
func (db *DB) Close() error {
	err := db.DB.Close()
	if db.temp != "" {
		if rerr := os.RemoveAll(db.temp); err == nil {
			err = rerr
		}
	}
	return err
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
	// Isolation gives a reader the view of whole append transactions; an
	// evaluation's samples are read after it commits, and the ring of
	// open transactions it keeps costs memory per series.
	o.IsolationDisabled = true
	// The TSDB's default keeps the two-hour blocks the head writes and
	// never compacts them into longer ones: a read of a series' fortnight
	// (each refit's) then visits 168 blocks, each a postings lookup, a
	// series entry and a merge step. A tenth of the retention is
	// Prometheus' own default (cmd/prometheus), which compacts a fortnight
	// into 18-hour blocks.
	o.MaxBlockDuration = max(o.MinBlockDuration, o.RetentionDuration/10)
	// A restart reads the head's chunks back from a snapshot written at
	// shutdown rather than replaying every sample of the WAL since the
	// last block: at 100k series the head holds seven series each, hours
	// of samples (Prometheus' memory-snapshot-on-shutdown).
	o.EnableMemorySnapshotOnShutdown = true
	if opts.NoWAL {
		// A temporary TSDB serves one replay: day-long blocks spare it
		// the compactions of two-hour ones.
		o.WALSegmentSize = -1
		o.MinBlockDuration = (24 * time.Hour).Milliseconds()
		o.MaxBlockDuration = o.MinBlockDuration
	}
	// The TSDB logs every block it writes and every head GC at info:
	// hundreds of lines when the first start writes a fortnight. Its
	// warnings and errors are what a user of augur needs.
	l := slog.New(warnOnly{opts.Logger.Handler()}).With("component", "tsdb")
	db, err := tsdb.Open(dir, l, opts.Registerer, o, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot open the TSDB in %s: %w", dir, err)
	}
	return &DB{DB: db, ooo: opts.OutOfOrderWindow > 0, logger: opts.Logger}, nil
}

// MaxTime returns the time of the newest sample the TSDB holds, in the head
// or in a block; the zero time when it holds none.
func (db *DB) MaxTime() time.Time {
	maxT := int64(math.MinInt64)
	if db.Head().NumSeries() > 0 {
		maxT = db.Head().MaxTime()
	}
	// A block's MaxTime is the (exclusive) end of its range, not its
	// newest sample: a block compacted from out-of-order samples spans to
	// the end of its two hours, which may be ahead of the present. The
	// samples of the blocks that reach past the head are read for their
	// newest.
	lo, hi := int64(math.MaxInt64), maxT
	for _, b := range db.Blocks() {
		if m := b.Meta(); m.MaxTime-1 > maxT {
			lo, hi = min(lo, max(m.MinTime, maxT+1)), max(hi, m.MaxTime-1)
		}
	}
	if hi > maxT {
		maxT = max(maxT, db.newest(lo, hi))
	}
	if maxT == math.MinInt64 {
		return time.Time{}
	}
	return time.UnixMilli(maxT)
}

// newest returns the time of the newest sample in [mint, maxt], or
// math.MinInt64 when there is none or it cannot be read.
func (db *DB) newest(mint, maxt int64) int64 {
	newest := int64(math.MinInt64)
	q, err := db.Querier(mint, maxt)
	if err != nil {
		return newest
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+"))
	var it chunkenc.Iterator
	for set.Next() {
		it = set.At().Iterator(it)
		for it.Next() != chunkenc.ValNone {
			newest = max(newest, it.AtT())
		}
	}
	return newest
}

// MinTime returns the time of the oldest sample the TSDB holds, in a block
// or in the head; the zero time when it holds none.
func (db *DB) MinTime() time.Time {
	minT := int64(math.MaxInt64)
	if db.Head().NumSeries() > 0 {
		minT = db.Head().MinTime()
	}
	for _, b := range db.Blocks() {
		minT = min(minT, b.Meta().MinTime)
	}
	if minT == math.MaxInt64 {
		return time.Time{}
	}
	return time.UnixMilli(minT)
}

// warnOnly passes on the records of a handler at warning level and above,
// but the TSDB's notice of overlapping blocks: augur's first fit writes the
// outputs of the past after the present (out of order, by design), and the
// TSDB's compaction merges the blocks that result.
type warnOnly struct{ slog.Handler }

func (h warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnOnly) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "Overlapping blocks found during reloadBlocks" || r.Message == "aborting block compactions to persist the head block" {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h warnOnly) WithAttrs(as []slog.Attr) slog.Handler { return warnOnly{h.Handler.WithAttrs(as)} }
func (h warnOnly) WithGroup(name string) slog.Handler    { return warnOnly{h.Handler.WithGroup(name)} }
