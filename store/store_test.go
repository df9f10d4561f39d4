package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/augur-sre/augur/ingest"
)

func TestOpenRefusesForeignFiles(t *testing.T) {
	foreignBolt := func(t *testing.T, path string) {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("widgets"))
			if err != nil {
				return err
			}
			return b.Put([]byte("k"), []byte("v"))
		}); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	wrongFormat := func(t *testing.T, path string) {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(bucketMeta)
			if err != nil {
				return err
			}
			return b.Put(keyFormat, []byte("augur-store/99"))
		}); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, path string)
		want    string
	}{
		{"text file", func(t *testing.T, p string) { write(t, p, []byte("hello, I am a text file\n")) }, "not a bbolt database or is corrupt"},
		{"random bytes", func(t *testing.T, p string) { write(t, p, bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 4096)) }, "not a bbolt database or is corrupt"},
		{"another program's bbolt", foreignBolt, `bucket "widgets" of another program`},
		{"newer format", wrongFormat, `format "augur-store/99"`},
		{"truncated store", func(t *testing.T, p string) {
			s, err := Open(filepath.Dir(p), Options{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			b, _ := os.ReadFile(p)
			write(t, p, b[:1024])
		}, "not an augur store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			tc.prepare(t, path)
			before, _ := os.ReadFile(path)
			s, err := Open(dir, Options{Timeout: time.Second})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded on a foreign file")
			}
			if !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "does not overwrite") {
				t.Errorf("error %q: want ErrForeign mentioning %q and that the file is kept", err, tc.want)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Error("Open modified the foreign file")
			}
		})
	}
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOpenEmptyFileAndLock(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, FileName), nil)
	s, err := Open(dir, Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("an empty file is ours to initialise: %v", err)
	}
	defer s.Close()
	if _, err := Open(dir, Options{Timeout: 100 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "another process holds it") {
		t.Errorf("second Open while held: %v, want a clear lock error", err)
	}
}

func TestIncidentsIdempotentAndDurable(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	firing := Incident{Fingerprint: "abc", Status: "firing", Entity: "cache-1", Name: "OOMKilled", StartsAt: t0, Labels: map[string]string{"alertname": "OOMKilled"}}
	resolved := firing
	resolved.Status, resolved.EndsAt = "resolved", t0.Add(10*time.Minute)
	other := Incident{Fingerprint: "def", Status: "firing", Entity: "db-1", Name: "ConnectionPoolExhausted", StartsAt: t0.Add(time.Hour)}

	for _, step := range []struct {
		in   []Incident
		want int
	}{
		{[]Incident{firing}, 1},
		{[]Incident{firing}, 0},           // Alertmanager's resend
		{[]Incident{firing, resolved}, 1}, // the resolution is new
		{[]Incident{other, other}, 1},     // duplicates within one batch
		{[]Incident{resolved, firing}, 0}, // all known
		{[]Incident{}, 0},
	} {
		got, err := s.AddIncidents(step.in)
		if err != nil || got != step.want {
			t.Fatalf("AddIncidents(%d) = %d, %v; want %d", len(step.in), got, err, step.want)
		}
	}
	s.Close()

	s, err = Open(dir, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ns, _ := s.Notifications()
	if len(ns) != 3 {
		t.Fatalf("after reopening: %d notifications, want 3", len(ns))
	}
	f := func(start, end time.Time, want []ingest.Incident) {
		t.Helper()
		got, err := s.Incidents(context.Background(), start, end)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("Incidents(%s, %s) = %+v, want %+v", start, end, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("incident %d = %+v, want %+v", i, got[i], want[i])
			}
		}
	}
	oom := ingest.Incident{Entity: "cache-1", Name: "OOMKilled", Start: t0, End: t0.Add(10 * time.Minute), Source: "alertmanager"}
	pool := ingest.Incident{Entity: "db-1", Name: "ConnectionPoolExhausted", Start: t0.Add(time.Hour), Source: "alertmanager"}
	f(t0.Add(-time.Hour), t0.Add(2*time.Hour), []ingest.Incident{oom, pool})
	f(t0.Add(20*time.Minute), t0.Add(2*time.Hour), []ingest.Incident{pool})
	f(t0.Add(-time.Hour), t0.Add(-time.Minute), nil)
	f(t0.Add(3*time.Hour), t0.Add(4*time.Hour), []ingest.Incident{pool}) // still firing

	combined := Lister(nil, s, s)
	got, err := combined.Incidents(context.Background(), t0.Add(-time.Hour), t0.Add(2*time.Hour))
	if err != nil || len(got) != 4 {
		t.Errorf("Lister: %d incidents, %v; want 4", len(got), err)
	}
	if Lister(nil) != nil {
		t.Error("Lister of nothing is not nil")
	}
}

func TestAlertStates(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAlertStates(map[string][]byte{"a": []byte(`{"x":1}`), "b": []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAlertStates(map[string][]byte{"a": []byte(`{"x":2}`)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.LoadAlertStates()
	if err != nil || len(got) != 1 || string(got["a"]) != `{"x":2}` {
		t.Errorf("LoadAlertStates = %q, %v; want only a={\"x\":2}", got, err)
	}
}

func TestSnapshots(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadSnapshot("engine"); err != nil || got != nil {
		t.Fatalf("empty store: %q, %v", got, err)
	}
	if err := s.SaveSnapshot("engine", []byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSnapshot("engine", []byte(`{"v":2}`)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.LoadSnapshot("engine"); err != nil || string(got) != `{"v":2}` {
		t.Fatalf("after reopen: %q, %v", got, err)
	}
}

// failingLister is a fake incident source that injects its outage.
type failingLister struct{}

func (failingLister) Incidents(context.Context, time.Time, time.Time) ([]ingest.Incident, error) {
	return nil, errors.New("prometheus is down")
}

// TestListerReportsPartialFailure checks that a failing source does not
// hide the others' incidents, nor its own failure.
func TestListerReportsPartialFailure(t *testing.T) {
	s, err := Open(t.TempDir(), Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	if _, err := s.AddIncidents([]Incident{{Fingerprint: "a", Status: "firing", Name: "NodeDown", StartsAt: t0}}); err != nil {
		t.Fatal(err)
	}
	got, err := Lister(failingLister{}, s).Incidents(context.Background(), t0.Add(-time.Hour), t0.Add(time.Hour))
	if len(got) != 1 || err == nil || !strings.Contains(err.Error(), "prometheus is down") {
		t.Errorf("one source down: %d incidents, error %v; want the store's 1 and the outage", len(got), err)
	}
	got, err = Lister(failingLister{}, failingLister{}).Incidents(context.Background(), t0.Add(-time.Hour), t0.Add(time.Hour))
	if got != nil || err == nil {
		t.Errorf("all sources down: %v, %v; want no incidents and the error", got, err)
	}
}

func TestPruneAndBackup(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	s, err := Open(dir, Options{Timeout: time.Second, IncidentRetention: 30 * 24 * time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var incs []Incident
	for i := range 2500 {
		start := now.Add(-time.Duration(i) * time.Hour)
		incs = append(incs, Incident{Fingerprint: fmt.Sprint(i), Status: "firing", StartsAt: start},
			Incident{Fingerprint: fmt.Sprint(i), Status: "resolved", StartsAt: start, EndsAt: start.Add(time.Hour)})
	}
	// Still firing, started before the retention: kept until it is.
	incs = append(incs, Incident{Fingerprint: "old", Status: "firing", StartsAt: now.Add(-29 * 24 * time.Hour)})
	if _, err := s.AddIncidents(incs); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(context.Background())
	// Incidents that ended more than 30 days (720 h) ago: those that
	// started 722 h to 2499 h ago, each ending an hour after its start.
	if want := 2500 - 722; err != nil || n != want {
		t.Fatalf("Prune = %d, %v; want %d", n, err, want)
	}
	left, _ := s.Incidents(context.Background(), time.Time{}, now)
	if len(left) != 722+1 {
		t.Errorf("%d incidents left, want 723", len(left))
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, BackupName)); err == nil {
		t.Error("a new store has a backup: there was nothing to back up")
	}
	s, err = Open(dir, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ns, _ := s.Notifications()
	if len(ns) != 2*722+1 {
		t.Errorf("after reopening: %d notifications, want the %d kept", len(ns), 2*722+1)
	}
	if fi, err := os.Stat(filepath.Join(dir, BackupName)); err != nil || fi.Size() == 0 {
		t.Errorf("no backup taken before the first write: %v", err)
	}
}

// BenchmarkIncidents is the engine's periodic incident refresh: it lists
// from the in-memory index, without decoding what is stored.
func BenchmarkIncidents(b *testing.B) {
	for _, stored := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("stored=%d", stored), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{Timeout: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			incs := make([]Incident, stored)
			for i := range incs {
				incs[i] = Incident{Fingerprint: fmt.Sprint(i), Status: "firing", Entity: "db-1", Name: "NodeDown", StartsAt: t0.Add(time.Duration(i) * time.Second)}
			}
			if _, err := s.AddIncidents(incs); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := s.Incidents(context.Background(), t0, t0.Add(time.Duration(stored)*time.Second)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestIncidentsConcurrent writes, lists and prunes at once (run with -race):
// every acknowledged write is listed by the next listing.
func TestIncidentsConcurrent(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	s, err := Open(t.TempDir(), Options{Timeout: time.Second, IncidentRetention: time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				// Out of order starts, and some past the retention.
				start := now.Add(-time.Duration((i*7+w)%120) * time.Minute)
				fp := fmt.Sprintf("w%d-%d", w, i)
				if _, err := s.AddIncidents([]Incident{{Fingerprint: fp, Status: "firing", StartsAt: start, Entity: fp}}); err != nil {
					t.Error(err)
					return
				}
				if start.Before(now.Add(-time.Hour)) {
					continue
				}
				incs, _ := s.Incidents(context.Background(), time.Time{}, now)
				if !slices.ContainsFunc(incs, func(in ingest.Incident) bool { return in.Entity == fp }) {
					t.Errorf("%s acknowledged but not listed", fp)
				}
				if !slices.IsSortedFunc(incs, func(a, b ingest.Incident) int { return a.Start.Compare(b.Start) }) {
					t.Error("listing not sorted by start")
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			if _, err := s.Prune(context.Background()); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
}

// BenchmarkOpen is the start's check, index load and backup of a store of
// 100k incidents.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir, Options{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	incs := make([]Incident, 100000)
	for i := range incs {
		incs[i] = Incident{Fingerprint: fmt.Sprintf("%016x", i), Status: "firing", Entity: "db-1", Name: "NodeDown",
			Labels: map[string]string{"alertname": "NodeDown", "host": "db-1"}, StartsAt: t0.Add(time.Duration(i) * time.Second)}
	}
	if _, err := s.AddIncidents(incs); err != nil {
		b.Fatal(err)
	}
	s.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s, err := Open(dir, Options{Timeout: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
