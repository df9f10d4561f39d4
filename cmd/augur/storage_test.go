package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/augur-sre/augur/store"
)

// TestServeRefusesDamagedStorage starts `augur serve` on stores damaged the
// ways disks and people do, and on ones it may not write: augur must stop
// at once with an error naming the file, never crash, never write to it.
func TestServeRefusesDamagedStorage(t *testing.T) {
	// nobody is who runs augur in this test: root could write read-only files.
	var nobody *syscall.Credential
	if os.Geteuid() == 0 {
		nobody = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	bin := filepath.Join(sharedDir(t), "augur")
	if err := exec.Command("cp", augurBinary, bin).Run(); err != nil {
		t.Fatal(err)
	}
	fixture, span := filledStore(t)
	damage := func(f func(b []byte) []byte) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			writeStoreFile(t, filepath.Join(dir, store.FileName), f(bytes.Clone(fixture)), 0o644)
		}
	}
	scribble := func(b []byte) []byte {
		r := rand.New(rand.NewPCG(7, 1))
		for range 200 {
			off := 8192 + r.IntN(len(b)-8192-16)
			for i := range 16 {
				b[off+i] = byte(r.UintN(256))
			}
		}
		return b
	}
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, dir string)
		want    string
	}{
		// bbolt grows its file ahead of the data: cut into the data.
		{"truncated to 50 %", damage(func(b []byte) []byte { return b[:span/2] }), "truncated"},
		{"truncated to 75 %", damage(func(b []byte) []byte { return b[:span*3/4] }), "truncated"},
		{"random bytes past 8 KiB", damage(scribble), "damaged"},
		{"foreign file", damage(func([]byte) []byte { return []byte("not a database\n") }), "not an augur store"},
		{"zero bytes, backup kept", func(t *testing.T, dir string) {
			writeStoreFile(t, filepath.Join(dir, store.BackupName), fixture, 0o644)
			writeStoreFile(t, filepath.Join(dir, store.FileName), nil, 0o644)
		}, "is empty but its backup"},
		{"read-only file", func(t *testing.T, dir string) {
			writeStoreFile(t, filepath.Join(dir, store.FileName), fixture, 0o444)
		}, "permission denied"},
		{"read-only folder, no store yet", func(t *testing.T, dir string) {
			if err := os.Chmod(dir, 0o555); err != nil {
				t.Fatal(err)
			}
		}, "permission denied"},
		{"read-only folder, store kept", func(t *testing.T, dir string) {
			writeStoreFile(t, filepath.Join(dir, store.FileName), fixture, 0o644)
			if err := os.Chmod(dir, 0o555); err != nil {
				t.Fatal(err)
			}
		}, "permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(sharedDir(t), "data")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if nobody != nil {
				if err := os.Chown(dir, int(nobody.Uid), int(nobody.Gid)); err != nil {
					t.Fatal(err)
				}
			}
			tc.prepare(t, dir)
			path := filepath.Join(dir, store.FileName)
			if nobody != nil {
				_ = os.Lchown(path, int(nobody.Uid), int(nobody.Gid))
			}
			before, _ := os.ReadFile(path)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "serve", "--web.listen-address="+freePort(t), "--storage.path="+dir, "--calibration.replay=0")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
			out, err := cmd.CombinedOutput()
			if err == nil || ctx.Err() != nil {
				t.Fatalf("augur did not refuse the store (err %v):\n%s", err, out)
			}
			if code := cmd.ProcessState.ExitCode(); code != 1 {
				t.Errorf("exit code %d, want 1 (a refusal, not a crash)", code)
			}
			for _, crash := range []string{"SIGSEGV", "panic:", "goroutine ", "fatal error"} {
				if strings.Contains(string(out), crash) {
					t.Fatalf("augur crashed (%q):\n%s", crash, out)
				}
			}
			if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "store") {
				t.Errorf("error does not say %q:\n%s", tc.want, out)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("augur wrote to the store it refused")
			}
		})
	}
}

// sharedDir is a temporary folder every user may read, so that augur can
// run as nobody from it.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "augur-storage")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Chmod(p, 0o755) })
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// filledStore returns the bytes of a store with incidents and an engine
// snapshot, written by the store package, and the span of its data.
func filledStore(t *testing.T) ([]byte, int) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-24 * time.Hour).UTC()
	var incs []store.Incident
	for i := range 3000 {
		incs = append(incs, store.Incident{
			Fingerprint: fmt.Sprintf("%016x", i), Status: "firing", Entity: fmt.Sprintf("host-%d", i%40), Name: "NodeDown",
			Labels: map[string]string{"alertname": "NodeDown"}, StartsAt: t0.Add(time.Duration(i) * time.Second),
		})
	}
	if _, err := st.AddIncidents(incs); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveSnapshot(snapshotName, bytes.Repeat([]byte(`{"models":[]}`), 5000)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	path := filepath.Join(dir, store.FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var span int
	_ = db.View(func(tx *bolt.Tx) error { span = int(tx.Size()); return nil })
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b, span
}

func writeStoreFile(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// TestWebhookReadYourWrites checks that an incident the webhook
// acknowledged is listed by /api/v1/incidents at once, every time.
func TestWebhookReadYourWrites(t *testing.T) {
	base := startAugur(t, "--calibration.replay=0")
	for i := range 20 {
		host := fmt.Sprintf("rw-%d", i)
		body := fmt.Sprintf(`{"version":"4","receiver":"augur","alerts":[{"status":"firing","labels":{"alertname":"NodeDown","host":%q},"startsAt":%q,"fingerprint":"%016x"}]}`,
			host, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), i)
		resp, err := http.Post(base+"/api/v1/alertmanager/webhook", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook: status %d", resp.StatusCode)
		}
		var incs []struct{ Entity string }
		get(t, base+"/api/v1/incidents", &incs)
		if !slices.ContainsFunc(incs, func(in struct{ Entity string }) bool { return in.Entity == host }) {
			t.Fatalf("incident %d, acknowledged, is not listed right after", i)
		}
	}
}

// TestServeReportsUndecodableIncidents damages one stored notification's
// value (bbolt checks pages, not values): augur starts, lists the others,
// and says on /api/v1/incidents and in augur_storage_errors_total what it
// cannot list, instead of hiding it behind the demo's incidents (the store's
// tests check it is logged).
func TestServeReportsUndecodableIncidents(t *testing.T) {
	dir := t.TempDir()
	fixture, _ := filledStore(t)
	path := filepath.Join(dir, store.FileName)
	writeStoreFile(t, path, fixture, 0o600)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("incidents"))
		k, _ := b.Cursor().First()
		return b.Put(k, []byte(`{"fingerprint": "0000`))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	base := startAugur(t, "--storage.path="+dir, "--calibration.replay=0")
	var env struct {
		Data     []struct{ Source string } `json:"data"`
		Warnings []string                  `json:"warnings"`
	}
	eventually(t, "augur answers /api/v1/incidents", 30*time.Second, func() bool {
		resp, err := http.Get(base + "/api/v1/incidents")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&env) == nil
	})
	stored := 0
	for _, in := range env.Data {
		if in.Source == "alertmanager" {
			stored++
		}
	}
	if stored != 2999 || len(env.Warnings) != 1 || !strings.Contains(env.Warnings[0], "1 stored incident notifications") {
		t.Errorf("%d stored incidents listed, warnings %q; want 2999 and one warning about the damaged one", stored, env.Warnings)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "augur_storage_errors_total 1\n") {
		t.Errorf("augur_storage_errors_total is not 1:\n%s", grepLines(string(metrics), "augur_storage"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}
