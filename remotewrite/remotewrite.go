// Package remotewrite sends the series augur derives to remote-write
// receivers (Prometheus with --web.enable-remote-write-receiver, Mimir,
// Thanos Receive, VictoriaMetrics) with Prometheus' own remote-write
// machinery (github.com/prometheus/prometheus/storage/remote), wired as
// cmd/prometheus wires it: one queue per remote_write block, each tailing
// the write-ahead log of augur's embedded TSDB with a WAL watcher, so the
// WAL is the queue's durable backlog while a receiver is down, sent in
// order once it is back. The queues shard, batch, retry on 5xx, 429 (with
// retry_on_http_429) and network errors only, and count what they send,
// retry and drop in Prometheus' prometheus_remote_storage_* metrics.
//
// What departs from a Prometheus server: the metrics named in
// Options.Exclude are never sent (augur leaves out augur_input, the
// source's own series, of which the source is the system of record);
// there is no scrape manager, so no metric metadata is sent; and, as in
// Prometheus, a queue sends only samples newer than its start, so what
// augur writes for the time it was down (the gap a restart fills from the
// source) stays in its own TSDB.
package remotewrite

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage/remote"
)

// Options configures New.
type Options struct {
	// TSDBDir is the folder of the TSDB whose write-ahead log (its wal/)
	// the queues tail.
	TSDBDir string
	// Configs are the remote_write blocks, validated (config.Parse).
	Configs []*promconfig.RemoteWriteConfig
	// ExternalLabels are added to every series sent that lacks them.
	ExternalLabels labels.Labels
	// Exclude are metric names no queue sends, whatever its
	// write_relabel_configs.
	Exclude []string
	// FlushDeadline bounds how long Close waits for the queues to send
	// what they hold (Prometheus' --storage.remote.flush-deadline).
	FlushDeadline time.Duration
	Logger        *slog.Logger
	Registerer    prometheus.Registerer
}

// Writer is the running remote write of one TSDB. Notify and Close are
// safe for concurrent use.
type Writer struct {
	ws *remote.WriteStorage
}

// New starts a queue for each of opts.Configs. Give the Writer to the
// TSDB's SetWriteNotified, so that the queues read each commit at once
// rather than every 15 s.
func New(opts Options) (*Writer, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := &promconfig.Config{GlobalConfig: promconfig.GlobalConfig{ExternalLabels: opts.ExternalLabels}}
	var rules []*relabel.Config
	if len(opts.Exclude) > 0 {
		rules = []*relabel.Config{exclude(opts.Exclude)}
	}
	for _, c := range opts.Configs {
		c := *c
		c.WriteRelabelConfigs = append(rules[:len(rules):len(rules)], c.WriteRelabelConfigs...)
		cfg.RemoteWriteConfigs = append(cfg.RemoteWriteConfigs, &c)
	}
	ws := remote.NewWriteStorage(opts.Logger, opts.Registerer, opts.TSDBDir, opts.FlushDeadline, noScraper{}, false)
	if err := ws.ApplyConfig(cfg); err != nil {
		ws.Close()
		return nil, fmt.Errorf("cannot start remote write: %w", err)
	}
	return &Writer{ws: ws}, nil
}

// Notify tells the queues that the TSDB committed samples.
func (w *Writer) Notify() { w.ws.Notify() }

// Close stops the queues once they have sent what they hold or the flush
// deadline has passed.
func (w *Writer) Close() error { return w.ws.Close() }

// Check builds the HTTP client of each block, as New does, so that an
// unreadable CA or credentials file is reported before augur starts.
func Check(configs []*promconfig.RemoteWriteConfig) error {
	var errs []error
	for i, c := range configs {
		if _, err := remote.NewWriteClient(fmt.Sprint(i), &remote.ClientConfig{
			URL: c.URL, WriteProtoMsg: c.ProtobufMessage, Timeout: c.RemoteTimeout,
			HTTPClientConfig: c.HTTPClientConfig, SigV4Config: c.SigV4Config, AzureADConfig: c.AzureADConfig,
			GoogleIAMConfig: c.GoogleIAMConfig, Headers: c.Headers, RetryOnRateLimit: c.QueueConfig.RetryOnRateLimit,
			RoundRobinDNS: c.RoundRobinDNS,
		}); err != nil {
			errs = append(errs, fmt.Errorf("remote_write[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// exclude is the relabel rule, first of every queue's, that drops the
// series of the named metrics.
func exclude(names []string) *relabel.Config {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	return &relabel.Config{
		SourceLabels:         model.LabelNames{model.MetricNameLabel},
		Regex:                relabel.MustNewRegexp(strings.Join(quoted, "|")),
		Action:               relabel.Drop,
		Separator:            relabel.DefaultRelabelConfig.Separator,
		NameValidationScheme: model.LegacyValidation,
	}
}

// noScraper is the scrape manager augur does not have: the queues' metadata
// watchers, which would send the scraped targets' metric metadata, wait
// for it forever.
type noScraper struct{}

func (noScraper) Get() (*scrape.Manager, error) {
	return nil, errors.New("augur scrapes no targets")
}
