package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/storage"

	"github.com/augur-sre/augur/api"
	"github.com/augur-sre/augur/cluster"
	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/remoteread"
)

// clusterFlags are the flags of the replicas that share a fleet, in
// Alertmanager's style for the gossip and the Prometheus Operator's
// (--shard) for the static split.
type clusterFlags struct {
	listen, advertise string
	peers             []string
	replication       int
	id                string
	heartbeat         time.Duration
	heartbeatTimeout  time.Duration
	settleTimeout     time.Duration
	fanoutTimeout     time.Duration
	shard             string
	shardPeers        []string
	peerHTTPConfig    string
}

func (f *clusterFlags) register(c *kingpin.CmdClause) {
	c.Flag("cluster.listen-address", "Address (host:port) to gossip with the other replicas on; the replicas then share the fleet over a hash ring, each owning whole entities. Empty (the default) runs a single replica. See --shard for a static split.").StringVar(&f.listen)
	c.Flag("cluster.advertise-address", "Address (host:port) the other replicas reach this one at. Default: --cluster.listen-address, or a private IP of this host when it listens on all of them. Its host, with the port of --web.listen-address, is where the others send fan-out queries.").StringVar(&f.advertise)
	c.Flag("cluster.peer", "Address (host:port) of a replica to join; repeatable. A name that resolves to several addresses (a Kubernetes headless Service) joins them all.").StringsVar(&f.peers)
	c.Flag("cluster.replication-factor", "How many replicas own each entity. With 2, both owners alert with the same labels and Alertmanager deduplicates.").Default("1").IntVar(&f.replication)
	c.Flag("cluster.instance-id", "This replica's name in the ring: unique, and the same across restarts so that a replica takes back its entities. Default: the hostname (a StatefulSet pod's name).").StringVar(&f.id)
	c.Flag("cluster.heartbeat-interval", "How often this replica heartbeats in the ring.").Default("5s").DurationVar(&f.heartbeat)
	c.Flag("cluster.heartbeat-timeout", "A replica silent this long is forgotten and its entities move to the others (whole seconds; at least twice --cluster.heartbeat-interval).").Default("30s").DurationVar(&f.heartbeatTimeout)
	c.Flag("cluster.settle-timeout", "How long a replica may wait, before its first evaluation, for the members it sees to stop changing (and, given --cluster.peer, to include another), so that it does not fetch and fit the whole fleet while it sees itself alone; 0 does not wait.").Default("1m").DurationVar(&f.settleTimeout)
	c.Flag("cluster.fanout-timeout", "How long /api/v1/failures, /api/v1/forecast, /api/v1/capacity and each read of a query (/api/v1/query, query_range, series, labels) wait for another replica's part of the fleet; a replica that does not answer in time is left out with a warning.").Default("10s").DurationVar(&f.fanoutTimeout)
	c.Flag("cluster.peer-http-config.file", "Path to the HTTP client configuration (Prometheus' format: basic_auth, authorization, tls_config) with which this replica asks the others, when their --web.config.file requires TLS or a user.").StringVar(&f.peerHTTPConfig)
	c.Flag("shard", "Static split: this replica is shard i of N (i/N, from 0) and owns the entities whose hashmod (Prometheus' hashmod relabelling of the entity label's value) is i. No gossip; see --shard.peer-url.").StringVar(&f.shard)
	c.Flag("shard.peer-url", "With --shard: the API base URL of another shard (repeatable, e.g. https://augur-1:9464), asked for its part of the fleet's answers.").StringsVar(&f.shardPeers)
}

// fleetShare is the cluster package's ownership, as the engine and the
// API consume it.
type fleetShare interface {
	engine.Owner
	// Settle waits until the share is known (see cluster.Ring.Settle).
	Settle(ctx context.Context)
	Peers() []string
	Status(ctx context.Context) (cluster.Status, error)
}

// joinFleet returns this replica's share of the fleet: nil for a single
// replica, a static split with --shard, or a ring it has joined with
// --cluster.listen-address; run, when set, joins the run group to leave
// the ring on shutdown.
func (f *clusterFlags) joinFleet(ctx context.Context, webListen, webConfig, storage string, reg prometheus.Registerer, logger *slog.Logger) (fleetShare, func(*run.Group), error) {
	switch {
	case f.shard != "" && f.listen != "":
		return nil, nil, errors.New("--shard and --cluster.listen-address exclude each other: a static split or a gossiped ring")
	case f.shard != "":
		i, n, err := cluster.ParseShard(f.shard)
		if err != nil {
			return nil, nil, fmt.Errorf("--shard: %w", err)
		}
		logger.Info("static shard", "component", "cluster", "shard", f.shard)
		return cluster.NewStatic(i, n, f.shardPeers), nil, nil
	case f.listen == "":
		if len(f.peers) > 0 {
			return nil, nil, errors.New("--cluster.peer needs --cluster.listen-address")
		}
		return nil, nil, nil
	}
	id := f.id
	if id == "" {
		var err error
		if id, err = os.Hostname(); err != nil {
			return nil, nil, fmt.Errorf("cannot name this replica (set --cluster.instance-id): %w", err)
		}
	}
	_, p, err := net.SplitHostPort(webListen)
	if err != nil {
		return nil, nil, fmt.Errorf("--web.listen-address: %w", err)
	}
	apiPort, err := strconv.Atoi(p)
	if err != nil {
		return nil, nil, fmt.Errorf("--web.listen-address: port %q: %w", p, err)
	}
	scheme := "http"
	if tls, err := api.ServesTLS(webConfig); err != nil {
		return nil, nil, fmt.Errorf("--web.config.file: %w", err)
	} else if tls {
		scheme = "https"
	}
	r, err := cluster.NewRing(cluster.RingOptions{
		ID: id, ListenAddress: f.listen, AdvertiseAddress: f.advertise, Peers: f.peers,
		ReplicationFactor: f.replication, HeartbeatInterval: f.heartbeat, HeartbeatTimeout: f.heartbeatTimeout, SettleTimeout: f.settleTimeout,
		APIPort: apiPort, APIScheme: scheme, TokensFile: filepath.Join(storage, "ring-tokens.json"),
		Logger: logger, Registerer: reg,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("--cluster: %w", err)
	}
	jctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := r.Start(jctx); err != nil {
		return nil, nil, err
	}
	return r, func(g *run.Group) {
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			<-ctx.Done()
			return nil
		}, func(error) {
			cancel()
			logger.Info("leaving the cluster", "component", "cluster")
			r.Stop()
		})
	}, nil
}

// peerClient is the HTTP client this replica asks the others with:
// --cluster.peer-http-config.file's, or a plain one.
func (f *clusterFlags) peerClient() (*http.Client, error) {
	cfg := promconfig.DefaultHTTPClientConfig
	if f.peerHTTPConfig != "" {
		c, _, err := promconfig.LoadHTTPConfigFile(f.peerHTTPConfig)
		if err != nil {
			return nil, fmt.Errorf("--cluster.peer-http-config.file: %w", err)
		}
		cfg = *c
	}
	c, err := promconfig.NewClientFromConfig(cfg, "augur-fanout")
	if err != nil {
		return nil, fmt.Errorf("--cluster.peer-http-config.file: %w", err)
	}
	return c, nil
}

// peerStorage returns the other healthy replicas' series, read over
// remote read, for the query engine (query.Options.Peers). An answer
// may hold up to 64 bytes a sample of --query.max-samples.
func (f *clusterFlags) peerStorage(share fleetShare, client *http.Client, maxSamples int) func() []storage.Queryable {
	if share == nil {
		return nil
	}
	return func() []storage.Queryable {
		var qs []storage.Queryable
		for _, u := range share.Peers() {
			qs = append(qs, &remoteread.Queryable{URL: u, Client: client, Timeout: f.fanoutTimeout, MaxBytes: 64 * int64(maxSamples)})
		}
		return qs
	}
}

// incidentSyncInterval is how often a replica reads the others' incident
// logs: an incident posted to one reaches the others within it.
const incidentSyncInterval = 10 * time.Second

// syncIncidents adds to the run group the copy of the other replicas'
// incidents into st (api.IncidentSync); nothing for a single replica.
func (f *clusterFlags) syncIncidents(g *run.Group, ctx context.Context, share fleetShare, st api.PeerIncidentStore, client *http.Client, reg prometheus.Registerer, logger *slog.Logger) error {
	if share == nil {
		return nil
	}
	s, err := api.NewIncidentSync(api.IncidentSyncOptions{Store: st, Peers: share.Peers, Client: client,
		Interval: incidentSyncInterval, Timeout: f.fanoutTimeout, Registerer: reg, Logger: logger})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	g.Add(func() error { return s.Run(ctx) }, func(error) {
		logger.Info("stopping the incident sync")
		cancel()
	})
	return nil
}
