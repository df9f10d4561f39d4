package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/augur-sre/augur/store"
)

// replica is one replica's store and API, as augur serve wires them.
type replica struct {
	st *store.Store
	h  http.Handler
}

func newReplica(t *testing.T) replica {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := prometheus.NewRegistry()
	a := New(Options{Engine: idleEngine(t), MaxBodyBytes: 1 << 20, Registry: reg})
	failOnPanics(t, reg)
	if err := a.RegisterWebhook(WebhookOptions{Store: st}); err != nil {
		t.Fatal(err)
	}
	a.ServeIncidentLog(st)
	return replica{st, a.Handler()}
}

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url+WebhookPath, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: status %d", resp.StatusCode)
	}
}

// TestIncidentSync copies what Alertmanager posted to one replica into
// another: once, resolutions too, and from the start when the first
// replica's store is replaced; a peer that is down is retried, and a
// store at a new address is read on from where it was left.
func TestIncidentSync(t *testing.T) {
	a, b := newReplica(t), newReplica(t)
	// peer serves whichever store is a's now, at one URL.
	var current atomic.Pointer[replica]
	current.Store(&a)
	down := atomic.Bool{}
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		current.Load().h.ServeHTTP(w, r)
	}))
	defer peer.Close()
	reg := prometheus.NewRegistry()
	s, err := NewIncidentSync(IncidentSyncOptions{Store: b.st, Peers: func() []string { return []string{peer.URL} }, Interval: time.Hour, Timeout: 5 * time.Second, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	f := func(what string, wantErr bool, wantNotifications int, wantCopied float64) {
		t.Helper()
		if err := s.read(context.Background(), peer.URL); (err != nil) != wantErr {
			t.Errorf("%s: read: %v", what, err)
		}
		ns, err := b.st.Notifications()
		if err != nil || len(ns) != wantNotifications {
			t.Errorf("%s: b holds %d notifications (%v), want %d", what, len(ns), err, wantNotifications)
		}
		// b lists them, its webhook's entity and all.
		if got, _ := b.st.Incidents(context.Background(), at, at.AddDate(0, 1, 0)); len(ns) > 0 && (len(got) == 0 || got[0].Entity != "cache-1:9100") {
			t.Errorf("%s: b lists %+v", what, got)
		}
		if got := testutil.ToFloat64(s.copied); got != wantCopied {
			t.Errorf("%s: %v copied, want %v", what, got, wantCopied)
		}
	}
	f("nothing posted", false, 0, 0)
	post(t, peer.URL, firingPayload)
	f("firing", false, 1, 1)
	f("again", false, 1, 1)
	down.Store(true)
	post(t, httptest.NewServer(a.h).URL, resolvedPayload)
	f("peer down", true, 1, 1)
	down.Store(false)
	f("resolved", false, 2, 2)

	// a's store is replaced: b reads the new one from its start, though
	// its cursor of the old one is further on.
	a2 := newReplica(t)
	current.Store(&a2)
	post(t, peer.URL, strings.ReplaceAll(firingPayload, "a1b2c3d4e5f60718", "ffff"))
	f("replaced store", false, 3, 3)

	// The new store at another address (a pod's new IP), read by a new
	// IncidentSync (b restarted): after its first answer, from where b
	// left that store's log.
	var asked []string
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Query().Get("after"))
		a2.h.ServeHTTP(w, r)
	}))
	defer moved.Close()
	s, err = NewIncidentSync(IncidentSyncOptions{Store: b.st, Peers: func() []string { return []string{moved.URL} }, Interval: time.Hour, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.read(context.Background(), moved.URL); err != nil || strings.Join(asked, ",") != "0,1" {
		t.Errorf("read of the moved store: %v; asked after %q, want 0 then 1", err, asked)
	}
	if n := testutil.CollectAndCount(reg); n != 2 {
		t.Errorf("%d metrics registered, want 2", n)
	}
}

func TestIncidentLogBadRequests(t *testing.T) {
	srv := httptest.NewServer(newReplica(t).h)
	defer srv.Close()
	for q, want := range map[string]int{
		"":                    http.StatusOK,
		"?after=3&limit=10":   http.StatusOK,
		"?after=-1":           http.StatusBadRequest,
		"?after=x":            http.StatusBadRequest,
		"?limit=-1":           http.StatusBadRequest,
		"?limit=10001":        http.StatusBadRequest,
		"?after=1e3&limit=10": http.StatusBadRequest,
	} {
		resp, err := http.Get(srv.URL + IncidentLogPath + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: status %d, want %d", q, resp.StatusCode, want)
		}
	}
}
