package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	bolt "go.etcd.io/bbolt"
)

// fixtureIncidents is the number of incidents in fillStore's store.
const fixtureIncidents = 3000

// fillStore writes a store as augur leaves it after a while: incidents
// (firing and resolved), alert states and a model snapshot, over many pages.
func fillStore(t testing.TB, dir string) {
	t.Helper()
	s, err := Open(dir, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var incs []Incident
	for i := range fixtureIncidents {
		in := Incident{
			Fingerprint: fmt.Sprintf("%016x", i*7919), Status: "firing", Entity: fmt.Sprintf("host-%d", i%50), Name: "OOMKilled",
			Labels: map[string]string{"alertname": "OOMKilled", "instance": fmt.Sprintf("host-%d", i%50)}, StartsAt: t0.Add(time.Duration(i) * time.Minute),
		}
		incs = append(incs, in)
		if i%2 == 0 {
			in.Status, in.EndsAt = "resolved", in.StartsAt.Add(5*time.Minute)
			incs = append(incs, in)
		}
	}
	if _, err := s.AddIncidents(incs); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAlertStates(map[string][]byte{"FailurePredicted/cache-1": []byte(`{"state":"firing"}`)}); err != nil {
		t.Fatal(err)
	}
	snap := make([]byte, 64<<10)
	for i := range snap {
		snap[i] = byte('a' + i%26)
	}
	if err := s.SaveSnapshot("engine", snap); err != nil {
		t.Fatal(err)
	}
}

// TestOpenDamagedFiles damages a real store the ways disks and people do
// and checks that Open either refuses it, naming the file and the way out
// and leaving it as it was, or opens it and then lists every incident or
// says how many it cannot: never a crash, never data hidden silently.
func TestOpenDamagedFiles(t *testing.T) {
	// truncate cuts into the data (bbolt grows its file ahead of it).
	truncate := func(frac float64) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, FileName)
			db, err := bolt.Open(p, 0o600, &bolt.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			var span int64
			_ = db.View(func(tx *bolt.Tx) error { span = tx.Size(); return nil })
			db.Close()
			if err := os.Truncate(p, int64(float64(span)*frac)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// scribble writes runs of 16 random bytes past the first 8 KiB (past
	// bbolt's two meta pages, whose checksums catch damage there).
	scribble := func(seed uint64, runs int) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, FileName)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(seed, 1))
			for range runs {
				off := 8192 + r.IntN(len(b)-8192-16)
				for i := range 16 {
					b[off+i] = byte(r.UintN(256))
				}
			}
			write(t, p, b)
		}
	}
	zeroWithBackup := func(t *testing.T, dir string) {
		// Opening once more leaves the backup of the filled store.
		s, err := Open(dir, Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		write(t, filepath.Join(dir, FileName), nil)
	}
	type outcome int
	const (
		refused outcome = iota
		refusedOrComplete
	)
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   outcome
		// reason is in the refusal.
		reason string
	}{
		{"truncated to 50 %", truncate(0.5), refused, "truncated"},
		{"truncated to 75 %", truncate(0.75), refused, "truncated"},
		{"zero bytes, backup kept", zeroWithBackup, refused, "is empty but its backup"},
		{"foreign file", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, FileName), []byte("# a configuration file saved in the wrong place\nglobal: {}\n"))
		}, refused, "not a bbolt database"},
	}
	for seed := range uint64(10) {
		for _, runs := range []int{200, 3} {
			cases = append(cases, struct {
				name   string
				damage func(t *testing.T, dir string)
				want   outcome
				reason string
			}{fmt.Sprintf("%d random runs past 8 KiB, seed %d", runs, seed), scribble(seed, runs), refusedOrComplete, "damaged"})
		}
	}
	filled := t.TempDir()
	fillStore(t, filled)
	fixture, err := os.ReadFile(filepath.Join(filled, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, FileName), fixture)
			tc.damage(t, dir)
			path := filepath.Join(dir, FileName)
			before, _ := os.ReadFile(path)
			reg := prometheus.NewRegistry()
			var logs bytes.Buffer
			s, err := Open(dir, Options{Timeout: time.Second, Registerer: reg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				if !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "does not overwrite") {
					t.Errorf("refusal %q: want it to say %q, name %s and that augur keeps it", err, tc.reason, path)
				}
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrForeign) {
					t.Errorf("refusal %q is neither ErrCorrupt nor ErrForeign", err)
				}
				if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
					t.Error("Open wrote to the file it refused")
				}
				return
			}
			defer s.Close()
			if tc.want == refused {
				t.Fatal("Open accepted the damaged file")
			}
			incs, err := s.Incidents(context.Background(), time.Time{}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			damaged := s.index.damaged
			if len(incs)+damaged < fixtureIncidents {
				t.Errorf("%d incidents listed and %d reported damaged, want %d in all", len(incs), damaged, fixtureIncidents)
			}
			if got := testutil.ToFloat64(s.errors); damaged > 0 && (got < float64(damaged) || len(s.Warnings()) == 0) {
				t.Errorf("%d damaged notifications, augur_storage_errors_total %v, warnings %q: want them counted and reported", damaged, got, s.Warnings())
			}
			if logged := strings.Count(logs.String(), "cannot decode a stored incident"); logged != damaged {
				t.Errorf("%d damaged notifications, %d logged", damaged, logged)
			}
			// The store keeps working: reads and writes answer, whatever they meet.
			_, _ = s.LoadSnapshot("engine")
			_, _ = s.LoadAlertStates()
			if _, err := s.AddIncidents([]Incident{{Fingerprint: "new", Status: "firing", StartsAt: time.Now()}}); err != nil {
				t.Logf("write after open: %v", err)
			}
		})
	}
}

// TestOpenReadOnly opens a store whose file or folder augur may not write:
// it must refuse with the cause, not half-open.
func TestOpenReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes read-only files; cmd/augur's TestServeRefusesDamagedStorage runs this case as another user")
	}
	dir := t.TempDir()
	fillStore(t, dir)
	if err := os.Chmod(filepath.Join(dir, FileName), 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{Timeout: time.Second}); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("read-only file: %v, want permission denied", err)
	}
	ro := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ro, Options{Timeout: time.Second}); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("read-only folder: %v, want permission denied", err)
	}
}
