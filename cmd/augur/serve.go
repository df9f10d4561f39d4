package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/augur-sre/augur/api"
	"github.com/augur-sre/augur/config"
	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/history"
	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/remotewrite"
	"github.com/augur-sre/augur/store"
)

type serveFlags struct {
	configFile    string
	configPrint   bool
	listen        string
	storage       string
	retention     time.Duration
	fitWorkers    int
	demoSpeed     float64
	demoStart     string
	readTimeout   time.Duration
	webConfig     string
	replaySpan    time.Duration
	flushDeadline time.Duration
	failure       string
	memoryLimit   units.Base2Bytes
	memoryLimitOn bool // --memory.limit was given
	alerting      alertingFlags
	cluster       clusterFlags
	query         queryFlags
}

func serveCommand(app *kingpin.Application) *command {
	var f serveFlags
	c := &command{clause: app.Command("serve", "Run the augur service (the embedded demo fleet when no --config.file is given).").Default()}
	c.clause.Flag("config.file", "augur configuration file. Without it, augur runs the embedded demo (see --config.print).").StringVar(&f.configFile)
	c.clause.Flag("config.print", "Print the configuration in effect (the embedded demo's without --config.file) and exit.").BoolVar(&f.configPrint)
	c.clause.Flag("web.listen-address", "Address to listen on for the API, /metrics and the Prometheus-compatible query API.").Default(":9477").StringVar(&f.listen)
	c.clause.Flag("web.config.file", "Path to a configuration file that can enable TLS or authentication (Prometheus' exporter-toolkit format).").Default("").StringVar(&f.webConfig)
	c.clause.Flag("web.read-timeout", "Maximum duration before timing out read of the request (of its headers: the lesser of this and 30s), and closing idle connections.").Default("5m").DurationVar(&f.readTimeout)
	c.clause.Flag("storage.path", "Folder of augur's own data: the embedded TSDB of inputs and outputs (tsdb/) and the store of incidents, alert state and model snapshots (augur.db).").Default("data/").StringVar(&f.storage)
	c.clause.Flag("memory.limit", "Soft limit of the Go runtime's memory (debug.SetMemoryLimit, as GOMEMLIMIT), e.g. 2GiB: near it the garbage collector runs more often rather than let the heap grow by GOGC's headroom; 0 for none. Default: 90% of the cgroup's memory limit when one is set (as Prometheus' --auto-gomemlimit), else GOMEMLIMIT's or none.").IsSetByUser(&f.memoryLimitOn).BytesVar(&f.memoryLimit)
	c.clause.Flag("fit.concurrency", "Goroutines that fit models, off the evaluation path. Default: GOMAXPROCS.").Default("0").IntVar(&f.fitWorkers)
	c.clause.Flag("storage.retention", "How long the embedded TSDB keeps samples. Default: the longer of the configured history and 15d.").Default("0s").DurationVar(&f.retention)
	c.clause.Flag("storage.remote.flush-deadline", "How long to wait, at shutdown, for the remote_write queues to send what they hold.").Default("1m").DurationVar(&f.flushDeadline)
	c.clause.Flag("calibration.replay", "At start, replay this much of the past through a second engine in the background, to learn the calibration against known incidents and serve past failure probabilities; 0 disables. Default: the history less two days.").Default("-1s").DurationVar(&f.replaySpan)
	c.clause.Flag("failure.model", "What maps an entity's evidence to its failure probability: calibrated, lstm (the LSTM trained on the known incidents, once there are enough) or auto (the LSTM where it beats the calibration on held-out incidents). Default: the config's global.failure_model.").EnumVar(&f.failure, config.FailureModelCalibrated, config.FailureModelLSTM, config.FailureModelAuto)
	c.clause.Flag("failure-model", "Another name of --failure.model.").Hidden().EnumVar(&f.failure, config.FailureModelCalibrated, config.FailureModelLSTM, config.FailureModelAuto)
	c.clause.Flag("demo.speed", "Demo seconds per real second for demo sources (e.g. 1440 lets a demo day pass in a minute); overrides the source's speed.").Default("0").Float64Var(&f.demoSpeed)
	c.clause.Flag("demo.start", "Demo anchor time (RFC 3339): the demo's present at start. Default: now. Fix it to replay the same demo.").StringVar(&f.demoStart)
	f.alerting.register(c.clause)
	f.query.register(c.clause)
	f.cluster.register(c.clause)
	c.run = func(ctx context.Context, logger *slog.Logger) error { return serve(ctx, logger, f) }
	return c
}

// defaultGOGC is Prometheus' (config.DefaultGoGCPercentage).
const defaultGOGC = 75

func serve(ctx context.Context, logger *slog.Logger, f serveFlags) error {
	cfg := config.Default()
	if f.configFile != "" {
		var err error
		if cfg, err = config.Load(f.configFile); err != nil {
			return err
		}
	}
	if f.failure != "" {
		cfg.Global.FailureModel = f.failure
	}
	if f.configPrint {
		fmt.Print(cfg.String())
		return nil
	}
	// As Prometheus does: a GOGC of 75 unless the environment sets one.
	// The heap then grows to 1.75 times what is live between collections,
	// not twice, for a little more of the collector's CPU.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	limit, from, ok, err := memoryLimit(int64(f.memoryLimit), f.memoryLimitOn, os.Getenv("GOMEMLIMIT"), os.DirFS("/"))
	switch {
	case err != nil && f.memoryLimitOn:
		return err
	case err != nil:
		logger.Warn("no memory limit", "err", err)
	case ok:
		debug.SetMemoryLimit(limit)
		logger.Info("memory limit", "bytes", limit, "from", from)
	}
	if f.demoSpeed < 0 || math.IsNaN(f.demoSpeed) || math.IsInf(f.demoSpeed, 0) {
		return fmt.Errorf("--demo.speed must be a positive number, got %v", f.demoSpeed)
	}
	var demoStart time.Time
	if f.demoStart != "" {
		var err error
		if demoStart, err = time.Parse(time.RFC3339, f.demoStart); err != nil {
			return fmt.Errorf("--demo.start: %w", err)
		}
	}
	if err := web.Validate(f.webConfig); err != nil {
		return fmt.Errorf("--web.config.file: %w", err)
	}
	// The address is bound before anything else starts, so that a port in
	// use fails at once: before a source is asked or the storage opened.
	l, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("cannot listen on --web.listen-address: %w", err)
	}
	defer l.Close()
	if err := os.MkdirAll(f.storage, 0o755); err != nil {
		return fmt.Errorf("cannot create --storage.path: %w", err)
	}

	srcs, err := buildSources(cfg, demoOverrides{speed: f.demoSpeed, start: demoStart}, logger)
	if err != nil {
		return err
	}
	if err := checkQueries(ctx, cfg, srcs, logger); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts, err := engineOptions(cfg, srcs)
	if err != nil {
		return err
	}
	opts.Logger, opts.Registerer, opts.Capacity, opts.FitConcurrency = logger, reg, true, f.fitWorkers
	st, err := openStore(f.storage, f.alerting, reg, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	opts.Incidents = store.Lister(opts.Incidents, st)
	hist, err := history.Open(f.storage, history.Options{
		Retention: retention(f.retention, opts.History),
		// A first fit writes the outputs of the past it read after the
		// evaluations have moved on (see forecast's warm), and the
		// calibration replay the past failure probabilities.
		OutOfOrderWindow: max(opts.History, 2*24*time.Hour),
		Logger:           logger, Registerer: reg,
	})
	if err != nil {
		return err
	}
	defer hist.Close()
	opts.Store, opts.AppendedUntil = hist, hist.MaxTime()
	if len(cfg.RemoteWrite) > 0 {
		// Stopped after the engine, which the run group stops, and before
		// the TSDB whose WAL it tails: deferred after the TSDB's close.
		rw, err := startRemoteWrite(cfg, hist, f.flushDeadline, reg, logger)
		if err != nil {
			return err
		}
		defer rw.Close()
	}
	share, leave, err := f.cluster.joinFleet(ctx, f.listen, f.webConfig, f.storage, reg, logger)
	if err != nil {
		return err
	}
	peerClient, err := f.cluster.peerClient()
	if err != nil {
		return err
	}
	var fleet api.Cluster
	if share != nil {
		opts.Owner, fleet = share, share
	}
	eng, err := engine.New(opts)
	if err != nil {
		return fmt.Errorf("cannot start the engine: %w", err)
	}
	resumed := restoreSnapshot(st, eng, logger)
	restoreModels(f.storage, eng, logger)
	a := api.New(api.Options{Engine: eng, Logger: logger, Registry: reg, MaxExportedSeries: cfg.Global.MaxExportedSeries,
		Cluster: fleet, FanoutTimeout: f.cluster.fanoutTimeout, FanoutClient: peerClient,
		Query: f.query.engine(hist, eng, opts, f.cluster.peerStorage(share, peerClient, f.query.maxSamples), logger, reg)})
	al, err := setupAlerting(f.alerting, f.listen, cfg, eng, a, st, reg, opts, logger)
	if err != nil {
		return err
	}
	srv := &http.Server{ReadTimeout: f.readTimeout, ReadHeaderTimeout: min(f.readTimeout, 30*time.Second), WriteTimeout: 2 * time.Minute, IdleTimeout: f.readTimeout}

	var g run.Group
	{
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			<-ctx.Done()
			return nil
		}, func(error) { cancel() })
	}
	{
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			if share != nil {
				share.Settle(ctx)
			}
			logger.Info("starting engine", "signals", len(opts.Signals), "history", opts.History, "step", opts.Step)
			return eng.Run(ctx)
		}, func(error) {
			logger.Info("stopping engine")
			cancel()
		})
	}
	if span := replaySpan(f.replaySpan, opts.History); span > 0 && !resumed {
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			replayPast(ctx, logger, eng, opts, span, hist.MinTime)
			<-ctx.Done()
			return nil
		}, func(error) { cancel() })
	}
	{
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			return a.Run(ctx, srv, l, f.webConfig)
		}, func(error) {
			logger.Info("stopping web server")
			cancel()
		})
	}
	al.addTo(&g, ctx, logger)
	if err := f.cluster.syncIncidents(&g, ctx, share, st, peerClient, reg, logger); err != nil {
		return err
	}
	if leave != nil {
		leave(&g)
	}
	{
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			saveSnapshots(ctx, st, f.storage, eng, logger)
			return nil
		}, func(error) { cancel() })
	}
	if err := g.Run(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	logger.Info("see you next time")
	return nil
}

func engineOptions(cfg *config.Config, srcs *sources) (engine.Options, error) {
	g := cfg.Global
	opts := engine.Options{
		Step:               time.Duration(g.Step),
		History:            time.Duration(g.History),
		RefitInterval:      time.Duration(g.RefitInterval),
		EvaluationInterval: time.Duration(g.EvaluationInterval),
		Horizon:            time.Duration(g.Horizon),
		MaxGap:             time.Duration(g.MaxGap),
		FailureThreshold:   cfg.Alerting.FailureThreshold,
		FailureModel:       g.FailureModel,
		Now:                srcs.now,
		Tick:               time.Duration(float64(g.EvaluationInterval) / srcs.speed),
		Incidents:          srcs.incidents,
	}
	for i := range cfg.Signals {
		sc := &cfg.Signals[i]
		sig := engine.Signal{
			Name: sc.Name, SourceName: sc.Source, Source: srcs.byName[sc.Source],
			Query: sc.Query, Entity: sc.Entity, LimitQuery: sc.LimitQuery, Labels: sc.Labels,
			Limit: math.NaN(), Relabel: cfg.EntityRelabel(sc),
		}
		if sc.Limit != nil {
			sig.Limit = *sc.Limit
		}
		if sig.Source == nil {
			return opts, fmt.Errorf("signal %q: unknown source %q", sc.Name, sc.Source)
		}
		opts.Signals = append(opts.Signals, sig)
	}
	return opts, nil
}

// startRemoteWrite starts the queues of cfg's remote_write blocks on the
// TSDB's WAL; the TSDB notifies them of each commit. What they send is
// what the TSDB holds but the source's own series (augur_input).
func startRemoteWrite(cfg *config.Config, hist *history.DB, flushDeadline time.Duration, reg prometheus.Registerer, logger *slog.Logger) (*remotewrite.Writer, error) {
	external, err := cfg.Global.ExternalLabelSet(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("cannot start remote write: %w", err)
	}
	rw, err := remotewrite.New(remotewrite.Options{
		TSDBDir:        hist.Dir(),
		Configs:        cfg.RemoteWriteConfigs(),
		ExternalLabels: external,
		Exclude:        []string{engine.MetricInput},
		FlushDeadline:  flushDeadline,
		Logger:         logger.With("component", "remote"),
		Registerer:     reg,
	})
	if err != nil {
		return nil, err
	}
	hist.SetWriteNotified(rw)
	logger.Info("remote write started", "queues", len(cfg.RemoteWrite))
	return rw, nil
}

// retention is the TSDB's retention: the flag, or by default the longer of
// the history (what a refit reads back) and Prometheus' 15 days.
func retention(flag, history time.Duration) time.Duration {
	if flag > 0 {
		return flag
	}
	return max(history, 15*24*time.Hour)
}

// replayFit is the history a calibration replay's first fit needs before
// the replay's start.
const replayFit = 48 * time.Hour

// replaySpan is the calibration replay's span: the flag, or by default the
// history less the two days the replay's first fit needs.
func replaySpan(flag, history time.Duration) time.Duration {
	if flag >= 0 {
		return flag
	}
	return max(0, history-replayFit)
}

// replayStart returns where a calibration replay of span ending at end
// starts: never earlier than replayFit after the oldest data the TSDB holds
// (what the first fetch found at the sources), since before that a replay
// has nothing to fit on. ok is false when that leaves nothing to replay.
func replayStart(end time.Time, span time.Duration, dataSince time.Time) (start time.Time, ok bool) {
	start = end.Add(-span)
	if first := dataSince.Add(replayFit); !dataSince.IsZero() && first.After(start) {
		start = first
	}
	return start, start.Before(end)
}

// replayPast waits for the engine's first fit, then replays the past span
// through a second engine on the same sources and hands what it learned to
// the live engine (engine.Engine.Adopt). Sources are only asked for the
// past, so the live engine's clock needs no simulation. The replay starts
// no earlier than the data allows (replayStart), and is skipped, with one
// line saying why, when there is no data to replay or the span holds too
// few incidents for the calibration to learn anything from.
func replayPast(ctx context.Context, logger *slog.Logger, eng *engine.Engine, opts engine.Options, span time.Duration, dataSince func() time.Time) {
	// Ready in the sense of /-/ready: with every source down there is no
	// past to replay.
	for eng.State().Readiness() != nil {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	logger = logger.With("component", "replay")
	end := eng.Now()
	start, ok := replayStart(end, span, dataSince())
	if !ok {
		logger.Info("no calibration replay: the data starts too late for one", "data_since", dataSince(), "fit_needs", replayFit, "now", end)
		return
	}
	if n, err := replayIncidents(ctx, opts.Incidents, start, end); err == nil && n < engine.CalibrationMinIncidents {
		logger.Info("no calibration replay: too few incidents to learn from", "incidents", n, "needed", engine.CalibrationMinIncidents, "from", start, "to", end)
		return
	}
	// A day between refits keeps the replay to seconds per day of history;
	// the replay needs neither metrics nor the live engine's logs.
	opts.RefitInterval, opts.Registerer, opts.Logger = 24*time.Hour, nil, slog.New(slog.DiscardHandler)
	// The live engine trains its own learned failure model, off its
	// evaluation path; the replay's would hold it up for minutes.
	opts.FailureModel = engine.FailureModelCalibrated
	began := time.Now()
	logger.Info("replaying the past to calibrate", "from", start, "to", end)
	r, err := engine.Replay(ctx, opts, start, end, nil, func(day int) {
		logger.Info("replay progress", "day", day, "of", int(span/(24*time.Hour)))
	})
	if err != nil {
		if ctx.Err() == nil {
			logger.Warn("replay failed", "err", err)
		}
		return
	}
	eng.Adopt(ctx, r)
	r.Close()
	c := eng.Calibration()
	logger.Info("replay done", "duration", time.Since(began).Round(time.Second), "calibration_blocks", len(c.Raw), "examples", c.Examples, "positives", c.Positives)
}

// replayIncidents counts the failures known between start and end, those a
// replay's calibration could learn from; the replay itself reports a
// listing that fails.
func replayIncidents(ctx context.Context, l ingest.IncidentLister, start, end time.Time) (int, error) {
	if l == nil {
		return 0, nil
	}
	inc, err := l.Incidents(ctx, start, end)
	return engine.CountFailures(inc), err
}

// snapshotName is the store key of the engine's snapshot.
const snapshotName = "engine"

// restoreSnapshot loads the engine's last snapshot from the store, if any,
// and reports whether it held a calibration learnt from incidents or
// recorded a calibration replay: then no replay of the past is needed to
// resume (the past failure probabilities a replay wrote are in the TSDB,
// the channels it warmed up in the snapshot).
func restoreSnapshot(st *store.Store, eng *engine.Engine, logger *slog.Logger) bool {
	data, err := st.LoadSnapshot(snapshotName)
	if err != nil || data == nil {
		if err != nil {
			logger.Warn("cannot load the engine snapshot; fitting from scratch", "err", err)
		}
		return false
	}
	n, err := eng.Restore(data)
	if err != nil {
		logger.Warn("cannot restore the engine snapshot; fitting from scratch", "err", err)
		return false
	}
	c := eng.Calibration()
	replayed := eng.Replayed()
	logger.Info("resuming from snapshot", "models", n, "calibration_examples", c.Examples, "replayed_until", replayed)
	return !c.Prior || !replayed.IsZero()
}

// saveSnapshots saves the engine's snapshot every five minutes and its
// models every modelsEvery, and both once more when ctx ends, so that a
// restart resumes where the service stopped. Nothing is saved before the
// engine is ready: its first fits may still hold the models a restart
// read.
func saveSnapshots(ctx context.Context, st *store.Store, dir string, eng *engine.Engine, logger *slog.Logger) {
	save := func(models bool) {
		if !eng.Ready() {
			return
		}
		data, err := eng.Snapshot()
		if err == nil {
			err = st.SaveSnapshot(snapshotName, data)
		}
		if err != nil {
			logger.Warn("cannot save the engine snapshot", "err", err)
		}
		if models {
			saveModels(dir, eng, logger)
		}
	}
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	lastModels := time.Now()
	for {
		select {
		case <-ctx.Done():
			save(true)
			return
		case <-t.C:
			due := time.Since(lastModels) >= modelsEvery
			if due {
				lastModels = time.Now()
			}
			save(due)
		}
	}
}

// modelsFile is the file of the series' models in --storage.path, and
// modelsEvery how often it is written while augur runs: a restart installs
// the models a series had at its last save and feeds them the points its
// window fetched since (see engine.ReadModels), so that they go on as if
// augur had not stopped as long as the window, a few hours, covers the
// time since that save. Writing it costs about the models' size (10-12 KB a
// series).
const (
	modelsFile  = "models.bin"
	modelsEvery = 30 * time.Minute
)

// saveModels writes the engine's models to the models file, through a
// temporary file renamed over it, so that a failed write leaves the last
// one.
func saveModels(dir string, eng *engine.Engine, logger *slog.Logger) {
	start := time.Now()
	path := filepath.Join(dir, modelsFile)
	var n int
	// writeFile may rewrite an existing file in place: the rename of its
	// output is what makes the replacement of the models atomic.
	err := writeFile(path+".tmp", func(w io.Writer) (err error) {
		n, err = eng.WriteModels(w)
		return err
	})
	if err == nil {
		err = os.Rename(path+".tmp", path)
	}
	if err != nil {
		logger.Warn("cannot save the models", "file", path, "err", err)
		return
	}
	logger.Info("saved the models", "series", n, "duration", time.Since(start).Round(time.Millisecond))
}

// restoreModels reads the models file, if there is one, for the engine's
// first fits; a file that cannot be read is reported, and every series is
// fitted.
func restoreModels(dir string, eng *engine.Engine, logger *slog.Logger) {
	path := filepath.Join(dir, modelsFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err == nil {
		defer f.Close()
		start := time.Now()
		var n int
		if n, err = eng.ReadModels(f); err == nil {
			logger.Info("read the models file", "file", path, "series", n, "duration", time.Since(start).Round(time.Millisecond))
			return
		}
	}
	logger.Warn("cannot read the models file; fitting every series", "file", path, "err", err)
}
