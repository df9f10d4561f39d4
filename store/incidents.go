package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/augur-sre/augur/ingest"
)

// Incident is one Alertmanager notification of an alert, as the webhook
// received it. Alertmanager resends notifications; the store keeps one per
// fingerprint, StartsAt and Status.
type Incident struct {
	Fingerprint  string            `json:"fingerprint"`
	Status       string            `json:"status"` // firing | resolved
	Entity       string            `json:"entity"`
	Name         string            `json:"name"`
	Signal       string            `json:"signal,omitempty"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
	Receiver     string            `json:"receiver,omitempty"`
	ReceivedAt   time.Time         `json:"receivedAt"`
	// Source is the incident's source as Incidents lists it: "alertmanager",
	// or "augur" for augur's own alerts routed back, which are predictions,
	// not failures, and must not be calibrated against (default alertmanager).
	Source string `json:"source,omitempty"`
}

func notificationKey(fp string, start time.Time, status string) []byte {
	return fmt.Appendf(nil, "%s|%s|%s", fp, start.UTC().Format(time.RFC3339Nano), status)
}

func (in *Incident) key() []byte { return notificationKey(in.Fingerprint, in.StartsAt, in.Status) }

// incidentIndex holds the stored incidents in memory, one per fingerprint
// and start, so that storing a notification costs O(1) and listing needs
// no decoding. It is loaded once by Open and updated by every write.
type incidentIndex struct {
	mu    sync.RWMutex
	byKey map[incidentKey]int
	list  []indexed
	// unsorted is set when list is not in listing order (by start, then
	// fingerprint): the next listing sorts it. Alertmanager mostly notifies
	// in that order, so listings rarely sort.
	unsorted bool
	// damaged counts the stored notifications that could not be decoded
	// when the index was loaded; first is the first of their errors.
	damaged int
	first   error
}

type incidentKey struct {
	fp    string
	start int64
}

type indexed struct {
	fp string
	ingest.Incident
}

// expiry is when an incident's retention starts: its end, or its start
// while it fires.
func (in *indexed) expiry() time.Time {
	if in.End.IsZero() {
		return in.Start
	}
	return in.End
}

// add merges notification n into the index; the caller holds mu.
func (x *incidentIndex) add(n *Incident) {
	if x.byKey == nil {
		x.byKey = map[incidentKey]int{}
	}
	k := incidentKey{n.Fingerprint, n.StartsAt.UnixNano()}
	i, ok := x.byKey[k]
	if !ok {
		i = len(x.list)
		x.byKey[k] = i
		src := n.Source
		if src == "" {
			src = "alertmanager"
		}
		x.list = append(x.list, indexed{n.Fingerprint, ingest.Incident{Entity: n.Entity, Name: n.Name, Signal: n.Signal, Start: n.StartsAt.UTC(), Source: src}})
		if i > 0 && listingOrder(x.list[i-1], x.list[i]) > 0 {
			x.unsorted = true
		}
	}
	if n.Status == "resolved" && !n.EndsAt.IsZero() {
		x.list[i].End = n.EndsAt.UTC()
	}
}

func listingOrder(a, b indexed) int {
	if c := a.Start.Compare(b.Start); c != 0 {
		return c
	}
	return cmp.Compare(a.fp, b.fp)
}

// sort puts list in listing order; the caller holds mu for writing.
func (x *incidentIndex) sort() {
	slices.SortFunc(x.list, listingOrder)
	for i, in := range x.list {
		x.byKey[incidentKey{in.fp, in.Start.UnixNano()}] = i
	}
	x.unsorted = false
}

// loadIncidents fills the index from tx. A notification that cannot be
// decoded is skipped, logged and counted, and Warnings reports it: the
// others are still listed.
func (s *Store) loadIncidents(tx *bolt.Tx) error {
	b := tx.Bucket(bucketIncidents)
	if b == nil {
		return nil
	}
	x := &s.index
	x.mu.Lock()
	defer x.mu.Unlock()
	return b.ForEach(func(k, v []byte) error {
		// Only the fields the index keeps: labels and annotations are not
		// decoded (a third of the start's time at 100k incidents).
		var n struct {
			Fingerprint string    `json:"fingerprint"`
			Status      string    `json:"status"`
			Entity      string    `json:"entity"`
			Name        string    `json:"name"`
			Signal      string    `json:"signal"`
			Source      string    `json:"source"`
			StartsAt    time.Time `json:"startsAt"`
			EndsAt      time.Time `json:"endsAt"`
		}
		if err := json.Unmarshal(v, &n); err != nil {
			x.damaged++
			s.errors.Inc()
			if x.first == nil {
				x.first = fmt.Errorf("cannot decode stored incident %q: %w", k, err)
			}
			s.opts.Logger.Error("cannot decode a stored incident; it is not listed", "file", s.path, "key", string(k), "err", err)
			return nil
		}
		x.add(&Incident{Fingerprint: n.Fingerprint, Status: n.Status, Entity: n.Entity, Name: n.Name, Signal: n.Signal, Source: n.Source, StartsAt: n.StartsAt, EndsAt: n.EndsAt})
		return nil
	})
}

// Warnings describes the stored data the store could not read: what
// listings of its incidents do not show.
func (s *Store) Warnings() []string {
	x := &s.index
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.damaged == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%d stored incident notifications in %s could not be decoded and are not listed (first: %v); restore %s from a backup to recover them", x.damaged, s.path, x.first, s.path)}
}

// AddIncidents stores the incidents not stored yet, all or none, in one
// durable transaction, and returns how many were new. It is idempotent on
// Fingerprint, StartsAt and Status. Its cost does not grow with the number
// of incidents stored.
func (s *Store) AddIncidents(incs []Incident) (added int, err error) {
	return s.addIncidents(incs, nil)
}

// addIncidents is AddIncidents that also runs also (when set) in the
// same transaction. Each new notification is appended to the log (see
// Log).
func (s *Store) addIncidents(incs []Incident, also func(*bolt.Tx) error) (added int, err error) {
	var fresh []int
	err = s.update(func(tx *bolt.Tx) error {
		fresh = fresh[:0]
		b, log := tx.Bucket(bucketIncidents), tx.Bucket(bucketLog)
		for i := range incs {
			k := incs[i].key()
			if b.Get(k) != nil {
				continue
			}
			v, err := json.Marshal(&incs[i])
			if err != nil {
				return err
			}
			if err := b.Put(k, v); err != nil {
				return err
			}
			if err := appendLog(log, k); err != nil {
				return err
			}
			fresh = append(fresh, i)
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cannot store incidents: %w", err)
	}
	x := &s.index
	x.mu.Lock()
	for _, i := range fresh {
		x.add(&incs[i])
	}
	x.mu.Unlock()
	return len(fresh), nil
}

// Notifications returns every stored notification, oldest start first.
func (s *Store) Notifications() ([]Incident, error) {
	var out []Incident
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIncidents).ForEach(func(k, v []byte) error {
			var in Incident
			if err := json.Unmarshal(v, &in); err != nil {
				return fmt.Errorf("cannot decode incident %q: %w", k, err)
			}
			out = append(out, in)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read incidents: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].StartsAt.Equal(out[j].StartsAt) {
			return out[i].StartsAt.Before(out[j].StartsAt)
		}
		return out[i].Fingerprint < out[j].Fingerprint
	})
	return out, nil
}

// Incidents implements ingest.IncidentLister: the alerts notified through
// the webhook, one incident per fingerprint and start (a resolved
// notification gives its end), that overlap [start, end], oldest start
// first. An incident still firing has a zero End. It reads the in-memory
// index, so an incident is listed as soon as AddIncidents returned.
func (s *Store) Incidents(ctx context.Context, start, end time.Time) ([]ingest.Incident, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	x := &s.index
	x.mu.Lock()
	if x.unsorted {
		x.sort()
	}
	x.mu.Unlock()
	x.mu.RLock()
	defer x.mu.RUnlock()
	// Sorted by start: those after end are a tail.
	n, _ := slices.BinarySearchFunc(x.list, end, func(in indexed, end time.Time) int {
		if in.Start.After(end) {
			return 1
		}
		return -1
	})
	out := make([]ingest.Incident, 0, n)
	for _, in := range x.list[:n] {
		if !in.End.IsZero() && in.End.Before(start) {
			continue
		}
		out = append(out, in.Incident)
	}
	return out, nil
}

// pruneBatch bounds the incidents one pruning transaction deletes, so that
// pruning never holds the store's writer for long.
const pruneBatch = 1000

// Prune deletes the incidents whose retention (Options.IncidentRetention)
// has passed, in transactions of at most pruneBatch incidents, and returns
// how many it deleted.
func (s *Store) Prune(ctx context.Context) (int, error) {
	cutoff := s.opts.Now().Add(-s.opts.IncidentRetention)
	x := &s.index
	total := 0
	for ctx.Err() == nil {
		var old []indexed
		x.mu.RLock()
		for _, in := range x.list {
			if in.expiry().Before(cutoff) {
				old = append(old, in)
				if len(old) == pruneBatch {
					break
				}
			}
		}
		x.mu.RUnlock()
		if len(old) == 0 {
			break
		}
		err := s.update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketIncidents)
			for _, in := range old {
				for _, status := range []string{"firing", "resolved"} {
					if err := b.Delete(notificationKey(in.fp, in.Start, status)); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("cannot prune incidents: %w", err)
		}
		x.mu.Lock()
		for _, in := range old {
			delete(x.byKey, incidentKey{in.fp, in.Start.UnixNano()})
		}
		kept := x.list[:0]
		for _, in := range x.list {
			if _, ok := x.byKey[incidentKey{in.fp, in.Start.UnixNano()}]; ok {
				x.byKey[incidentKey{in.fp, in.Start.UnixNano()}] = len(kept)
				kept = append(kept, in)
			}
		}
		clear(x.list[len(kept):])
		x.list = kept
		x.mu.Unlock()
		total += len(old)
	}
	if total > 0 {
		if err := s.pruneLog(); err != nil {
			return total, err
		}
	}
	return total, ctx.Err()
}

// Run prunes expired incidents at start and every hour until ctx is done.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := s.Prune(ctx)
		switch {
		case err != nil && !errors.Is(err, context.Canceled):
			s.opts.Logger.Error("cannot prune incidents", "err", err)
		case n > 0:
			s.opts.Logger.Info("pruned incidents past their retention", "deleted", n, "retention", s.opts.IncidentRetention)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Lister combines incident listers: every incident any of them knows.
// Nil listers are skipped; it returns nil when none is left.
//
// When some listers fail, the combined lister returns the others'
// incidents together with an error naming the failures, so that a caller
// serves what is known and says what is not; when all fail, no incidents.
func Lister(ls ...ingest.IncidentLister) ingest.IncidentLister {
	var kept multiLister
	for _, l := range ls {
		if l != nil {
			kept = append(kept, l)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return kept
}

type multiLister []ingest.IncidentLister

func (m multiLister) Incidents(ctx context.Context, start, end time.Time) ([]ingest.Incident, error) {
	out := []ingest.Incident{}
	var errs []error
	for _, l := range m {
		got, err := l.Incidents(ctx, start, end)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, got...)
	}
	if len(errs) == len(m) {
		return nil, errors.Join(errs...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	if len(errs) > 0 {
		return out, fmt.Errorf("incidents are incomplete: %w", errors.Join(errs...))
	}
	return out, nil
}
