package store

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestLogCopiesBetweenStores copies one store's notifications to another
// through the log, as the replicas of a cluster do: in pages, once each,
// across a restart of both, and again from 0 when the read store is
// replaced.
func TestLogCopiesBetweenStores(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	open := func(dir string) *Store {
		t.Helper()
		s, err := Open(dir, Options{Timeout: time.Second, IncidentRetention: 24 * time.Hour, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	srcDir, dstDir := t.TempDir(), t.TempDir()
	src, dst := open(srcDir), open(dstDir)
	notify := func(s *Store, fp string, start time.Time) {
		t.Helper()
		if _, err := s.AddIncidents([]Incident{{Fingerprint: fp, Status: "firing", Entity: "db-1", StartsAt: start}}); err != nil {
			t.Fatal(err)
		}
	}
	// copyAll reads src's log into dst in pages of 2 and returns how many
	// notifications were new to dst.
	copyAll := func() int {
		t.Helper()
		added := 0
		for {
			id, _, err := src.Log(math.MaxUint64, 1)
			if err != nil {
				t.Fatal(err)
			}
			seq, err := dst.ReadTo(id.Store)
			if err != nil {
				t.Fatal(err)
			}
			next, page, err := src.Log(seq, 2)
			if err != nil {
				t.Fatal(err)
			}
			n, err := dst.AddPeerIncidents(next, page)
			if err != nil {
				t.Fatal(err)
			}
			added += n
			if len(page) < 2 {
				return added
			}
		}
	}
	for i := range 5 {
		notify(src, fmt.Sprint(i), now.Add(-time.Duration(i)*time.Minute))
	}
	notify(src, "0", now) // Alertmanager's resend: not logged again
	if n := copyAll(); n != 5 {
		t.Errorf("first copy: %d new, want 5", n)
	}
	if n := copyAll(); n != 0 {
		t.Errorf("second copy: %d new, want 0", n)
	}
	// dst logs what it copied, so that a third replica reads it there too.
	if _, got, err := dst.Log(0, 100); err != nil || len(got) != 5 {
		t.Errorf("dst's log: %d notifications, %v; want 5", len(got), err)
	}
	src.Close()
	dst.Close()

	src, dst = open(srcDir), open(dstDir)
	notify(src, "new", now)
	if n := copyAll(); n != 1 {
		t.Errorf("after a restart: %d new, want 1", n)
	}
	// Pruned notifications leave the log.
	notify(src, "old", now.Add(-48*time.Hour))
	if n, err := src.Prune(context.Background()); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1", n, err)
	}
	if err := src.view(func(tx *bolt.Tx) error {
		n := 0
		_ = tx.Bucket(bucketLog).ForEach(func(_, _ []byte) error { n++; return nil })
		if n != 6 {
			t.Errorf("after pruning, the log holds %d entries, want 6", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	src.Close()
	dst.Close()
}

// TestLogOfOlderStore logs the notifications of a store written before
// the log existed, once, when it is opened.
func TestLogOfOlderStore(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.AddIncidents([]Incident{{Fingerprint: fmt.Sprint(i), Status: "firing", StartsAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketLog) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for range 2 {
		s, err = Open(dir, Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		c, got, err := s.Log(0, 100)
		s.Close()
		if err != nil || len(got) != 3 || c.Seq != 3 || c.Store == "" {
			t.Fatalf("log of the older store: %d notifications up to %+v, %v; want 3 up to 3", len(got), c, err)
		}
	}
}
