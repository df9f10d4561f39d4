// Package store is augur's embedded, durable state under --storage.path: the
// incidents Alertmanager posted to the webhook (of this replica or, read
// from their logs, of the others of a cluster) and the alert rules' state.
// It is one bbolt file (augur.db) that carries a format marker.
//
// The store fails safe. Before its first write on each start, Open reads
// the whole file read-only: bbolt's consistency check (Tx.Check), every key
// and value, the format marker. A file that is not bbolt, is damaged, or is
// a bbolt file of another program is refused with an error that names the
// file and the way out, and is never written to. A file that passes is
// copied to augur.db.bak before anything is written, so a later migration
// or damage can be undone by restoring it. Reads and writes after that turn
// a damaged page into an error (counted in augur_storage_errors_total), not a
// crash. The series themselves stay in the systems augur reads from.
//
// A Store is safe for concurrent use. Every write is committed and fsynced
// before the method returns, so a caller may acknowledge it.
package store

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
)

// FileName is the name of the store's file inside the storage folder.
const FileName = "augur.db"

// BackupName is the name of the copy of the store, taken at every start
// once the file passed its check and before anything is written to it.
const BackupName = FileName + ".bak"

// format marks a file as augur's store; bump the version on incompatible
// changes (Open backs the file up before it migrates it).
const format = "augur-store/1"

var (
	bucketMeta      = []byte("meta")
	bucketIncidents = []byte("incidents")
	bucketAlerts    = []byte("alerts")
	bucketSnapshots = []byte("snapshots")
	bucketLog       = []byte("incident_log")
	bucketPeers     = []byte("peer_logs")
	keyFormat       = []byte("format")
	keyID           = []byte("id")
)

// ErrForeign is returned by Open for a file that is not augur's store: not a
// bbolt file, or a bbolt file written by another program.
var ErrForeign = errors.New("not an augur store")

// ErrCorrupt is returned for a store whose file is damaged: by Open when the
// file fails its check, by reads and writes that meet a damaged page.
var ErrCorrupt = errors.New("the store's file is damaged")

// Options configures a Store.
type Options struct {
	// Timeout bounds the wait for another process's lock on the file
	// (0: 5 s).
	Timeout time.Duration
	// IncidentRetention is how long an incident is kept after it ended
	// (after it started while it fires); 0: 90 days. Run prunes the older.
	IncidentRetention time.Duration
	// Registerer, if set, receives augur_storage_errors_total.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Now is the clock of the retention; default time.Now.
	Now func() time.Time
}

// Store is augur's embedded store.
type Store struct {
	db     *bolt.DB
	path   string
	opts   Options
	errors prometheus.Counter
	index  incidentIndex
}

// Open opens (creating if needed) the store in dir. It refuses, without
// writing to it, a file that is not augur's store or that fails its check,
// and fails after o.Timeout when another process holds the file.
func Open(dir string, o Options) (*Store, error) {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.IncidentRetention <= 0 {
		o.IncidentRetention = 90 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Logger = o.Logger.With("component", "store")
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Store{
		path: filepath.Join(dir, FileName),
		opts: o,
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "augur_storage_errors_total",
			Help: "Reads and writes of augur's store (--storage.path) that failed, and stored records that could not be decoded.",
		}),
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(s.errors); err != nil {
			return nil, fmt.Errorf("cannot register the store's metrics: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create storage folder: %w", err)
	}
	if err := s.check(); err != nil {
		s.errors.Inc()
		return nil, err
	}
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: o.Timeout})
	if err != nil {
		return nil, s.openError(err)
	}
	s.db = db
	if err := s.update(initialise); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot open store %s: %w", s.path, err)
	}
	return s, nil
}

// check verifies an existing file read-only and, when it passes, loads the
// incident index and backs the file up.
func (s *Store) check() error {
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("cannot open store: %w", err)
	case fi.IsDir():
		return fmt.Errorf("cannot open store %s: it is a directory", s.path)
	case fi.Size() == 0:
		// An empty file is a store whose creation was interrupted, ours
		// to initialise, unless a backup says there was data.
		backup := filepath.Join(filepath.Dir(s.path), BackupName)
		if b, err := os.Stat(backup); err == nil && b.Size() > 0 {
			return s.refusal(fmt.Errorf("%w: it is empty but its backup %s is not", ErrCorrupt, backup))
		}
		return nil
	}
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: s.opts.Timeout, ReadOnly: true})
	if err != nil {
		return s.openError(err)
	}
	defer db.Close()
	err = guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			if tx.Size() > fi.Size() {
				return fmt.Errorf("%w: truncated: %d bytes, the database spans %d", ErrCorrupt, fi.Size(), tx.Size())
			}
			if err := checkFormat(tx); err != nil {
				return err
			}
			// Reading every key and value here, where a fault is recovered,
			// keeps Tx.Check (which reads in a goroutine of its own) from
			// crashing on a damaged page.
			if err := readAll(tx.Cursor(), 0); err != nil {
				return err
			}
			// Drain the check to its end even after its first error: it
			// goes on reading the mapped file after a send, and returning
			// would close the database under it (a fault on unmapped memory
			// in its goroutine, where it cannot be recovered).
			var first error
			for err := range tx.Check() {
				if first == nil {
					first = err
				}
			}
			if first != nil {
				return fmt.Errorf("%w: %v", ErrCorrupt, first)
			}
			if err := s.loadIncidents(tx); err != nil {
				return err
			}
			return backup(tx, filepath.Join(filepath.Dir(s.path), BackupName))
		})
	})
	if err != nil {
		if !errors.Is(err, ErrForeign) && !errors.Is(err, ErrCorrupt) {
			return fmt.Errorf("cannot open store %s: %w", s.path, err)
		}
		return s.refusal(err)
	}
	return nil
}

// refusal is the error for a file that is not augur's or is damaged: it
// names the file and the ways out.
func (s *Store) refusal(err error) error {
	backup := filepath.Join(filepath.Dir(s.path), BackupName)
	way := "move it away or choose another --storage.path"
	if errors.Is(err, ErrCorrupt) {
		if _, e := os.Stat(backup); e == nil {
			way = fmt.Sprintf("move it aside (mv %s %s.damaged) and restore the backup taken at the last start (cp %s %s), or move both away to start with an empty store", s.path, s.path, backup, s.path)
		} else {
			way = fmt.Sprintf("move it aside (mv %s %s.damaged) and restore a backup of it, or start with an empty store", s.path, s.path)
		}
	}
	return fmt.Errorf("cannot open store %s: %w; augur does not overwrite it: %s", s.path, err, way)
}

// checkFormat accepts augur's store and an empty bbolt file.
func checkFormat(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if k, _ := tx.Cursor().First(); k != nil {
			return fmt.Errorf("%w: it holds bucket %q of another program", ErrForeign, k)
		}
		return nil
	}
	if f := meta.Get(keyFormat); !bytes.Equal(f, []byte(format)) {
		return fmt.Errorf("%w: format %q, want %q", ErrForeign, f, format)
	}
	return nil
}

// initialise marks a new file as augur's store and creates its buckets.
func initialise(tx *bolt.Tx) error {
	if err := checkFormat(tx); err != nil {
		return err
	}
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if meta.Get(keyFormat) == nil {
		if err := meta.Put(keyFormat, []byte(format)); err != nil {
			return err
		}
	}
	if meta.Get(keyID) == nil {
		if err := meta.Put(keyID, []byte(rand.Text())); err != nil {
			return err
		}
	}
	for _, b := range [][]byte{bucketIncidents, bucketAlerts, bucketSnapshots, bucketPeers} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return initialiseLog(tx)
}

// readAll reads every key and value under c, descending into buckets.
func readAll(c *bolt.Cursor, depth int) error {
	if depth > 8 {
		return fmt.Errorf("%w: buckets nested deeper than augur writes them", ErrCorrupt)
	}
	var sink byte
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) > 0 {
			sink ^= k[len(k)-1]
		}
		if v == nil {
			b := c.Bucket().Bucket(k)
			if b == nil {
				continue
			}
			if err := readAll(b.Cursor(), depth+1); err != nil {
				return err
			}
			continue
		}
		if len(v) > 0 {
			sink ^= v[len(v)-1] ^ v[0]
		}
	}
	runtime.KeepAlive(sink)
	return nil
}

// backup writes a consistent copy of tx's database to path, atomically.
func backup(tx *bolt.Tx, path string) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("cannot back up the store: %w", err)
	}
	_, err = tx.WriteTo(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cannot back up the store to %s: %w", path, err)
	}
	return nil
}

// guard runs f with memory faults turned into panics and recovers them:
// bbolt reads its pages through mmap, so a damaged page would otherwise
// crash the process.
func guard(f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: reading it failed (%v)", ErrCorrupt, r)
		}
	}()
	return f()
}

// view runs a read transaction, counting its failure.
func (s *Store) view(f func(*bolt.Tx) error) error {
	return s.counted(guard(func() error { return s.db.View(f) }))
}

// update runs a durable write transaction, counting its failure.
func (s *Store) update(f func(*bolt.Tx) error) error {
	return s.counted(guard(func() error { return s.db.Update(f) }))
}

func (s *Store) counted(err error) error {
	if err != nil {
		s.errors.Inc()
	}
	return err
}

func (s *Store) openError(err error) error {
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return fmt.Errorf("cannot open store %s: another process holds it (is another augur running on this --storage.path?): %w", s.path, err)
	case errors.Is(err, bolt.ErrInvalid), errors.Is(err, bolt.ErrVersionMismatch), errors.Is(err, bolt.ErrChecksum):
		return s.refusal(fmt.Errorf("%w: the file is not a bbolt database or is corrupt (%v)", ErrForeign, err))
	}
	return fmt.Errorf("cannot open store %s: %w", s.path, err)
}

// Path returns the store's file.
func (s *Store) Path() string { return s.path }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// LoadAlertStates returns the saved alert states by key.
func (s *Store) LoadAlertStates() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.view(func(tx *bolt.Tx) error {
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
	err := s.update(func(tx *bolt.Tx) error {
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
	err := s.update(func(tx *bolt.Tx) error {
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
	err := s.view(func(tx *bolt.Tx) error {
		out = bytes.Clone(tx.Bucket(bucketSnapshots).Get([]byte(name)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read snapshot %q: %w", name, err)
	}
	return out, nil
}
