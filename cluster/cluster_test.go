package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
)

func TestParseShard(t *testing.T) {
	f := func(in string, i, n uint64, ok bool) {
		t.Helper()
		gi, gn, err := ParseShard(in)
		if (err == nil) != ok || gi != i || gn != n {
			t.Errorf("ParseShard(%q) = %d, %d, %v; want %d, %d, ok %v", in, gi, gn, err, i, n, ok)
		}
	}
	f("0/1", 0, 1, true)
	f("2/3", 2, 3, true)
	f("3/3", 0, 0, false)
	f("0/0", 0, 0, false)
	f("-1/2", 0, 0, false)
	f("1", 0, 0, false)
	f("a/b", 0, 0, false)
	f("", 0, 0, false)
}

// TestHashModMatchesRelabel checks --shard against Prometheus' own hashmod
// relabelling of the entity label, which the Prometheus Operator shards by.
func TestHashModMatchesRelabel(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 7} {
		cfg := &relabel.Config{Action: relabel.HashMod, SourceLabels: model.LabelNames{"instance"}, Modulus: n, TargetLabel: "shard", Separator: ";", NameValidationScheme: model.UTF8Validation}
		for i := range 200 {
			e := fmt.Sprintf("host-%03d:9100", i)
			got, keep := relabel.Process(labels.FromStrings("instance", e), cfg)
			if !keep {
				t.Fatal("hashmod dropped the series")
			}
			if want := got.Get("shard"); strconv.FormatUint(HashMod(e, n), 10) != want {
				t.Fatalf("HashMod(%q, %d) = %d, relabel says %s", e, n, HashMod(e, n), want)
			}
		}
	}
}

func TestStaticSplitsOnce(t *testing.T) {
	const total, entities = 3, 300
	shards := make([]*Static, total)
	for i := range shards {
		shards[i] = NewStatic(uint64(i), total, nil)
	}
	for e := range entities {
		owners := 0
		for _, s := range shards {
			if s.Owns(fmt.Sprintf("host-%d", e)) {
				owners++
			}
		}
		if owners != 1 {
			t.Fatalf("host-%d has %d owners", e, owners)
		}
	}
	st, _ := shards[1].Status(context.Background())
	sum := 0
	for _, m := range st.Members {
		sum += m.Entities
		if m.Entities < entities/total*7/10 || m.Entities > entities/total*13/10 {
			t.Errorf("shard %s owns %d of %d entities, not within 30 %% of a third", m.ID, m.Entities, entities)
		}
	}
	if sum != entities || st.Entities != entities || !st.Members[1].Self {
		t.Errorf("status %+v: want %d entities split over the shards, the second one self", st, entities)
	}
}

// TestTokenGenerator checks that the members of a StatefulSet split the
// ring evenly, and that names without an ordinal get tokens too.
func TestTokenGenerator(t *testing.T) {
	for _, c := range []struct {
		ids []string
		// within is how far from even a member's share may be.
		within float64
	}{
		{[]string{"augur-0", "augur-1", "augur-2"}, 0.01},
		{[]string{"augur-0", "augur-1", "augur-2", "augur-3", "augur-4"}, 0.01},
		// Random tokens: 512 a member keep each of three within ±25 %
		// in all but about 1 in 10^11 placements.
		{[]string{"db", "augur-x", "augur-1024"}, 0.25},
	} {
		owner := map[uint32]int{}
		var tokens []uint32
		for m, id := range c.ids {
			ts := tokenGenerator(id, slog.New(slog.DiscardHandler)).GenerateTokens(numTokens, tokens)
			if len(ts) != numTokens {
				t.Fatalf("%s: %d tokens, want %d", id, len(ts), numTokens)
			}
			for _, tk := range ts {
				owner[tk] = m
			}
			tokens = append(tokens, ts...)
		}
		slices.Sort(tokens)
		// A token owns the range from the previous token up to itself.
		share := make([]float64, len(c.ids))
		prev := tokens[len(tokens)-1]
		for _, tk := range tokens {
			share[owner[tk]] += float64(tk-prev) / (1 << 32)
			prev = tk
		}
		for m, sh := range share {
			if even := 1 / float64(len(c.ids)); math.Abs(sh/even-1) > c.within {
				t.Errorf("%v: %s owns %.4f of the ring, not within %.0f %% of %.4f", c.ids, c.ids[m], sh, 100*c.within, even)
			}
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startRings starts n rings on 127.0.0.1 over real memberlist, each
// joining the first; the third serves its API over https.
func startRings(t *testing.T, n, rf int) []*Ring {
	t.Helper()
	var rings []*Ring
	var first string
	for i := range n {
		addr := freeAddr(t)
		opts := RingOptions{ID: fmt.Sprintf("augur-%d", i), ListenAddress: addr, ReplicationFactor: rf,
			HeartbeatInterval: time.Second, HeartbeatTimeout: 3 * time.Second, APIPort: 9000 + i, Logger: testLogger()}
		if i == 2 {
			opts.APIScheme = "https"
		}
		if i == 0 {
			first = addr
		} else {
			opts.Peers = []string{first}
		}
		r, err := NewRing(opts)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		began := time.Now()
		err = r.Start(ctx)
		t.Logf("%s started in %s", opts.ID, time.Since(began).Round(100*time.Millisecond))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		rings = append(rings, r)
	}
	t.Cleanup(func() {
		for _, r := range rings {
			if r != nil {
				began := time.Now()
				r.Stop()
				t.Logf("%s stopped in %s", r.opts.ID, time.Since(began).Round(100*time.Millisecond))
			}
		}
	})
	return rings
}

// owners counts, for each entity, the rings that own it.
func owners(rings []*Ring, entities int) (perEntity []int, perRing []int) {
	perEntity, perRing = make([]int, entities), make([]int, len(rings))
	for e := range entities {
		for i, r := range rings {
			if r != nil && r.Owns(fmt.Sprintf("host-%03d", e)) {
				perEntity[e]++
				perRing[i]++
			}
		}
	}
	return perEntity, perRing
}

// waitOwners waits until every entity has want owners among the rings.
func waitOwners(t *testing.T, rings []*Ring, entities, want int, within time.Duration) []int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		perEntity, perRing := owners(rings, entities)
		bad := -1
		for e, n := range perEntity {
			if n != want {
				bad = e
				break
			}
		}
		if bad < 0 {
			return perRing
		}
		if time.Now().After(deadline) {
			t.Fatalf("host-%03d has %d owners after %s, want %d (per ring: %v)", bad, perEntity[bad], within, want, perRing)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestRingOwnershipMovesOnLeaveAndDeath(t *testing.T) {
	if testing.Short() {
		t.Skip("gossips for seconds")
	}
	const entities = 300
	rings := startRings(t, 3, 1)
	perRing := waitOwners(t, rings, entities, 1, 10*time.Second)
	for i, n := range perRing {
		if n < entities/3*7/10 || n > entities/3*13/10 {
			t.Errorf("%s owns %d of %d entities, not within 30 %% of a third", rings[i].opts.ID, n, entities)
		}
	}
	st, err := rings[2].Status(context.Background())
	if err != nil || len(st.Members) != 3 || st.Entities != entities {
		t.Fatalf("status %+v, %v: want 3 members and %d entities", st, err, entities)
	}
	for i, m := range st.Members {
		if !m.Healthy || m.State != "ACTIVE" || m.Entities != perRing[i] || m.Self != (i == 2) {
			t.Errorf("member %+v: want healthy, ACTIVE, owning %d", m, perRing[i])
		}
	}
	if got := rings[0].Peers(); len(got) != 2 || got[0] != "http://127.0.0.1:9001" || got[1] != "https://127.0.0.1:9002" {
		t.Errorf("peers of the first ring: %v", got)
	}

	// A clean stop leaves the ring: the others own its entities within a
	// poll of their rings, well before the heartbeat timeout.
	select {
	case <-rings[0].Changed():
	default:
	}
	began := time.Now()
	rings[1].Stop()
	rings[1] = nil
	t.Logf("stopped in %s", time.Since(began).Round(100*time.Millisecond))
	waitOwners(t, rings, entities, 1, 2*time.Second)
	select {
	case <-rings[0].Changed():
	case <-time.After(3 * time.Second):
		t.Error("no change notified after a member left")
	}
}

func TestRingReplicationFactorTwo(t *testing.T) {
	if testing.Short() {
		t.Skip("gossips for seconds")
	}
	const entities = 200
	rings := startRings(t, 3, 2)
	waitOwners(t, rings, entities, 2, 10*time.Second)
	// Killed, not stopped: the ring forgets it after the heartbeat
	// timeout (3 s here) and the others own its share twice again.
	r := rings[2]
	r.kill()
	rings[2] = nil
	began := time.Now()
	waitOwners(t, rings, entities, 2, 10*time.Second)
	t.Logf("ownership moved %s after the kill", time.Since(began).Round(100*time.Millisecond))
}

// TestRingSettle starts a replica before the peer it is given, as a
// StatefulSet's pods start in parallel: it sees itself alone until it
// joins the peer, and Settle waits for that rather than for its lone view
// to hold still.
func TestRingSettle(t *testing.T) {
	if testing.Short() {
		t.Skip("gossips for seconds")
	}
	peer := freeAddr(t)
	b, err := NewRing(RingOptions{ID: "augur-1", ListenAddress: freeAddr(t), Peers: []string{peer}, ReplicationFactor: 1,
		HeartbeatInterval: time.Second, HeartbeatTimeout: 3 * time.Second, SettleTimeout: 30 * time.Second, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	settled := make(chan time.Duration)
	began := time.Now()
	go func() {
		b.Settle(context.Background())
		settled <- time.Since(began)
	}()
	// Later than settlePolls polls of a lone view.
	time.Sleep(time.Duration(settlePolls+1) * pollInterval)
	a, err := NewRing(RingOptions{ID: "augur-0", ListenAddress: peer, ReplicationFactor: 1,
		HeartbeatInterval: time.Second, HeartbeatTimeout: 3 * time.Second, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	took := <-settled
	if got := b.healthyMembers(); len(got) != 2 {
		t.Errorf("settled after %s seeing %v, want both members", took, got)
	}
	select {
	case <-b.Changed():
		t.Error("the change Settle waited for was sent on Changed too")
	default:
	}
	t.Logf("settled %s after its start", took.Round(100*time.Millisecond))
}

// kill stops the ring's services without leaving (as a crashed replica
// would not), for tests.
func (r *Ring) kill() {
	r.lc.SetKeepInstanceInTheRingOnShutdown(true)
	r.cancel()
	r.polled.Wait()
	r.stopServices()
}

func testLogger() *slog.Logger {
	if os.Getenv("CLUSTER_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
