package history

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

func TestEmptyMaxTime(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.MaxTime(); !got.IsZero() {
		t.Errorf("MaxTime of an empty TSDB = %v, want the zero time", got)
	}
	if got := db.MinTime(); !got.IsZero() {
		t.Errorf("MinTime of an empty TSDB = %v, want the zero time", got)
	}
}

// TestSurvivesReopen appends samples, closes the TSDB and reads them back
// after reopening it: what the WAL replays on a restart.

func TestSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := labels.FromStrings(labels.MetricName, "augur_input", "host", "a", "signal", "cpu")
	app := db.Appender(context.Background())
	for i := range int64(100) {
		if _, err := app.Append(0, l, 1_700_000_000_000+i*60_000, float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, want := db.MaxTime().UnixMilli(), int64(1_700_000_000_000+99*60_000); got != want {
		t.Errorf("MaxTime after reopening = %d, want %d", got, want)
	}
	if got, want := db.MinTime().UnixMilli(), int64(1_700_000_000_000); got != want {
		t.Errorf("MinTime after reopening = %d, want %d", got, want)
	}
	q, err := db.Querier(0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "host", "a"))
	n := 0
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for it.Next() != 0 {
			_, v := it.At()
			if v != float64(n) {
				t.Fatalf("sample %d = %v", n, v)
			}
			n++
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 100 {
		t.Fatalf("read %d samples after reopening, want 100", n)
	}
}

// TestMaxTimeAfterOutOfOrderCompaction checks MaxTime once out-of-order
// samples are compacted into a block, whose range ends at the next
// two-hour boundary, past the newest sample: a restart that took the
// block's end for it would skip every append until then.
func TestMaxTimeAfterOutOfOrderCompaction(t *testing.T) {
	db, err := Open(t.TempDir(), Options{OutOfOrderWindow: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const newest = int64(1_700_000_000_000) // 22:13:20 UTC, not on a two-hour boundary
	l := labels.FromStrings(labels.MetricName, "augur_forecast", "host", "a")
	for _, ts := range []int64{newest, newest - 600_000} { // the second out of order, in the same two hours
		app := db.Appender(context.Background())
		if _, err := app.Append(0, l, ts, 1); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CompactOOOHead(context.Background()); err != nil {
		t.Fatal(err)
	}
	ends := false
	for _, b := range db.Blocks() {
		ends = ends || b.Meta().MaxTime-1 > newest
	}
	if !ends {
		t.Fatalf("no block reaches past the newest sample: %d blocks", len(db.Blocks()))
	}
	if got := db.MaxTime().UnixMilli(); got != newest {
		t.Errorf("MaxTime = %d, want the newest sample's %d", got, newest)
	}
}

// TestCompactsBeyondTwoHours: the two-hour blocks the head writes are
// compacted into longer ones (up to a tenth of the retention), so that a
// read of a fortnight visits a few blocks rather than 168.
func TestCompactsBeyondTwoHours(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := labels.FromStrings(labels.MetricName, "augur_input", "host", "a", "signal", "cpu")
	const t0, step = int64(1_700_006_400_000), int64(60_000) // a midnight UTC
	n := int64(2*24*60) + 1                                  // two days at one minute
	app := db.Appender(context.Background())
	for i := range n {
		if _, err := app.Append(0, l, t0+i*step, float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	var longest int64
	for _, b := range db.Blocks() {
		longest = max(longest, b.Meta().MaxTime-b.Meta().MinTime)
	}
	if longest <= (2 * time.Hour).Milliseconds() {
		t.Errorf("%d blocks, the longest %v: the two-hour blocks were not compacted", len(db.Blocks()), time.Duration(longest)*time.Millisecond)
	}
}
