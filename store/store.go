// Package store is augur's embedded, durable state under --storage.path: the
// incidents Alertmanager posted to the webhook and the alert rules' state.
// It is one bbolt file (augur.db) that carries a format marker; a file that
// is not bbolt, is corrupt, or is a bbolt file of another program is refused
// with an error and never written to. The series themselves stay in the
// systems augur reads from.
//
// A Store is safe for concurrent use. Every write is committed and fsynced
// before the method returns, so a caller may acknowledge it.
package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/augur-sre/augur/ingest"
)

// FileName is the name of the store's file inside the storage folder.
const FileName = "augur.db"

// format marks a file as augur's store; bump the version on incompatible changes.
const format = "augur-store/1"

var (
	bucketMeta      = []byte("meta")
	bucketIncidents = []byte("incidents")
	bucketAlerts    = []byte("alerts")
	bucketSnapshots = []byte("snapshots")
	keyFormat       = []byte("format")
)

// ErrForeign is returned by Open for a file that is not augur's store: not a
// bbolt file, a corrupt one, or a bbolt file written by another program.
var ErrForeign = errors.New("not an augur store")

// Store is augur's embedded store.
type Store struct {
	db   *bolt.DB
	path string
}

// Open opens (creating if needed) the store in dir. It refuses, without
// writing to it, a file that is not augur's store, and fails after timeout
// when another process holds the file.
func Open(dir string, timeout time.Duration) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create storage folder: %w", err)
	}
	path := filepath.Join(dir, FileName)
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("cannot open store %s: it is a directory", path)
	case err == nil && fi.Size() > 0:
		// Check the file read-only before opening it for writing, so that
		// nothing is ever written to a file that is not ours.
		if err := check(path, timeout); err != nil {
			return nil, err
		}
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("cannot open store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		return nil, openError(path, err)
	}
	s := &Store{db: db, path: path}
	if err := db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if k, _ := tx.Cursor().First(); k != nil {
				return fmt.Errorf("%w: it holds bucket %q of another program", ErrForeign, k)
			}
			var err error
			if meta, err = tx.CreateBucket(bucketMeta); err != nil {
				return err
			}
			if err := meta.Put(keyFormat, []byte(format)); err != nil {
				return err
			}
		}
		if f := meta.Get(keyFormat); !bytes.Equal(f, []byte(format)) {
			return fmt.Errorf("%w: format %q, want %q", ErrForeign, f, format)
		}
		for _, b := range [][]byte{bucketIncidents, bucketAlerts, bucketSnapshots} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot open store %s: %w (move the file away or choose another --storage.path; augur does not overwrite it)", path, err)
	}
	return s, nil
}

// check opens an existing file read-only and verifies it is augur's store.
func check(path string, timeout time.Duration) (err error) {
	defer func() {
		// bbolt may panic on a corrupt page: report it as such.
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot open store %s: %w: corrupt file (%v); move it away or choose another --storage.path, augur does not overwrite it", path, ErrForeign, r)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: true})
	if err != nil {
		return openError(path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if k, _ := tx.Cursor().First(); k != nil {
				return fmt.Errorf("%w: it holds bucket %q of another program", ErrForeign, k)
			}
			return nil // an empty bbolt file: ours to initialise
		}
		if f := meta.Get(keyFormat); !bytes.Equal(f, []byte(format)) {
			return fmt.Errorf("%w: format %q, want %q", ErrForeign, f, format)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot open store %s: %w (move the file away or choose another --storage.path; augur does not overwrite it)", path, err)
	}
	return nil
}

func openError(path string, err error) error {
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return fmt.Errorf("cannot open store %s: another process holds it (is another augur running on this --storage.path?): %w", path, err)
	case errors.Is(err, bolt.ErrInvalid), errors.Is(err, bolt.ErrVersionMismatch), errors.Is(err, bolt.ErrChecksum):
		return fmt.Errorf("cannot open store %s: %w: the file is not a bbolt database or is corrupt (%v); move it away or choose another --storage.path, augur does not overwrite it", path, ErrForeign, err)
	}
	return fmt.Errorf("cannot open store %s: %w", path, err)
}

// Path returns the store's file.
func (s *Store) Path() string { return s.path }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

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

func (in *Incident) key() []byte {
	return fmt.Appendf(nil, "%s|%s|%s", in.Fingerprint, in.StartsAt.UTC().Format(time.RFC3339Nano), in.Status)
}

// AddIncidents stores the incidents not stored yet, in one durable
// transaction, and returns how many were new. It is idempotent on
// Fingerprint, StartsAt and Status.
func (s *Store) AddIncidents(incs []Incident) (added int, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIncidents)
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
			added++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cannot store incidents: %w", err)
	}
	return added, nil
}

// Notifications returns every stored notification, oldest start first.
func (s *Store) Notifications() ([]Incident, error) {
	var out []Incident
	err := s.db.View(func(tx *bolt.Tx) error {
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
// notification gives its end), that overlap [start, end]. An incident
// still firing has a zero End.
func (s *Store) Incidents(ctx context.Context, start, end time.Time) ([]ingest.Incident, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ns, err := s.Notifications()
	if err != nil {
		return nil, err
	}
	type key struct {
		fp string
		t  int64
	}
	idx := map[key]int{}
	var out []ingest.Incident
	for _, n := range ns {
		k := key{n.Fingerprint, n.StartsAt.UnixNano()}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			src := n.Source
			if src == "" {
				src = "alertmanager"
			}
			out = append(out, ingest.Incident{Entity: n.Entity, Name: n.Name, Signal: n.Signal, Start: n.StartsAt.UTC(), Source: src})
		}
		if n.Status == "resolved" && !n.EndsAt.IsZero() {
			out[i].End = n.EndsAt.UTC()
		}
	}
	kept := out[:0]
	for _, in := range out {
		if in.Start.After(end) || (!in.End.IsZero() && in.End.Before(start)) {
			continue
		}
		kept = append(kept, in)
	}
	return kept, nil
}

// LoadAlertStates returns the saved alert states by key.
func (s *Store) LoadAlertStates() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAlerts).ForEach(func(k, v []byte) error {
			out[string(k)] = bytes.Clone(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read alert state: %w", err)
	}
	return out, nil
}

// SaveAlertStates replaces the saved alert states with states, durably.
func (s *Store) SaveAlertStates(states map[string][]byte) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketAlerts); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bucketAlerts)
		if err != nil {
			return err
		}
		for k, v := range states {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot save alert state: %w", err)
	}
	return nil
}

// SaveSnapshot stores the named snapshot (e.g. the engine's models),
// replacing the previous one, durably.
func (s *Store) SaveSnapshot(name string, data []byte) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSnapshots).Put([]byte(name), data)
	})
	if err != nil {
		return fmt.Errorf("cannot save snapshot %q: %w", name, err)
	}
	return nil
}

// LoadSnapshot returns the named snapshot, or nil when there is none.
func (s *Store) LoadSnapshot(name string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		out = bytes.Clone(tx.Bucket(bucketSnapshots).Get([]byte(name)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read snapshot %q: %w", name, err)
	}
	return out, nil
}

// Lister combines incident listers: every incident any of them knows.
// Nil listers are skipped; it returns nil when none is left.
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
	var out []ingest.Incident
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
	// Some listers answered: their incidents beat none at all.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}
