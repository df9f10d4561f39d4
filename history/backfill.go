package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
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
type Backfill struct {
	db *DB
	w  *tsdb.BlockWriter
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
	w, err := tsdb.NewBlockWriter(slog.New(warnOnly{db.logger.Handler()}), db.Dir(), backfillRange.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("cannot start a backfill: %w", err)
	}
	return &Backfill{db: db, w: w}, nil
}

// Appender returns an appender whose committed samples go into the block.
func (b *Backfill) Appender(ctx context.Context) storage.Appender { return b.w.Appender(ctx) }

// Flush writes the block of the committed samples, if any, into the DB's
// folder and has the DB load it, then releases the backfill.
func (b *Backfill) Flush(ctx context.Context) error {
	_, err := b.w.Flush(ctx)
	if cerr := b.w.Close(); err == nil {
		err = cerr
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
