package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/augur-sre/augur/store"
)

// IncidentLogPath serves a replica's incident log (store.Store.Log) to
// the other replicas of a cluster, which copy it: every replica keeps
// every incident, whichever replica Alertmanager posted it to.
//
// Every replica keeps them all, rather than each the incidents of the
// entities it owns, because ownership moves (a member joins, leaves or
// stops heartbeating) and the new owner of an entity must calibrate
// against its past failures; incidents are few. The others pull, rather
// than the receiving replica pushing, so that a replica that was down or
// restarting, or is new, reads what it missed as soon as it is up: the
// webhook's 2xx means the incident is stored in a log every other
// replica reads.
const IncidentLogPath = "/api/v1/incidents/log"

// maxLogPage bounds a page of the incident log; defaultLogPage is a
// page's size when the request names none, and what IncidentSync asks.
const (
	maxLogPage     = 10000
	defaultLogPage = 1000
)

// IncidentLog is the log of the notifications a store holds in the order
// it stored them (*store.Store).
type IncidentLog interface {
	Log(after uint64, limit int) (store.Cursor, []store.Incident, error)
}

// IncidentLogPage is the data of IncidentLogPath's answer: the
// notifications after the requested sequence number, in the store's own
// encoding (which its file keeps stable across versions), and the cursor
// past them.
type IncidentLogPage struct {
	Cursor        store.Cursor     `json:"cursor"`
	Notifications []store.Incident `json:"notifications"`
}

// ServeIncidentLog serves l at IncidentLogPath (GET, parameters after
// and limit). Call it before serving.
func (a *API) ServeIncidentLog(l IncidentLog) {
	a.echo.GET(IncidentLogPath, wrap(func(c echo.Context) result {
		var after uint64
		if s := c.QueryParam("after"); s != "" {
			var err error
			if after, err = strconv.ParseUint(s, 10, 64); err != nil {
				return result{err: badData("invalid parameter \"after\": %q is not a sequence number", s)}
			}
		}
		limit, aerr := parseLimitValue(c.QueryParam("limit"))
		switch {
		case aerr != nil:
			return result{err: aerr}
		case limit == 0:
			limit = defaultLogPage
		case limit > maxLogPage:
			return result{err: badData("invalid parameter \"limit\": %d, at most %d", limit, maxLogPage)}
		}
		cur, incs, err := l.Log(after, limit)
		if err != nil {
			return result{err: &apiError{kind: kindInternal, err: err}}
		}
		if incs == nil {
			incs = []store.Incident{}
		}
		return result{data: IncidentLogPage{Cursor: cur, Notifications: incs}}
	}))
}

// PeerIncidentStore is where IncidentSync keeps what it copied and how
// far it read each other store's log (*store.Store).
type PeerIncidentStore interface {
	ReadTo(store string) (seq uint64, err error)
	AddPeerIncidents(c store.Cursor, incs []store.Incident) (added int, err error)
}

// IncidentSyncOptions configures an IncidentSync.
type IncidentSyncOptions struct {
	Store PeerIncidentStore
	// Peers returns the API base URLs of the other replicas to read.
	Peers func() []string
	// Client asks them (--cluster.peer-http-config.file); default
	// http.DefaultClient.
	Client *http.Client
	// Interval is how often every peer is read; Timeout bounds one
	// request.
	Interval, Timeout time.Duration
	Registerer        prometheus.Registerer
	Logger            *slog.Logger
}

// IncidentSync copies the other replicas' incident logs into this
// replica's store (see IncidentLogPath), each from where it last read it.
type IncidentSync struct {
	opts IncidentSyncOptions
	// stores are the IDs of the stores that last answered at the peers'
	// URLs; Run's alone.
	stores  map[string]string
	copied  prometheus.Counter
	failed  prometheus.Counter
	failing map[string]bool
}

// NewIncidentSync returns an IncidentSync; Run runs it.
func NewIncidentSync(o IncidentSyncOptions) (*IncidentSync, error) {
	if o.Store == nil || o.Peers == nil || o.Interval <= 0 || o.Timeout <= 0 {
		return nil, errors.New("cannot copy incidents between replicas: no store, peers, interval or timeout")
	}
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Logger = o.Logger.With("component", "incident-sync")
	s := &IncidentSync{opts: o, stores: map[string]string{}, failing: map[string]bool{},
		copied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "augur_incident_sync_notifications_total",
			Help: "Incident notifications copied from the other replicas' logs that this replica did not hold yet.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "augur_incident_sync_failures_total",
			Help: "Reads of another replica's incident log that failed; the next read resumes where the last good one ended.",
		}),
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{s.copied, s.failed} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("cannot register the incident sync's metrics: %w", err)
			}
		}
	}
	return s, nil
}

// Run reads every peer at once and then every Interval until ctx is done.
func (s *IncidentSync) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		for _, p := range s.opts.Peers() {
			err := s.read(ctx, p)
			switch {
			case ctx.Err() != nil:
				return nil
			case err != nil:
				s.failed.Inc()
				if !s.failing[p] {
					s.opts.Logger.Warn("cannot read another replica's incidents; retrying", "peer", p, "every", s.opts.Interval, "err", err)
				}
			case s.failing[p]:
				s.opts.Logger.Info("reading another replica's incidents again", "peer", p)
			}
			s.failing[p] = err != nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// read copies the log of the store at peer from where this replica last
// read that store's log to its end.
func (s *IncidentSync) read(ctx context.Context, peer string) error {
	id := s.stores[peer]
	var seq uint64
	if id != "" {
		var err error
		if seq, err = s.opts.Store.ReadTo(id); err != nil {
			return err
		}
	}
	for {
		page, err := s.page(ctx, peer, seq)
		if err != nil {
			return err
		}
		if page.Cursor.Store != id {
			// The first answer from peer, or another store answers
			// there (its file was replaced): read that store's log from
			// where this replica left it, wherever it answered then.
			if id != "" {
				s.opts.Logger.Info("another store answers at a replica's address; reading its incidents", "peer", peer, "store", page.Cursor.Store, "was", id)
			}
			id = page.Cursor.Store
			s.stores[peer] = id
			next, err := s.opts.Store.ReadTo(id)
			if err != nil {
				return err
			}
			if next != seq {
				seq = next
				continue
			}
		}
		if page.Cursor.Seq == seq {
			return nil // nothing new: no write
		}
		added, err := s.opts.Store.AddPeerIncidents(page.Cursor, page.Notifications)
		if err != nil {
			return err
		}
		if added > 0 {
			s.copied.Add(float64(added))
			s.opts.Logger.Info("copied another replica's incidents", "peer", peer, "read", len(page.Notifications), "new", added)
		}
		if len(page.Notifications) < defaultLogPage {
			return nil
		}
		seq = page.Cursor.Seq
	}
}

func (s *IncidentSync) page(ctx context.Context, peer string, after uint64) (IncidentLogPage, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	u := strings.TrimSuffix(peer, "/") + IncidentLogPath + "?" + url.Values{"after": {strconv.FormatUint(after, 10)}, "limit": {strconv.Itoa(defaultLogPage)}}.Encode()
	// A page holds at most defaultLogPage notifications within the
	// webhook's bounds on each (64 KiB of annotations, labels...).
	data, _, err := getPeer(ctx, s.opts.Client, u, defaultLogPage<<20)
	if err != nil {
		return IncidentLogPage{}, err
	}
	var page IncidentLogPage
	if err := json.Unmarshal(data, &page); err != nil {
		return IncidentLogPage{}, fmt.Errorf("cannot decode the incident log: %w", err)
	}
	return page, nil
}
