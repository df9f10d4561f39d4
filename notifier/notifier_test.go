package notifier

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/augur-sre/augur/internal/testservers"
)

const amConfig = `
route:
  receiver: blackhole
receivers:
  - name: blackhole
`

func alerts(n int, name string) []Alert {
	out := make([]Alert, n)
	now := time.Now()
	for i := range out {
		out[i] = Alert{
			Labels:       map[string]string{"alertname": name, "host": fmt.Sprintf("host-%d", i)},
			Annotations:  map[string]string{"summary": "test"},
			StartsAt:     now.Add(-time.Minute),
			EndsAt:       now.Add(4 * time.Minute),
			GeneratorURL: "http://augur:9477/api/v1/query?query=up",
		}
	}
	return out
}

// amAlerts returns the alerts Alertmanager holds with the given alertname.
func amAlerts(t *testing.T, base, name string) int {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/alerts?filter=alertname%3D%22" + name + "%22")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var got []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("cannot decode Alertmanager's alerts: %v", err)
	}
	return len(got)
}

func run(t *testing.T, m *Manager) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// eventually polls ok until it holds (testservers.Eventually).
var eventually = testservers.Eventually

// TestAlertmanager sends to a real Alertmanager, in batches, and keeps
// alerts queued while it is down.
func TestAlertmanager(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Alertmanager")
	}
	am := testservers.StartAlertmanager(t, amConfig)
	reg := prometheus.NewRegistry()
	var requests atomic.Int64
	client := &http.Client{Timeout: 5 * time.Second}
	m, err := New(Options{
		Alertmanagers: []string{am.URL + "/"}, Registerer: reg, Backoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Do: func(r *http.Request) (*http.Response, error) { requests.Add(1); return client.Do(r) },
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, m)

	m.Send(alerts(300, "Batched")...)
	eventually(t, "Alertmanager holds the 300 alerts", 10*time.Second, func() bool { return amAlerts(t, am.URL, "Batched") == 300 })
	if n := requests.Load(); n != 2 {
		t.Errorf("%d requests for 300 alerts, want 2 (batches of at most 256)", n)
	}
	if v := value(m.metrics.sent.WithLabelValues(m.urls[0])); v != 300 {
		t.Errorf("augur_notifications_sent_total = %v, want 300", v)
	}

	// Alertmanager down: the alerts wait in the queue, errors are counted,
	// and they arrive once it is back.
	if err := am.Stop(); err != nil {
		t.Fatal(err)
	}
	m.Send(alerts(10, "WhileDown")...)
	eventually(t, "errors counted while Alertmanager is down", 10*time.Second, func() bool {
		return value(m.metrics.errors.WithLabelValues(m.urls[0])) >= 20
	})
	// Between a failed attempt's error count and its requeue the batch is
	// in flight, so the queue is checked between attempts.
	eventually(t, "the 10 alerts wait in the queue while Alertmanager is down", 5*time.Second, func() bool { return m.QueueLen() == 10 })
	if err := am.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "queued alerts delivered after the outage", 15*time.Second, func() bool { return amAlerts(t, am.URL, "WhileDown") == 10 })
	eventually(t, "queue drained", 5*time.Second, func() bool { return m.QueueLen() == 0 })
	if v := value(m.metrics.dropped); v != 0 {
		t.Errorf("augur_notifications_dropped_total = %v, want 0", v)
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 7 {
		t.Errorf("registered notification metrics: %d, %v; want 7", len(mfs), err)
	}
}

// faultyAlertmanager is a fake Alertmanager that answers every request with
// a fixed status: the one fault a real Alertmanager does not produce on demand.
func faultyAlertmanager(t *testing.T, status int, requests *atomic.Int64) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, http.StatusText(status), status)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRetryOnlyServerErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		retry  bool
	}{
		{http.StatusInternalServerError, true},
		{http.StatusServiceUnavailable, true},
		{http.StatusBadRequest, false},
		{http.StatusUnauthorized, false},
		{http.StatusOK, false},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			var requests atomic.Int64
			m, err := New(Options{Alertmanagers: []string{faultyAlertmanager(t, tc.status, &requests)}, Backoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			run(t, m)
			m.Send(alerts(3, "X")...)
			if tc.retry {
				eventually(t, "retries", 5*time.Second, func() bool { return requests.Load() >= 3 })
				if m.QueueLen() != 3 && m.QueueLen() != 0 {
					t.Errorf("queue length %d during retries", m.QueueLen())
				}
				return
			}
			eventually(t, "one request", 5*time.Second, func() bool { return requests.Load() == 1 })
			time.Sleep(100 * time.Millisecond)
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests, want 1: status %d is not retried", n, tc.status)
			}
			wantDropped := 3.0
			if tc.status == http.StatusOK {
				wantDropped = 0
			}
			if v := value(m.metrics.dropped); v != wantDropped {
				t.Errorf("dropped %v, want %v", v, wantDropped)
			}
		})
	}
}

func TestQueueDropsOldest(t *testing.T) {
	f := func(capacity, sent int, wantFirst string, wantDropped float64) {
		t.Helper()
		m, err := New(Options{Alertmanagers: []string{"http://127.0.0.1:1"}, QueueCapacity: capacity})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range alerts(sent, "Q") {
			m.Send(a)
		}
		if n := m.QueueLen(); n != min(capacity, sent) {
			t.Errorf("capacity %d, sent %d: queue %d", capacity, sent, n)
		}
		if got := m.next(); len(got) > 0 && got[0].Labels["host"] != wantFirst {
			t.Errorf("capacity %d, sent %d: head %s, want %s", capacity, sent, got[0].Labels["host"], wantFirst)
		}
		if v := value(m.metrics.dropped); v != wantDropped {
			t.Errorf("capacity %d, sent %d: dropped %v, want %v", capacity, sent, v, wantDropped)
		}
	}
	f(3, 2, "host-0", 0)
	f(3, 3, "host-0", 0)
	f(3, 5, "host-2", 2)
	f(1, 10, "host-9", 9)

	// A failed batch goes back to the head, still within capacity.
	m, _ := New(Options{Alertmanagers: []string{"http://127.0.0.1:1"}, QueueCapacity: 4})
	m.Send(alerts(3, "A")...)
	batch := m.next()
	m.Send(alerts(3, "B")...)
	m.requeue(batch)
	if got := m.next(); len(got) != 4 || got[0].Labels["alertname"] != "A" || got[0].Labels["host"] != "host-2" || got[1].Labels["alertname"] != "B" {
		t.Errorf("after requeue: %v", got)
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:9093", "ftp://am", "http://", "://x"} {
		if _, err := New(Options{Alertmanagers: []string{u}}); err == nil {
			t.Errorf("New accepted Alertmanager URL %q", u)
		}
	}
	m, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	m.Send(alerts(2, "Nowhere")...)
	if m.QueueLen() != 0 {
		t.Error("alerts queued without Alertmanagers")
	}
}

// value reads a counter or gauge.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}
