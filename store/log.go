package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"
)

// The incident log numbers the notifications in the order this store
// received them, so that the other replicas of a cluster read what is
// new since they last asked (Log) and store it too (AddPeerIncidents):
// every replica keeps every incident, whichever replica Alertmanager
// posted it to. Its keys are sequence numbers (8 bytes, big-endian),
// its values the notifications' keys in the incidents bucket.

// Cursor is a position in a store's log: the sequence number of the last
// notification read from the store named Store. Sequence numbers mean
// nothing in another store: a cursor whose Store is not the one read
// (its file was replaced) starts again from 0.
type Cursor struct {
	Store string `json:"store"`
	Seq   uint64 `json:"seq"`
}

// initialiseLog creates the log; a store written before it had one logs
// its notifications in key order, once.
func initialiseLog(tx *bolt.Tx) error {
	if tx.Bucket(bucketLog) != nil {
		return nil
	}
	log, err := tx.CreateBucket(bucketLog)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketIncidents).ForEach(func(k, _ []byte) error { return appendLog(log, k) })
}

func appendLog(log *bolt.Bucket, key []byte) error {
	seq, err := log.NextSequence()
	if err != nil {
		return err
	}
	return log.Put(binary.BigEndian.AppendUint64(nil, seq), key)
}

// Log returns up to limit notifications logged after sequence number
// after, oldest first, and the cursor past the last of them (at after
// when there is none). Notifications pruned since they were logged are
// skipped.
func (s *Store) Log(after uint64, limit int) (Cursor, []Incident, error) {
	cur := Cursor{Seq: after}
	var out []Incident
	err := s.view(func(tx *bolt.Tx) error {
		cur.Store = string(tx.Bucket(bucketMeta).Get(keyID))
		incs := tx.Bucket(bucketIncidents)
		c := tx.Bucket(bucketLog).Cursor()
		if after == math.MaxUint64 {
			return nil
		}
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil && len(out) < limit; k, v = c.Next() {
			cur.Seq = binary.BigEndian.Uint64(k)
			raw := incs.Get(v)
			if raw == nil {
				continue
			}
			var in Incident
			if err := json.Unmarshal(raw, &in); err != nil {
				return fmt.Errorf("cannot decode incident %q: %w", v, err)
			}
			out = append(out, in)
		}
		return nil
	})
	if err != nil {
		return Cursor{}, nil, fmt.Errorf("cannot read the incident log: %w", err)
	}
	return cur, out, nil
}

// ReadTo returns how far this store has read the log of the store named
// id (another replica's): the sequence number of the last notification
// read, 0 when it never did.
func (s *Store) ReadTo(id string) (uint64, error) {
	var seq uint64
	err := s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketPeers).Get([]byte(id)); len(v) == 8 {
			seq = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cannot read how far the incident log of store %s was read: %w", id, err)
	}
	return seq, nil
}

// AddPeerIncidents stores incidents read from another store's log, as
// AddIncidents does, and records in the same transaction that its log was
// read to c, so that a crash never skips a notification. The position is
// the store's, not its replica's address, which can change (a pod's IP)
// while it keeps its store.
func (s *Store) AddPeerIncidents(c Cursor, incs []Incident) (added int, err error) {
	return s.addIncidents(incs, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPeers).Put([]byte(c.Store), binary.BigEndian.AppendUint64(nil, c.Seq))
	})
}

// pruneLog deletes the log's entries of pruned notifications.
func (s *Store) pruneLog() error {
	err := s.update(func(tx *bolt.Tx) error {
		incs, log := tx.Bucket(bucketIncidents), tx.Bucket(bucketLog)
		var gone [][]byte
		err := log.ForEach(func(k, v []byte) error {
			if incs.Get(v) == nil {
				gone = append(gone, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range gone {
			if err := log.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot prune the incident log: %w", err)
	}
	return nil
}
