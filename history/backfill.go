package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"time"

	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// A Backfill writes samples of the past into a new block of the DB,
// instead of its head, as promtool's backfill does: the first start's
// fortnight of history, the past outputs of a first fit. Through the head,
// those samples would be written to the WAL and replayed at every restart
// until compacted, the head's series would keep, for good, the index of
// every chunk they ever held (the head truncates that slice but keeps its
// capacity), and samples more than an hour older than the head's newest
// would go to its out-of-order head, several times slower to write and to
// read.
//
// Its appenders may be used concurrently; none may be used after Flush.
//
// It is tsdb.BlockWriter (a head in a temporary folder, written out by a
// compactor) with the head's isolation disabled: BlockWriter's head keeps
// isolation, whose per-series ring records the transaction of every sample
// appended until a later transaction of the same series clears it, 8 to 16
// bytes a sample for as long as the backfill lives, since a backfill
// appends a series' past in one transaction and never again (44 MB of a
// 1k-series first start's 90 MB heap; BenchmarkBackfillBytesPerSample).
// Nothing reads a backfill before its block is written.
type Backfill struct {
	db       *DB
	head     *tsdb.Head
	chunkDir string
	logger   *slog.Logger
}

// backfillRange is the chunk range of a backfill's head, which takes a
// series' samples in order down to half of it behind the newest of any
// series (promtool's backfill sets it the same way): an appender of one
// series after another's past would otherwise be refused.
const backfillRange = 2 * 366 * 24 * time.Hour

// NewBackfill returns a backfill into db of samples spanning up to a
// year.
func (db *DB) NewBackfill() (*Backfill, error) {
	if !db.ooo {
		// Flush loads the block through the out-of-order compaction, which
		// a DB without an out-of-order window skips.
		return nil, errors.New("cannot backfill a TSDB without an out-of-order window")
	}
	chunkDir, err := os.MkdirTemp("", "augur-backfill-")
	if err != nil {
		return nil, fmt.Errorf("cannot start a backfill: %w", err)
	}
	o := tsdb.DefaultHeadOptions()
	o.ChunkRange = backfillRange.Milliseconds()
	o.ChunkDirRoot = chunkDir
	o.IsolationDisabled = true
	logger := slog.New(warnOnly{db.logger.Handler()})
	head, err := tsdb.NewHead(nil, logger, nil, nil, o, tsdb.NewHeadStats())
	if err == nil {
		if err = head.Init(math.MinInt64); err != nil {
			head.Close()
		}
	}
	if err != nil {
		os.RemoveAll(chunkDir)
		return nil, fmt.Errorf("cannot start a backfill: %w", err)
	}
	return &Backfill{db: db, head: head, chunkDir: chunkDir, logger: logger}, nil
}

// Appender returns an appender whose committed samples go into the block.
func (b *Backfill) Appender(ctx context.Context) storage.Appender { return b.head.Appender(ctx) }

// Flush writes the block of the committed samples, if any, into the DB's
// folder and has the DB load it, then releases the backfill.
func (b *Backfill) Flush(ctx context.Context) error {
	err := b.write(ctx)
	if cerr := b.head.Close(); err == nil {
		err = cerr
	}
	if rerr := os.RemoveAll(b.chunkDir); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("cannot write a backfilled block: %w", err)
	}
	// The TSDB loads the blocks it finds in its folder when it compacts;
	// the out-of-order compaction is the one that always reloads them, and
	// it is cheap: the engine writes nothing out of order.
	if err := b.db.CompactOOOHead(ctx); err != nil {
		return fmt.Errorf("cannot load a backfilled block: %w", err)
	}
	return nil
}

// write writes the head's samples as one block, as BlockWriter.Flush does.
func (b *Backfill) write(ctx context.Context) error {
	if b.head.NumSeries() == 0 {
		return nil
	}
	c, err := tsdb.NewLeveledCompactor(ctx, nil, b.logger, []int64{backfillRange.Milliseconds()}, chunkenc.NewPool(), nil)
	if err != nil {
		return err
	}
	// A block's range is half-open, [mint, maxt).
	_, err = c.Write(b.db.Dir(), b.head, b.head.MinTime(), b.head.MaxTime()+1, nil)
	return err
}
