// Package notifier sends augur's alerts to Alertmanager's API v2 the way
// Prometheus' notifier does: a bounded queue that drops the oldest alerts
// when full (and counts them), batches of at most 256 alerts posted to every
// configured Alertmanager. Unlike Prometheus, a batch that no Alertmanager
// accepted because of a server (5xx) or transport error goes back to the
// head of the queue and is retried with backoff, so alerts survive a short
// Alertmanager outage; a 4xx is not retried (Alertmanager stores the valid
// alerts of a batch even when it rejects others).
package notifier

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Alert is an alert as Alertmanager's POST /api/v2/alerts takes it.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Options configures a Manager.
type Options struct {
	// Alertmanagers are base URLs (http://host:9093, maybe with a path
	// prefix); alerts are posted to <url>/api/v2/alerts.
	Alertmanagers []string
	// QueueCapacity bounds the queue (default 10,000 alerts).
	QueueCapacity int
	// MaxBatch is the most alerts per request (default 256).
	MaxBatch int
	// Timeout bounds one request (default 10 s).
	Timeout time.Duration
	// Backoff is the first pause before a retry (default 1 s); it doubles
	// up to MaxBackoff (default 30 s).
	Backoff, MaxBackoff time.Duration
	// Do sends a request; default an http.Client with Timeout. Inject
	// credentials, TLS or faults here.
	Do         func(*http.Request) (*http.Response, error)
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Manager queues alerts and sends them. Send is safe for concurrent use;
// Run must be called once.
type Manager struct {
	opts    Options
	urls    []string
	logger  *slog.Logger
	metrics *metrics

	mu    sync.Mutex
	queue []Alert
	more  chan struct{}
}

type metrics struct {
	sent, errors  *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	dropped       prometheus.Counter
	queueLength   prometheus.GaugeFunc
	capacity      prometheus.Gauge
	alertmanagers prometheus.Gauge
}

// New validates the options and returns a Manager.
func New(o Options) (*Manager, error) {
	if o.QueueCapacity <= 0 {
		o.QueueCapacity = 10000
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = max(30*time.Second, o.Backoff)
	}
	if o.Do == nil {
		c := &http.Client{Timeout: o.Timeout}
		o.Do = c.Do
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{opts: o, logger: o.Logger.With("component", "notifier"), more: make(chan struct{}, 1)}
	for _, s := range o.Alertmanagers {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("cannot use Alertmanager URL %q: want http(s)://host:port", s)
		}
		m.urls = append(m.urls, strings.TrimSuffix(u.String(), "/")+"/api/v2/alerts")
	}
	m.metrics = &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "augur_notifications_sent_total", Help: "Alerts sent to an Alertmanager.",
		}, []string{"alertmanager"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "augur_notifications_errors_total", Help: "Alerts an Alertmanager did not accept (each attempt counts).",
		}, []string{"alertmanager"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "augur_notifications_latency_seconds", Help: "Time taken to post a batch of alerts to an Alertmanager.",
			Buckets: prometheus.DefBuckets,
		}, []string{"alertmanager"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "augur_notifications_dropped_total", Help: "Alerts dropped: the queue was full (oldest first) or every Alertmanager refused them with a 4xx.",
		}),
		capacity: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "augur_notifications_queue_capacity", Help: "Capacity of the alert queue.",
		}),
		alertmanagers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "augur_notifications_alertmanagers", Help: "Number of Alertmanagers alerts are sent to.",
		}),
	}
	m.metrics.queueLength = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "augur_notifications_queue_length", Help: "Alerts waiting in the queue.",
	}, func() float64 { return float64(m.QueueLen()) })
	m.metrics.capacity.Set(float64(o.QueueCapacity))
	m.metrics.alertmanagers.Set(float64(len(m.urls)))
	for _, u := range m.urls {
		m.metrics.sent.WithLabelValues(u)
		m.metrics.errors.WithLabelValues(u)
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{m.metrics.sent, m.metrics.errors, m.metrics.latency, m.metrics.dropped, m.metrics.queueLength, m.metrics.capacity, m.metrics.alertmanagers} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("cannot register notifier metrics: %w", err)
			}
		}
	}
	return m, nil
}

// QueueLen returns the number of alerts waiting.
func (m *Manager) QueueLen() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.queue)
}

// Send queues alerts; when the queue is full the oldest are dropped.
// Without Alertmanagers it does nothing.
func (m *Manager) Send(alerts ...Alert) {
	if len(m.urls) == 0 || len(alerts) == 0 {
		return
	}
	m.mu.Lock()
	m.queue = append(m.queue, alerts...)
	m.trim()
	m.mu.Unlock()
	m.wake()
}

// trim drops the oldest alerts beyond capacity; the caller holds m.mu.
func (m *Manager) trim() {
	if over := len(m.queue) - m.opts.QueueCapacity; over > 0 {
		m.queue = append(m.queue[:0], m.queue[over:]...)
		m.metrics.dropped.Add(float64(over))
		m.logger.Warn("alert queue full, dropped the oldest alerts", "dropped", over)
	}
}

func (m *Manager) wake() {
	select {
	case m.more <- struct{}{}:
	default:
	}
}

// next takes the next batch off the queue.
func (m *Manager) next() []Alert {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := min(len(m.queue), m.opts.MaxBatch)
	batch := append([]Alert(nil), m.queue[:n]...)
	m.queue = append(m.queue[:0], m.queue[n:]...)
	return batch
}

// requeue puts a batch back at the head of the queue.
func (m *Manager) requeue(batch []Alert) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.queue = append(batch, m.queue...)
	m.trim()
}

// Run sends queued alerts until ctx is done; it returns nil then.
func (m *Manager) Run(ctx context.Context) error {
	backoff := m.opts.Backoff
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.more:
		}
		for {
			batch := m.next()
			if len(batch) == 0 {
				break
			}
			if !m.sendAll(ctx, batch) {
				backoff = m.opts.Backoff
				continue
			}
			m.requeue(batch)
			m.logger.Warn("no Alertmanager accepted the alerts, retrying", "alerts", len(batch), "in", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, m.opts.MaxBackoff)
		}
	}
}

// sendAll posts batch to every Alertmanager and reports whether it should
// be retried: no Alertmanager accepted it and at least one failed in a way
// worth retrying (5xx or transport error).
func (m *Manager) sendAll(ctx context.Context, batch []Alert) (retry bool) {
	body, err := json.Marshal(batch)
	if err != nil {
		m.logger.Error("cannot encode alerts", "err", err)
		return false
	}
	type outcome struct{ ok, retry bool }
	res := make([]outcome, len(m.urls))
	var wg sync.WaitGroup
	for i, u := range m.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			r, err := m.post(ctx, u, body)
			m.metrics.latency.WithLabelValues(u).Observe(time.Since(start).Seconds())
			if err != nil {
				m.metrics.errors.WithLabelValues(u).Add(float64(len(batch)))
				m.logger.Warn("cannot send alerts", "alertmanager", u, "alerts", len(batch), "retry", r, "err", err)
				res[i] = outcome{retry: r}
				return
			}
			m.metrics.sent.WithLabelValues(u).Add(float64(len(batch)))
			res[i] = outcome{ok: true}
		}()
	}
	wg.Wait()
	anyRetry := false
	for _, o := range res {
		if o.ok {
			return false
		}
		anyRetry = anyRetry || o.retry
	}
	if !anyRetry {
		m.metrics.dropped.Add(float64(len(batch)))
	}
	return anyRetry && ctx.Err() == nil
}

// post sends one request; retry says whether its failure is worth retrying.
func (m *Manager) post(ctx context.Context, u string, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "augur")
	resp, err := m.opts.Do(req)
	if err != nil {
		return true, fmt.Errorf("cannot post alerts: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	err = fmt.Errorf("alertmanager answered %s: %s", resp.Status, bytes.TrimSpace(msg))
	return resp.StatusCode/100 == 5, err
}
