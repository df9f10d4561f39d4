// Package engine is augur's engine: one pipeline per series (fit on
// history, update on every new point, refit on schedule), anomaly scores,
// per-entity failure probabilities and times to limit. It pulls data through
// ingest.Source and computes with model; it serves nothing itself: api reads
// its state through the methods of Engine.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/storage"

	"github.com/augur-sre/augur/history"
	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/model"
)

// Signal is a configured query whose series the engine models.
type Signal struct {
	Name       string
	SourceName string
	Source     ingest.Source
	Query      string
	// Entity is the label naming the entity a series belongs to (e.g. "instance").
	Entity string
	// Limit is the static capacity; NaN when there is none or LimitQuery is set.
	Limit float64
	// LimitQuery, when set, is evaluated on Source and matched to series by the Entity label.
	LimitQuery string
	// Labels are added to every series of the signal.
	Labels map[string]string
	// Relabel rewrites the source labels of every series and limit series
	// of the signal, with Prometheus' relabelling semantics, before the
	// Entity label is read from them; a series a rule drops is ignored.
	Relabel []*relabel.Config
}

// Store is where the engine keeps its series: *history.DB.
type Store interface {
	storage.Appendable
	storage.Queryable
}

// Options configures an Engine.
type Options struct {
	Signals            []Signal
	Step               time.Duration
	History            time.Duration
	RefitInterval      time.Duration
	EvaluationInterval time.Duration // in source time: the demo's clock may run faster than the wall clock
	Horizon            time.Duration
	MaxGap             time.Duration
	FailureThreshold   float64
	// Now is the present of the sources (the demo's clock); default time.Now.
	Now func() time.Time
	// Tick is the wall-clock pause between evaluations; default EvaluationInterval.
	Tick time.Duration
	// Store is the engine's time-series store, the embedded TSDB: each
	// evaluation appends the points the series gained and the engine's
	// outputs (see appendOutputs), and refits read the series' history
	// back from it. Samples at or before AppendedUntil, what the TSDB held
	// at start, are not written again. Without a Store the engine keeps a
	// temporary TSDB that Close removes.
	Store         Store
	AppendedUntil time.Time
	// FitConcurrency bounds the goroutines that fit models; default
	// GOMAXPROCS.
	FitConcurrency int
	// Capacity makes every State carry the limited series' capacity plans
	// at Horizon, which the CapacityExhaustion rule reads; a replay needs
	// none.
	Capacity bool
	// FailureModel is FailureModelCalibrated (the default, also when
	// empty), FailureModelLSTM or FailureModelAuto: see failureProbability.
	FailureModel string
	// Learned configures the learned model's training; its zero value is
	// model.FailureModelOptions' defaults (the seed's architecture), its
	// Window and Horizon are the engine's.
	Learned model.FailureModelOptions
	// Incidents lists known failures; nil when no source knows any.
	Incidents ingest.IncidentLister
	// Owner decides which entities this engine models when replicas
	// share a fleet; nil owns them all. Series of other entities are
	// dropped as the sources return them.
	Owner      Owner
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Owner is the share of the fleet a replica models (cluster.Ring,
// cluster.Static).
type Owner interface {
	Owns(entity string) bool
	// Changed receives a value when ownership may have changed; nil
	// when it never does.
	Changed() <-chan struct{}
}

// Engine fits and updates the models of every series of every signal.
// Its exported methods are safe for concurrent use; Run must be called once.
type Engine struct {
	opts    Options
	step    int64 // ms
	horizon int   // steps
	logger  *slog.Logger
	metrics *engineMetrics

	store Store
	// closeStore closes a temporary store, nil for the caller's.
	closeStore func() error
	fits       fitter
	// resumeCompactions is set by the first evaluation for the first
	// batch of fits; only the Run goroutine uses it.
	resumeCompactions func()
	// window is the number of recent points a series keeps.
	window int

	mu      sync.RWMutex
	signals []*signalState
	// byKey holds every series of every signal in key order; fetch
	// rebuilds it when it adds a series, reown when it drops some.
	byKey     []*series
	incidents []ingest.Incident
	// incidentsFrom is the start (Unix ms) of the window incidents were
	// listed for: before it, the absence of an incident is not known.
	incidentsFrom int64
	// incidentsFailing is set while listing the incidents fails.
	incidentsFailing bool
	calib            model.Calibrator
	calibErr         error
	// calibs are the calibrations in use over the last History, oldest
	// first (see setCalibration).
	calibs []datedCalibration
	// fm is the learned failure model (Options.FailureModel).
	fm learned
	// restored holds the snapshot's model choice for each series' first fit,
	// restoredEntities its entities' channels until their entities have
	// all their series (see resumeEntity).
	restored         map[string]string
	restoredEntities map[string]restoredChannel
	// restoredModels are the models file's fits (ReadModels), installed
	// at the series' first fits instead of fitting them.
	restoredModels map[string]*fitResult
	// replayed is the end of the calibration replay adopted by this
	// engine or the one whose snapshot it restored; zero when none was.
	replayed time.Time
	evalTime time.Time
	lastFit  time.Time
	ready    bool
	// unfitted counts the series that became due a first fit since the
	// last batch was queued (see series.dueFirstFit): they get it at the
	// next evaluation rather than at the next refit.
	unfitted int

	// entities are the entities' multivariate channels, by entity.
	entities map[string]*entityState

	// entityRefs are the TSDB series of the failure probabilities; only
	// the Run goroutine uses them.
	entityRefs map[string]*entityRefs
	// fetch's scratch, the Run goroutine's: fetchGen counts its calls.
	feeds    []feed
	keyBuf   []byte
	keyNames []string
	fetchGen uint64
	// held are the appenders of the chunk being fetched, committed once
	// every signal of it is appended (see commitHeld); heldMu guards it
	// against fetch's shards.
	heldMu sync.Mutex
	held   []*appender
	// backfill takes the chunks' samples older than the head takes in
	// order, backfilled of them so far; nil when the head takes them.
	backfill   *history.Backfill
	backfilled int

	// state is the last evaluation's State; rounds counts the States
	// built with capacity plans, which stagger the times to limit (see
	// timesToLimit). Only the Run goroutine uses rounds.
	state  atomic.Pointer[State]
	rounds int
	// capIndex is the capacity index of the last State indexed, which
	// pub builds after each State is published.
	capIndex atomic.Pointer[capacityIndex]
	pub      publisher
	// replay is set on Replay's engines, whose States carry no capacity
	// plans: nothing asks a replay for them.
	replay bool
}

type signalState struct {
	Signal
	// entityLabel names the entity on the engine's outputs: Entity,
	// renamed as ExportedLabel renames target labels.
	entityLabel string
	series      map[string]*series
	// bySource finds what an earlier fetch made of a series by its source
	// labels (see sourceKey) without relabelling them or building its
	// label set again; reown empties it.
	bySource    map[string]sourceRef
	limits      map[string]float64 // entity value -> latest limit
	lastFetched int64              // ms, last grid point fetched
	lastSuccess time.Time
	err         error
	stale       bool
	// report is what the evaluation's fetches found, which only the Run
	// goroutine uses; problems and health are what it made of the last
	// one that fetched (see updateHealth).
	report   fetchReport
	problems []Problem
	health   Health
}

// New validates the options and returns an engine ready to Run.
func New(opts Options) (*Engine, error) {
	if len(opts.Signals) == 0 {
		return nil, errors.New("no signals configured")
	}
	if opts.Step <= 0 || opts.History < 2*opts.Step || opts.Horizon < opts.Step {
		return nil, fmt.Errorf("invalid step %s, history %s or horizon %s", opts.Step, opts.History, opts.Horizon)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.EvaluationInterval <= 0 {
		opts.EvaluationInterval = opts.Step
	}
	if opts.Tick <= 0 {
		opts.Tick = opts.EvaluationInterval
	}
	if opts.RefitInterval <= 0 {
		opts.RefitInterval = time.Hour
	}
	if opts.FailureThreshold <= 0 || opts.FailureThreshold > 1 {
		opts.FailureThreshold = 0.8
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FitConcurrency <= 0 {
		opts.FitConcurrency = runtime.GOMAXPROCS(0)
	}
	e := &Engine{
		opts:    opts,
		step:    opts.Step.Milliseconds(),
		horizon: int(opts.Horizon / opts.Step),
		logger:  opts.Logger.With("component", "engine"),
		metrics: newEngineMetrics(opts.Registerer),

		entities:   map[string]*entityState{},
		entityRefs: map[string]*entityRefs{},
		store:      opts.Store,
		fits:       fitter{wake: make(chan struct{}, 1), install: make(chan struct{}, 1)},
	}
	e.window = recentWindow(e.horizon)
	if e.store == nil {
		db, err := history.OpenTemp(opts.Logger)
		if err != nil {
			return nil, err
		}
		e.store, e.closeStore = db, db.Close
	}
	for _, s := range opts.Signals {
		e.signals = append(e.signals, &signalState{Signal: s, entityLabel: ExportedLabel(s.Entity), series: map[string]*series{}, bySource: map[string]sourceRef{}, limits: map[string]float64{}, health: HealthUnknown})
	}
	return e, nil
}

// Run loads history, fits every series and then evaluates every Tick until
// ctx is done. Fits run in the background: an evaluation installs the
// models fitted since the previous one, Run installs them between
// evaluations too once installEvery wait, and the end of a batch of fits
// starts an evaluation at once. It returns nil on cancellation.
//
// When the Owner's share changes, the series of entities no longer owned
// are dropped and the next evaluation fetches the history again, which
// the series of newly owned entities take whole, then fits them.
func (e *Engine) Run(ctx context.Context) error {
	e.evaluateOnce(ctx, false)
	ticker := time.NewTicker(e.opts.Tick)
	defer ticker.Stop()
	var changed <-chan struct{}
	if e.opts.Owner != nil {
		changed = e.opts.Owner.Changed()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-e.fits.wake:
		case <-e.fits.install:
			e.installFits(ctx)
			continue
		case <-changed:
			e.reown()
		}
		e.evaluateOnce(ctx, false)
	}
}

// reown drops the series and entity channels of the entities the Owner no
// longer gives this engine, and makes the next evaluation fetch the whole
// history again: the series of the entities it gained take all of it (a
// series it kept only the points it lacks), and are fitted as new series
// are. Only the Run goroutine calls it.
func (e *Engine) reown() {
	dropped := 0
	e.mu.Lock()
	for _, sig := range e.signals {
		for key, s := range sig.series {
			if !e.opts.Owner.Owns(s.entity) {
				delete(sig.series, key)
				dropped++
			}
		}
		// Its entries name series and entities whose ownership changed.
		clear(sig.bySource)
		sig.lastFetched = 0
	}
	e.sortSeries()
	for entity := range e.entities {
		if !e.opts.Owner.Owns(entity) {
			delete(e.entities, entity)
		}
	}
	// What the TSDB held at start is not what the new entities need.
	e.opts.AppendedUntil = time.Time{}
	// The series it gained count once fitted; those it lost, now.
	e.countSeries()
	e.mu.Unlock()
	for entity := range e.entityRefs {
		if !e.opts.Owner.Owns(entity) {
			delete(e.entityRefs, entity)
		}
	}
	e.logger.Info("ownership changed: fetching the history of new entities", "series_dropped", dropped)
}

// Close releases the engine's temporary store, if it made one.
func (e *Engine) Close() error {
	if e.closeStore == nil {
		return nil
	}
	return e.closeStore()
}

// Evaluate runs one evaluation: it fetches the points every signal gained,
// refits the models and the calibration when RefitInterval has passed (and
// on the first call), records the entities' failure probabilities and
// publishes the State. Unlike Run's evaluations, it waits for the refits
// it starts, so that a replay (augur evaluate) on a simulated clock sees
// each fit at the time it was due. It must not be called concurrently.
func (e *Engine) Evaluate(ctx context.Context) { e.evaluateOnce(ctx, true) }

func (e *Engine) evaluateOnce(ctx context.Context, wait bool) {
	began := time.Now()
	defer func() { e.metrics.evalDuration.Observe(time.Since(began).Seconds()) }()
	e.installFits(ctx)
	if e.lastFit.IsZero() {
		// Before the first fetch writes the history into the TSDB's head,
		// which would start a compaction the first fits must then wait for
		// (see pauseCompactions); the first batch of fits resumes them.
		e.resumeCompactions = e.pauseCompactions()
	}
	e.evaluate(ctx)
	switch {
	case e.lastFit.IsZero() || e.now().Sub(e.lastFit) >= e.opts.RefitInterval:
		e.startRefit(ctx, wait, false)
		e.installFits(ctx)
		e.calibrate()
		e.trainFailureModel(ctx, wait)
	case e.unfitted > 0:
		e.startRefit(ctx, wait, true)
		e.installFits(ctx)
	}
	e.updateEntities()
	// The outputs are in the TSDB before the State that announces them
	// is published, so a query after a reader sees it finds them.
	st := e.buildState()
	e.appendOutputs(ctx, st)
	e.publish(st)
}

// recentWindow is the number of recent points a series keeps: the longest
// growth trend the failure model fits is twice the horizon (see assess),
// and a refit's results must find the points observed while it ran.
func recentWindow(horizon int) int { return min(max(4*horizon, 256), 4096) }

func (e *Engine) now() time.Time { return e.opts.Now() }

// alignDown returns t truncated to the step grid, in ms.
func (e *Engine) alignDown(t time.Time) int64 {
	ms := t.UnixMilli()
	return ms - ms%e.step
}

// fetchChunk bounds the span of one source query: the first fetch of a
// fortnight at one minute for thousands of series would otherwise hold all
// of it in memory at once. Chunks are fetched in time order for every
// signal, so that the TSDB receives them in order.
const fetchChunk = 6 * time.Hour

// evaluate fetches the points each signal gained since its last fetch and
// feeds them to the series' models, which append them and their outputs
// to the TSDB. A source that fails marks its signals stale; they are
// fetched from where they stopped on the next evaluation.
//
// The first fetch covers the history, or, when the TSDB already holds it
// (a restart), what the TSDB lacks and the series' recent windows.
func (e *Engine) evaluate(ctx context.Context) {
	end := e.alignDown(e.now())
	first := end - e.opts.History.Milliseconds()
	if u := e.opts.AppendedUntil.UnixMilli(); !e.opts.AppendedUntil.IsZero() {
		first = max(first, min(u+e.step, end-int64(e.window-1)*e.step))
	}
	for _, sig := range e.signals {
		sig.report = fetchReport{}
	}
	chunk := max(fetchChunk.Milliseconds()/e.step, 1) * e.step
	cut := e.backfillCut()
	// Chunks are aligned to multiples of their span, so that the blocks
	// the backfills write fit the TSDB's compaction ranges.
	prog := newProgress(e.logger, "fetching the history", "chunks", int(end/chunk-first/chunk)+1)
	for i, cs := 0, first; cs <= end; i, cs = i+1, (cs/chunk+1)*chunk {
		prog.done(i)
		ce := min((cs/chunk+1)*chunk-e.step, end)
		fetched := false
		for _, sig := range e.signals {
			start := max(cs, sig.lastFetched+e.step)
			if sig.report.err != nil || start > ce {
				continue
			}
			// The series the chunks before showed are what the rest of
			// the fetch likely holds.
			if e.backfill == nil && start < cut {
				e.backfill = e.newBackfill(len(e.byKey) * int((cut-cs)/e.step))
			}
			if err := e.fetch(ctx, sig, start, ce); err != nil {
				sig.report.fetched, sig.report.err = true, err
				e.metrics.errors.WithLabelValues("ingest").Inc()
				// Logged once as a problem of the signal (updateHealth),
				// not at every evaluation of an outage.
				e.logger.Debug("cannot fetch signal", "signal", sig.Name, "source", sig.SourceName, "err", err)
				e.mu.Lock()
				sig.err, sig.stale = err, true
				e.mu.Unlock()
				e.metrics.sourceUp.WithLabelValues(sig.SourceName).Set(0)
				continue
			}
			e.metrics.sourceUp.WithLabelValues(sig.SourceName).Set(1)
			e.metrics.lastSuccess.WithLabelValues(sig.Name).Set(float64(time.Now().Unix()))
			fetched = true
		}
		e.commitHeld()
		// Only after a chunk that wrote the head's past: an evaluation of
		// the newest minute passes the history's chunks by, and mapping the
		// whole head at each was a sixth of its CPU at 10k series.
		if fetched && e.backfill == nil && ce < end {
			e.mmapHead()
		}
		// A backfill holds its samples in memory until it writes them.
		if e.backfilled >= backfillFlush || ce >= end {
			e.flushBackfill(ctx, e.backfill)
			e.backfill, e.backfilled = nil, 0
		}
	}
	for _, sig := range e.signals {
		e.updateHealth(sig)
	}
	e.mu.Lock()
	e.evalTime = time.UnixMilli(end)
	e.mu.Unlock()
	e.RefreshIncidents(ctx)
}

// RefreshIncidents re-reads the known incidents of the history window up
// to the end of the current step (an incident an Alertmanager reports
// seconds into a minute counts in that minute); evaluations do it.
// Calibration only labels predictions a horizon old, so this step of
// lookahead teaches it nothing it should not know. Incidents a lister
// returns along with an error (some of its sources failed) are kept.
func (e *Engine) RefreshIncidents(ctx context.Context) {
	if e.opts.Incidents == nil {
		return
	}
	end := time.UnixMilli(e.alignDown(e.now()) + e.step)
	from := end.Add(-e.opts.History)
	inc, err := e.opts.Incidents.Incidents(ctx, from, end)
	// Logged when the listing starts failing and when it recovers, not at
	// every evaluation of an outage.
	e.mu.Lock()
	failing := e.incidentsFailing
	e.incidentsFailing = err != nil
	if err == nil || inc != nil {
		e.incidents, e.incidentsFrom = inc, from.UnixMilli()
	}
	e.mu.Unlock()
	switch {
	case err != nil && !failing:
		e.logger.Warn("cannot list incidents", "err", err)
	case err != nil:
		e.logger.Debug("cannot list incidents", "err", err)
	case failing:
		e.logger.Info("incidents listed again")
	}
}

// feed is a series and the samples a fetch got for it.
type feed struct {
	s       *series
	samples []ingest.Sample
}

// sourceRef is what a fetch made of a source series: the series it feeds,
// or, when another replica owns its entity, that entity alone (s nil), so
// that the next fetch asks the Owner again without relabelling it.
type sourceRef struct {
	s      *series
	entity string
}

// sourceKey appends to dst a canonical form of a source's label set, its
// names sorted (in names, which it returns grown), as fetch's lookup of
// series by source labels uses it.
func sourceKey(dst []byte, names []string, l map[string]string) ([]byte, []string) {
	for k := range l {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		dst = append(dst, k...)
		dst = append(dst, 0xff)
		dst = append(dst, l[k]...)
		dst = append(dst, 0xff)
	}
	return dst, names
}

// owns reports whether the engine models the entity's series.
func (e *Engine) owns(entity string) bool { return e.opts.Owner == nil || e.opts.Owner.Owns(entity) }

// commitHeld commits the appenders fetch left for the chunk. A commit
// moves the TSDB head's newest time to the chunk's end, and from then on
// the head takes a sample more than half a block (an hour) older than
// that only out of order, at several times the cost: had each shard or
// signal committed alone, every later one would have sent its six hours
// of the first start's history down that path.
func (e *Engine) commitHeld() {
	for _, a := range e.held {
		e.backfilled += a.backfilled
		e.commit(a)
	}
	clear(e.held)
	e.held = e.held[:0]
}

func (e *Engine) fetch(ctx context.Context, sig *signalState, start, end int64) error {
	qctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	from, to := time.UnixMilli(start), time.UnixMilli(end)
	got, err := sig.Source.Range(qctx, sig.Query, from, to, e.opts.Step)
	if err != nil {
		return err // the sources name the query and the server
	}
	var limits []ingest.Series
	if sig.LimitQuery != "" {
		limits, err = sig.Source.Range(qctx, sig.LimitQuery, from, to, e.opts.Step)
		if err != nil {
			return fmt.Errorf("limit_query: %w", err)
		}
	}
	maxGap := int(e.opts.MaxGap / e.opts.Step)

	e.mu.Lock()
	defer e.mu.Unlock()
	var r fetchReport
	defer sig.report.merge(&r)
	r.addLimits(sig.limits, &sig.Signal, limits)
	// The series are looked up one by one, then fed in parallel, each
	// shard of them through its own TSDB appender.
	feeds := e.feeds[:0]
	added := false
	e.fetchGen++
	for _, in := range got {
		e.keyBuf, e.keyNames = sourceKey(e.keyBuf[:0], e.keyNames[:0], in.Labels)
		ref, hit := sig.bySource[string(e.keyBuf)]
		// The Owner is asked at every fetch: the share may have changed
		// since the last one, before reown empties the cache. A series
		// whose entity changed hands takes the long way.
		if hit && e.owns(ref.entity) == (ref.s != nil) {
			r.series++ // its entity is known
			if ref.s == nil {
				continue
			}
		} else {
			src, keep := sig.relabel(in.Labels)
			if !keep {
				continue
			}
			entity, ok := r.entityOf(&sig.Signal, src, false)
			if !ok {
				continue
			}
			// Counted above: the signal's health is the source's, whoever
			// owns the entity.
			if !e.owns(entity) {
				sig.bySource[string(e.keyBuf)] = sourceRef{entity: entity}
				continue
			}
			labels := seriesLabels(&sig.Signal, src)
			key := LabelsKey(labels)
			s := sig.series[key]
			if s == nil {
				s = newSeries(sig, labels, entity, key, e.window, e.step)
				sig.series[key] = s
				e.joinEntity(s)
				added = true
			}
			ref = sourceRef{s: s, entity: entity}
			sig.bySource[string(e.keyBuf)] = ref
		}
		// Two source series with one identity feed it once.
		if ref.s.fetchGen == e.fetchGen {
			continue
		}
		ref.s.fetchGen = e.fetchGen
		feeds = append(feeds, feed{ref.s, in.Samples})
	}
	forShards(len(feeds), func(lo, hi int) {
		a := e.newAppender(ctx, e.backfill)
		var buf []ingest.Sample
		for _, f := range feeds[lo:hi] {
			s := f.s
			buf = ingest.Align(buf[:0], f.samples, max(start, s.lastT+e.step), end, e.step, maxGap)
			for _, p := range buf {
				s.observe(a, p.T, p.V)
			}
			s.counterLike = s.counterLike || ingest.LooksLikeCounter(f.samples)
		}
		e.heldMu.Lock()
		e.held = append(e.held, a)
		e.heldMu.Unlock()
	})
	for _, f := range feeds {
		if f.s.dueFirstFit() {
			e.unfitted++
		}
	}
	clear(feeds)
	e.feeds = feeds[:0]
	for _, s := range sig.series {
		s.limit = sig.Limit
		if v, ok := sig.limits[s.entity]; ok {
			s.limit = v
		}
	}
	if added {
		e.sortSeries()
	}
	sig.lastFetched = end
	sig.lastSuccess = time.Now()
	sig.err, sig.stale = nil, false
	return nil
}

// sortSeries rebuilds e.byKey from the signals' series. The caller holds
// e.mu for writing. The list is a new one: what selectSeries returned
// before stays as it was.
func (e *Engine) sortSeries() {
	n := 0
	for _, sig := range e.signals {
		n += len(sig.series)
	}
	byKey := make([]*series, 0, n)
	for _, sig := range e.signals {
		for _, s := range sig.series {
			byKey = append(byKey, s)
		}
	}
	slices.SortFunc(byKey, func(a, b *series) int { return strings.Compare(a.key, b.key) })
	e.byKey = byKey
}

func lastValue(ss []ingest.Sample) (float64, bool) {
	for i := len(ss) - 1; i >= 0; i-- {
		if v := ss[i].V; !math.IsNaN(v) && !math.IsInf(v, 0) {
			return v, true
		}
	}
	return 0, false
}

// Ready reports whether every signal has a fitted model or a reported
// error, as of the published State.
func (e *Engine) Ready() bool { return e.State().Ready }

// Incidents returns the known incidents.
func (e *Engine) Incidents() []ingest.Incident {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return append([]ingest.Incident(nil), e.incidents...)
}

// Now returns the time of the latest evaluation.
func (e *Engine) Now() time.Time {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.evalTime
}
