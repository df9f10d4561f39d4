package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/augur-sre/augur/config"
	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/ingest"
)

// sources are the configured sources, built, with the clock and incident
// lister the engine should use.
type sources struct {
	byName    map[string]ingest.Source
	now       func() time.Time
	speed     float64
	incidents ingest.IncidentLister
}

type demoOverrides struct {
	speed float64
	start time.Time
	clock func() time.Time // the real clock the demo's time derives from; nil: time.Now
}

func buildSources(cfg *config.Config, demo demoOverrides, logger *slog.Logger) (*sources, error) {
	s := &sources{byName: map[string]ingest.Source{}, now: time.Now, speed: 1}
	maxGap := int(time.Duration(cfg.Global.MaxGap) / time.Duration(cfg.Global.Step))
	var clocks []ingest.Clock
	for _, sc := range cfg.Sources {
		var src ingest.Source
		switch sc.Type {
		case config.TypeDemo:
			speed := sc.Speed
			if demo.speed > 0 {
				speed = demo.speed
			}
			d := ingest.NewDemo(ingest.DemoOptions{Seed: sc.Seed, Hosts: sc.Hosts, Speed: speed, Start: demo.start, History: time.Duration(cfg.Global.History), Clock: demo.clock})
			src, s.speed = d, max(speed, 1)
			clocks = append(clocks, d)
		case config.TypeCSV:
			c, err := ingest.NewCSVSource(sc.Path)
			if err != nil {
				return nil, fmt.Errorf("source %q: %w", sc.Name, err)
			}
			src = c
			clocks = append(clocks, c)
		case config.TypePrometheus:
			p, err := ingest.NewPrometheus(ingest.PrometheusOptions{
				URL: sc.URL, HTTP: httpConfig(sc), QueryOptions: queryOptions(sc, maxGap, logger),
				IncidentAlerts: incidentAlerts(cfg, sc.Name), IncidentEntity: incidentEntity(cfg),
			})
			if err != nil {
				return nil, fmt.Errorf("source %q: %w", sc.Name, err)
			}
			src = p
		case config.TypeInfluxDB:
			i, err := ingest.NewInfluxDB(ingest.InfluxDBOptions{
				URL: sc.URL, Token: string(sc.Token), Org: sc.Org, HTTP: httpConfig(sc),
				QueryOptions: queryOptions(sc, maxGap, logger),
			})
			if err != nil {
				return nil, fmt.Errorf("source %q: %w", sc.Name, err)
			}
			src = i
		default:
			return nil, fmt.Errorf("source %q: unknown type %q", sc.Name, sc.Type)
		}
		s.byName[sc.Name] = src
	}
	// A source with its own present (the demo, CSV files) drives the engine's
	// clock when it is the only kind configured; mixed with live servers,
	// the wall clock rules.
	if len(clocks) == len(cfg.Sources) && len(clocks) > 0 {
		s.now = clocks[0].Now
	}
	if name := cfg.Incidents.Source; name != "" {
		il, ok := s.byName[name].(ingest.IncidentLister)
		if !ok {
			return nil, fmt.Errorf("incidents.source: source %q cannot list incidents", name)
		}
		s.incidents = il
	}
	return s, nil
}

// httpConfig translates a source's authentication and TLS settings into
// Prometheus' http_config, whose client re-reads credential files on every
// request.
func httpConfig(sc config.SourceConfig) promconfig.HTTPClientConfig {
	h := promconfig.DefaultHTTPClientConfig
	if b := sc.BasicAuth; b != nil {
		h.BasicAuth = &promconfig.BasicAuth{Username: b.Username, Password: promconfig.Secret(b.Password), PasswordFile: b.PasswordFile}
	}
	if sc.BearerToken != "" || sc.BearerTokenFile != "" {
		h.Authorization = &promconfig.Authorization{Type: "Bearer", Credentials: promconfig.Secret(sc.BearerToken), CredentialsFile: sc.BearerTokenFile}
	}
	if t := sc.TLSConfig; t != nil {
		h.TLSConfig = promconfig.TLSConfig{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	}
	return h
}

// queryOptions are the query settings of a Prometheus or InfluxDB source;
// maxGap is global.max_gap in steps.
func queryOptions(sc config.SourceConfig, maxGap int, logger *slog.Logger) ingest.QueryOptions {
	return ingest.QueryOptions{
		Timeout: time.Duration(sc.Timeout), MaxPointsPerQuery: sc.MaxPointsPerQuery, Concurrency: sc.Concurrency,
		MaxGap: maxGap, Logger: logger.With("source", sc.Name),
	}
}

// incidentAlerts is the list of alert names whose ALERTS history source
// reads as incidents, when it is the configured incident source.
func incidentAlerts(cfg *config.Config, source string) []string {
	if cfg.Incidents.Source == source {
		return cfg.Incidents.Alerts
	}
	return nil
}

// incidentEntity names the entity an alert is about: its labels pass
// through the global entity_relabel_configs, as every signal's series do,
// and the first of the signals' entity labels (as the source names them,
// then as augur's own alerts name them, see engine.ExportedLabel) and
// instance, host, entity, node, pod that is set names it.
func incidentEntity(cfg *config.Config) func(map[string]string) string {
	var names []string
	for _, s := range cfg.Signals {
		names = append(names, s.Entity)
	}
	for _, s := range cfg.Signals {
		names = append(names, engine.ExportedLabel(s.Entity))
	}
	names = append(names, "instance", "host", "entity", "node", "pod")
	rules := cfg.EntityRelabel(nil)
	return func(l map[string]string) string {
		if len(rules) > 0 {
			ls, keep := relabel.Process(labels.FromMap(l), rules...)
			if !keep {
				return ""
			}
			l = ls.Map()
		}
		for _, name := range names {
			if v := l[name]; v != "" {
				return v
			}
		}
		return ""
	}
}

// checker is implemented by sources that can validate a query against the
// server (Prometheus, InfluxDB).
type checker interface {
	Check(ctx context.Context, query string) error
}

// checkQueries asks each server to run each signal's queries once, so that a
// query the server rejects (bad PromQL, unknown bucket) stops augur at start
// with the server's own message. A server that cannot be reached only
// warns, once, and is not asked again: augur starts, reports its signals
// as source_down and catches up once it is back.
func checkQueries(ctx context.Context, cfg *config.Config, srcs *sources, logger *slog.Logger) error {
	var errs []error
	unreachable := map[string]bool{}
	for _, sig := range cfg.Signals {
		c, ok := srcs.byName[sig.Source].(checker)
		if !ok {
			continue
		}
		for _, q := range []string{sig.Query, sig.LimitQuery} {
			if q == "" || unreachable[sig.Source] {
				continue
			}
			err := c.Check(ctx, q)
			var apiErr *v1.Error
			switch {
			case err == nil:
			case errors.As(err, &apiErr) && apiErr.Type == v1.ErrBadData:
				errs = append(errs, fmt.Errorf("signal %q: the server rejects the query: %w", sig.Name, err))
			case errors.As(err, &apiErr):
				logger.Warn("cannot check query; the signal reports source_down until it answers", "signal", sig.Name, "err", err)
			default:
				unreachable[sig.Source] = true
				logger.Warn("cannot reach a source to check its queries; its signals report source_down until it answers", "source", sig.Source, "err", err)
			}
		}
	}
	return errors.Join(errs...)
}
