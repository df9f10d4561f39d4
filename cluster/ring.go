package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/grafana/dskit/dns"
	"github.com/grafana/dskit/flagext"
	"github.com/grafana/dskit/kv"
	"github.com/grafana/dskit/kv/codec"
	"github.com/grafana/dskit/kv/memberlist"
	"github.com/grafana/dskit/ring"
	"github.com/grafana/dskit/services"
	sockaddr "github.com/hashicorp/go-sockaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// RingOptions configures a Ring.
type RingOptions struct {
	// ID names this replica in the ring. It must be unique, and should
	// stay the same across restarts (a StatefulSet pod's hostname), so
	// that a restarted replica takes back its tokens and its entities,
	// whose history its TSDB holds.
	ID string
	// ListenAddress is the host:port memberlist gossips on.
	ListenAddress string
	// AdvertiseAddress is the host:port the other members reach this one
	// at; default: ListenAddress, or a private IP of this host when that
	// is unspecified (0.0.0.0), as Alertmanager chooses.
	AdvertiseAddress string
	// Peers are the host:port of members to join; a name that resolves
	// to several addresses (a Kubernetes headless Service) joins them
	// all, and dskit's dns+ and dnssrv+ prefixes are understood.
	Peers []string
	// ReplicationFactor is how many replicas own each entity.
	ReplicationFactor int
	// HeartbeatInterval is how often this replica heartbeats in the ring;
	// a member whose last heartbeat is older than HeartbeatTimeout is
	// unhealthy and forgotten, and its entities move to the others.
	HeartbeatInterval, HeartbeatTimeout time.Duration
	// APIPort is the port of this replica's HTTP API, advertised with the
	// advertised host for fan-outs (see APIURL), and APIScheme its scheme
	// ("https" when it serves TLS; default "http").
	APIPort   int
	APIScheme string
	// SettleTimeout bounds Settle's wait; 0 does not wait.
	SettleTimeout time.Duration
	// TokensFile keeps this replica's tokens across restarts; "" keeps
	// none.
	TokensFile string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

const (
	ringName = "augur"
	ringKey  = "augur-entities"
	// numTokens is tokens per member, as many as dskit's spread-minimizing
	// generator places (see tokenGenerator). Random ones this many give
	// each of three members its third of the ring within ±9 % in 95 of
	// 100 placements (128: ±17 %), and of 300 entities within ±30 % in
	// all but 4 in 1,000 (128: 2 in 100).
	numTokens = 512
	// maxOrdinal is the highest ordinal that gets spread-minimizing
	// tokens: the generator places those of every lower ordinal first,
	// in 0.4 s for 1,023 on this machine (2 s for 4,095), at each start.
	maxOrdinal = 1023
	// pollInterval is how often the ring's health is checked for a change
	// of ownership: a member past its heartbeat timeout changes none of
	// the ring's state, only the clock does.
	pollInterval = time.Second
	// settlePolls is how many polls in a row must see the same members
	// for Settle, as Alertmanager's gossip settles.
	settlePolls = 3
)

// ownOp is the ring operation ownership is asked for: ACTIVE and LEAVING
// members own what their tokens cover, as long as they heartbeat.
var ownOp = ring.NewOp([]ring.InstanceState{ring.ACTIVE, ring.LEAVING}, nil)

// Ring is ownership by a consistent-hash ring of grafana/dskit, gossiped
// over memberlist. Each member registers numTokens tokens (see
// tokenGenerator); an entity belongs to the ReplicationFactor healthy
// members whose tokens follow its hash (xxhash, low 32 bits). A member that stops heartbeating
// is removed from the ring by the others (dskit's auto-forget) once its
// heartbeat is HeartbeatTimeout old; one that stops cleanly leaves at once.
// Its methods are safe for concurrent use.
type Ring struct {
	opts    RingOptions
	logger  *slog.Logger
	kv      *memberlist.KV
	client  kv.Client
	lc      *ring.BasicLifecycler
	ring    *ring.Ring
	url     string
	seen    *seenEntities
	changed chan struct{}
	cancel  context.CancelFunc
	polled  sync.WaitGroup

	mu sync.Mutex
	// healthy is the last polled set of healthy members, sorted.
	healthy []string
}

// NewRing validates the options and builds the ring; Start joins it.
func NewRing(opts RingOptions) (*Ring, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.ReplicationFactor < 1 {
		return nil, fmt.Errorf("replication factor %d: want 1 or more", opts.ReplicationFactor)
	}
	if opts.HeartbeatInterval <= 0 || opts.HeartbeatTimeout < 2*opts.HeartbeatInterval {
		return nil, fmt.Errorf("heartbeat timeout %s must be at least twice the heartbeat interval %s", opts.HeartbeatTimeout, opts.HeartbeatInterval)
	}
	if opts.ID == "" {
		return nil, errors.New("no instance ID")
	}
	bindHost, bindPort, err := splitHostPort("listen address", opts.ListenAddress)
	if err != nil {
		return nil, err
	}
	advHost, advPort, err := advertise(opts.AdvertiseAddress, bindHost, bindPort)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger.With("component", "cluster")
	kitLog := kitLogger(logger)
	reg := prometheus.WrapRegistererWithPrefix("augur_cluster_", opts.Registerer)

	var kvCfg memberlist.KVConfig
	flagext.DefaultValues(&kvCfg)
	kvCfg.NodeName = opts.ID
	kvCfg.TCPTransport.BindAddrs = flagext.StringSlice{bindHost}
	kvCfg.TCPTransport.BindPort = bindPort
	kvCfg.AdvertiseAddr, kvCfg.AdvertisePort = advHost, advPort
	kvCfg.JoinMembers = opts.Peers
	// A replica started before its peers (a StatefulSet's first pod)
	// keeps trying to join them in the background.
	kvCfg.AbortIfJoinFails = false
	kvCfg.RejoinInterval = time.Minute
	kvCfg.LeaveTimeout = 5 * time.Second
	kvCfg.BroadcastTimeoutForLocalUpdatesOnShutdown = 2 * time.Second
	kvCfg.LeftIngestersTimeout = opts.HeartbeatTimeout
	kvCfg.Codecs = []codec.Codec{ring.GetCodec()}
	if err := kvCfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot configure memberlist: %w", err)
	}
	dnsProvider := dns.NewProvider(dns.GolangResolverType, 0, kitLog, reg)
	mkv := memberlist.NewKV(kvCfg, kitLog, dnsProvider, reg)
	client, err := memberlist.NewClient(mkv, ring.GetCodec())
	if err != nil {
		return nil, fmt.Errorf("cannot create the memberlist client: %w", err)
	}

	var ringCfg ring.Config
	flagext.DefaultValues(&ringCfg)
	ringCfg.HeartbeatTimeout = opts.HeartbeatTimeout
	ringCfg.ReplicationFactor = opts.ReplicationFactor
	rg, err := ring.NewWithStoreClientAndStrategy(ringCfg, ringName, ringKey, client, ring.NewIgnoreUnhealthyInstancesReplicationStrategy(), reg, kitLog)
	if err != nil {
		return nil, fmt.Errorf("cannot create the ring: %w", err)
	}

	scheme := opts.APIScheme
	if scheme == "" {
		scheme = "http"
	}
	url := scheme + "://" + net.JoinHostPort(advHost, strconv.Itoa(opts.APIPort))
	var delegate ring.BasicLifecyclerDelegate = ring.NewInstanceRegisterDelegate(ring.ACTIVE, numTokens)
	if opts.TokensFile != "" {
		delegate = ring.NewTokensPersistencyDelegate(opts.TokensFile, ring.ACTIVE, delegate, kitLog)
	}
	delegate = ring.NewAutoForgetDelegate(opts.HeartbeatTimeout, delegate, kitLog)
	lc, err := ring.NewBasicLifecycler(ring.BasicLifecyclerConfig{
		ID:                 opts.ID,
		Addr:               url,
		HeartbeatPeriod:    opts.HeartbeatInterval,
		HeartbeatTimeout:   opts.HeartbeatTimeout,
		NumTokens:          numTokens,
		RingTokenGenerator: tokenGenerator(opts.ID, logger),
	}, ringName, ringKey, client, delegate, kitLog, reg)
	if err != nil {
		return nil, fmt.Errorf("cannot create the ring lifecycler: %w", err)
	}
	return &Ring{opts: opts, logger: logger, kv: mkv, client: client, lc: lc, ring: rg, url: url,
		seen: newSeenEntities(), changed: make(chan struct{}, 1)}, nil
}

// tokenGenerator places a member's tokens. A name ending in an ordinal,
// as a StatefulSet names its pods (augur-0, augur-1, ...), gets dskit's
// spread-minimizing tokens, which Mimir's ingesters use: member n's
// tokens split the ranges of members 0 to n-1 so that each of the n+1
// owns the same share, computed from the ordinal alone, so that members
// need not agree on anything but their names. Other names get random
// tokens.
func tokenGenerator(id string, logger *slog.Logger) ring.TokenGenerator {
	i := strings.LastIndexByte(id, '-')
	if n, err := strconv.Atoi(id[i+1:]); i >= 0 && err == nil && n >= 0 && n <= maxOrdinal {
		// One zone; no waiting for ordinal n-1 to join (CanJoin), which a
		// lost member would make wait forever.
		if g, err := ring.NewSpreadMinimizingTokenGenerator(id, "", []string{""}, false); err == nil {
			return g
		}
	}
	logger.Info("random ring tokens: the instance ID does not end in an ordinal up to 1023 (as a StatefulSet's pod names do), which would split the ring evenly", "id", id)
	return ring.NewRandomTokenGenerator()
}

func splitHostPort(what, addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err == nil {
		var port int
		if port, err = strconv.Atoi(p); err == nil && port >= 0 && port < 1<<16 {
			return host, port, nil
		}
	}
	return "", 0, fmt.Errorf("cannot parse the %s %q: want host:port", what, addr)
}

// advertise returns the host and port the other members reach this one at.
func advertise(flag, bindHost string, bindPort int) (string, int, error) {
	if flag != "" {
		return splitHostPort("advertise address", flag)
	}
	if ip := net.ParseIP(bindHost); bindHost != "" && (ip == nil || !ip.IsUnspecified()) {
		return bindHost, bindPort, nil
	}
	ip, err := sockaddr.GetPrivateIP()
	if err != nil || ip == "" {
		return "", 0, fmt.Errorf("cannot find a private IP to advertise (set the advertise address): %v", err)
	}
	return ip, bindPort, nil
}

// Start joins the cluster: it starts memberlist (joining the peers that
// answer), registers this replica ACTIVE in the ring and waits until the
// ring shows it, so that ownership is known when Start returns.
func (r *Ring) Start(ctx context.Context) error {
	for _, s := range []services.Service{r.kv, r.lc, r.ring} {
		// A service lives as long as the context it starts with: ctx
		// bounds the wait only.
		err := s.StartAsync(context.Background())
		if err == nil {
			err = s.AwaitRunning(ctx)
		}
		if err != nil {
			r.stopServices()
			return fmt.Errorf("cannot join the cluster: %w", err)
		}
	}
	for {
		if st, err := r.ring.GetInstanceState(r.opts.ID); err == nil && st == ring.ACTIVE {
			break
		}
		select {
		case <-ctx.Done():
			r.stopServices()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	r.healthy = r.healthyMembers()
	r.logger.Info("joined the cluster", "id", r.opts.ID, "api", r.url, "members", r.healthy)
	pctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.polled.Add(1)
	go r.poll(pctx)
	return nil
}

// Settle waits until the ring's healthy members are the same for
// settlePolls polls in a row and, when this replica was given peers,
// include another member, or for SettleTimeout at most, as Alertmanager
// waits for its gossip to settle before it notifies. A replica that
// starts beside its peers (a StatefulSet's pods started in parallel)
// sees itself alone until it joins them; had it fetched and fitted what
// it owns then, it would have taken the history of the whole fleet and
// fitted every series, to drop most of them a second later. Call it
// before the first use of Owns; a change it saw is not sent on Changed.
func (r *Ring) Settle(ctx context.Context) {
	if r.opts.SettleTimeout <= 0 {
		return
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.opts.SettleTimeout)
	defer cancel()
	members := r.healthyMembers()
	for same := 0; same < settlePolls || len(r.opts.Peers) > 0 && len(members) < 2; {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return // stopping
			}
			r.logger.Warn("cluster not settled; proceeding", "after", time.Since(began).Round(time.Millisecond), "members", members, "peers", r.opts.Peers)
			return
		case <-time.After(pollInterval):
		}
		h := r.healthyMembers()
		if slices.Equal(h, members) {
			same++
		} else {
			same = 0
		}
		members = h
	}
	select {
	case <-r.changed:
	default:
	}
	r.logger.Info("cluster settled", "after", time.Since(began).Round(time.Millisecond), "members", members)
}

// Stop leaves the cluster: this replica is removed from the ring and
// leaves memberlist, so that the others take its entities at once.
func (r *Ring) Stop() {
	if r.cancel != nil {
		r.cancel()
		r.polled.Wait()
	}
	r.stopServices()
	r.logger.Info("left the cluster")
}

func (r *Ring) stopServices() {
	for _, s := range []services.Service{r.ring, r.lc, r.kv} {
		if err := services.StopAndAwaitTerminated(context.Background(), s); err != nil {
			r.logger.Warn("cannot stop a cluster service", "err", err)
		}
	}
}

// poll signals Changed whenever the set of healthy members changes.
func (r *Ring) poll(ctx context.Context) {
	defer r.polled.Done()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h := r.healthyMembers()
		r.mu.Lock()
		same := slices.Equal(h, r.healthy)
		r.healthy = h
		r.mu.Unlock()
		if !same {
			r.logger.Info("cluster membership changed", "healthy", h)
			select {
			case r.changed <- struct{}{}:
			default:
			}
		}
	}
}

func (r *Ring) healthyMembers() []string {
	rs, err := r.ring.GetAllHealthy(ownOp)
	if err != nil {
		return nil
	}
	ids := rs.GetIDs()
	slices.Sort(ids)
	return ids
}

// entityToken is the position of an entity on the ring.
func entityToken(entity string) uint32 { return uint32(xxhash.Sum64String(entity)) }

// Owns reports whether this replica is among the entity's owners. An
// entity no healthy member owns (the ring is empty) is owned by none.
func (r *Ring) Owns(entity string) bool {
	r.seen.add(entity)
	var buf [4]ring.InstanceDesc
	rs, err := r.ring.Get(entityToken(entity), ownOp, buf[:0], nil, nil)
	if err != nil {
		return false
	}
	return rs.Includes(r.url)
}

// Changed receives a value whenever the healthy members change, so that
// the consumer asks Owns again. It has one consumer.
func (r *Ring) Changed() <-chan struct{} { return r.changed }

// APIURL is this replica's API base URL as the ring advertises it.
func (r *Ring) APIURL() string { return r.url }

// Peers returns the API base URLs of the other healthy members.
func (r *Ring) Peers() []string {
	rs, err := r.ring.GetAllHealthy(ownOp)
	if err != nil {
		return nil
	}
	var urls []string
	for _, in := range rs.Instances {
		if in.Id != r.opts.ID {
			urls = append(urls, in.Addr)
		}
	}
	slices.Sort(urls)
	return urls
}

// Status lists the members of the ring, healthy or not, and how many of
// the entities the sources listed each owns.
func (r *Ring) Status(ctx context.Context) (Status, error) {
	st := Status{Mode: "gossip", Self: r.opts.ID, ReplicationFactor: r.opts.ReplicationFactor}
	v, err := r.client.Get(ctx, ringKey)
	if err != nil {
		return st, fmt.Errorf("cannot read the ring: %w", err)
	}
	desc, _ := v.(*ring.Desc)
	if desc == nil {
		return st, nil
	}
	counts := map[string]int{}
	var buf [4]ring.InstanceDesc
	st.Entities = r.seen.each(func(e string) {
		rs, err := r.ring.Get(entityToken(e), ownOp, buf[:0], nil, nil)
		if err != nil {
			return
		}
		for _, in := range rs.Instances {
			counts[in.Id]++
		}
	})
	now := time.Now()
	for id, in := range desc.Ingesters {
		st.Members = append(st.Members, Member{
			ID: id, URL: in.Addr, State: in.State.String(),
			Healthy:       in.IsHealthy(ownOp, r.opts.HeartbeatTimeout, now),
			LastHeartbeat: time.Unix(in.Timestamp, 0).UTC(),
			Self:          id == r.opts.ID,
			Entities:      counts[id],
		})
	}
	slices.SortFunc(st.Members, func(a, b Member) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return st, nil
}
