// Package cluster decides which replica of augur owns which entity, so that
// several replicas share a fleet: each ingests, fits and serves only the
// entities it owns, and all signals of an entity stay on one replica (its
// failure probability combines them).
//
// Two modes answer the same question. Static splits entities by hashmod,
// as the Prometheus Operator splits targets into shards (--shard=i/N):
// no gossip, fixed membership. Ring is a consistent-hash ring of
// grafana/dskit gossiped with memberlist, as Mimir's ruler and Loki shard
// work: members join, leave or stop heartbeating and ownership moves to
// the others.
package cluster

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Member is one replica of the cluster as one replica sees it.
type Member struct {
	ID string
	// URL is the base URL of the member's HTTP API, which fan-outs ask.
	URL   string
	State string
	// Healthy is false once the member stopped heartbeating.
	Healthy       bool
	LastHeartbeat time.Time
	Self          bool
	// Entities is how many of the entities this replica's sources listed
	// the member owns.
	Entities int
}

// Status is the cluster as one replica sees it.
type Status struct {
	Mode              string // "static" or "gossip"
	Self              string
	ReplicationFactor int
	// Entities is how many entities the sources listed, owned or not.
	Entities int
	Members  []Member
}

// HashMod returns the shard of value among n, as Prometheus' hashmod
// relabelling computes it (model/relabel: the last 8 bytes of the MD5 of
// the value, big-endian, modulo n), so that --shard=i/N agrees with a
// hashmod relabel rule on the same label.
func HashMod(value string, n uint64) uint64 {
	h := md5.Sum([]byte(value))
	return binary.BigEndian.Uint64(h[8:]) % n
}

// Static is the static split: shard Index of Total owns the entities whose
// hashmod is Index. Its membership never changes.
type Static struct {
	index, total uint64
	// peers are the other shards' API base URLs (--shard.peer-url).
	peers []string
	seen  *seenEntities
}

// ParseShard parses --shard's "i/N" (0 ≤ i < N).
func ParseShard(s string) (index, total uint64, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		index, err = strconv.ParseUint(a, 10, 32)
		if err == nil {
			total, err = strconv.ParseUint(b, 10, 32)
		}
	}
	if !ok || err != nil || total == 0 || index >= total {
		return 0, 0, fmt.Errorf("cannot parse shard %q: want i/N with 0 <= i < N, e.g. 0/3", s)
	}
	return index, total, nil
}

// NewStatic returns shard index of total; peers are the other shards' API
// base URLs, which fan-outs ask.
func NewStatic(index, total uint64, peers []string) *Static {
	return &Static{index: index, total: total, peers: peers, seen: newSeenEntities()}
}

// Owns reports whether this shard owns the entity.
func (s *Static) Owns(entity string) bool {
	s.seen.add(entity)
	return HashMod(entity, s.total) == s.index
}

// Settle returns at once: a static split has nothing to wait for.
func (s *Static) Settle(context.Context) {}

// Changed never fires: a static split does not change while running.
func (s *Static) Changed() <-chan struct{} { return nil }

// Peers returns the other shards' API base URLs.
func (s *Static) Peers() []string { return s.peers }

// Status reports the shards and how many of the listed entities each
// owns. The other shards' health is not known here.
func (s *Static) Status(context.Context) (Status, error) {
	counts := make([]int, s.total)
	entities := s.seen.each(func(e string) { counts[HashMod(e, s.total)]++ })
	st := Status{Mode: "static", Self: s.name(s.index), ReplicationFactor: 1, Entities: entities}
	for i := range s.total {
		m := Member{ID: s.name(i), State: "UNKNOWN", Entities: counts[i]}
		if i == s.index {
			m.State, m.Healthy, m.Self = "ACTIVE", true, true
		}
		st.Members = append(st.Members, m)
	}
	return st, nil
}

func (s *Static) name(i uint64) string { return fmt.Sprintf("%d/%d", i, s.total) }

// seenEntities is the set of entities the sources listed, owned or not,
// which Status counts by owner. Safe for concurrent use.
type seenEntities struct {
	mu  sync.Mutex
	set map[string]struct{}
}

func newSeenEntities() *seenEntities { return &seenEntities{set: map[string]struct{}{}} }

func (s *seenEntities) add(e string) {
	s.mu.Lock()
	s.set[e] = struct{}{}
	s.mu.Unlock()
}

// each calls f for every entity seen and returns their number.
func (s *seenEntities) each(f func(string)) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for e := range s.set {
		f(e)
	}
	return len(s.set)
}
