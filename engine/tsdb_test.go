package engine

import (
	"context"
	"github.com/prometheus/client_golang/prometheus"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/augur-sre/augur/history"
	"github.com/augur-sre/augur/ingest"
)

// countSamples returns the number of samples per metric name the TSDB holds.
func countSamples(t *testing.T, db *history.DB) map[string]int {
	t.Helper()
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	out := map[string]int{}
	ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, "augur_.+"))
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for it.Next() != 0 {
			out[ss.At().Labels().Get(labels.MetricName)]++
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAppendsToTSDB checks that an evaluation writes the history and every
// derived series, and that a second engine on the same TSDB (a restart)
// appends only what is new.
func TestAppendsToTSDB(t *testing.T) {
	db, err := history.Open(t.TempDir(), history.Options{OutOfOrderWindow: 2 * day})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := newDemoEngine(t, "memory connections", Options{Store: db})
	e.Evaluate(context.Background())
	got := countSamples(t, db)
	// Three days at one minute of input for the 16 series, and the last
	// day of every output (backfillSpan; the backfilled one-step forecasts
	// start after two and a half daily periods).
	points, day := 3*24*60, 24*60
	if got[MetricInput] < 16*points-16 {
		t.Errorf("%s: %d samples, want about %d", MetricInput, got[MetricInput], 16*points)
	}
	for _, name := range []string{MetricBandLower, MetricBandUpper, MetricScore} {
		if got[name] < 16*day-16 {
			t.Errorf("%s: %d samples, want about %d", name, got[name], 16*day)
		}
	}
	for _, name := range []string{MetricForecast, MetricForecastLower, MetricForecastUpper} {
		if want := 16 * (points - 5*day/2); got[name] < want {
			t.Errorf("%s: %d samples, want at least %d (the history after the backfill's start)", name, got[name], want)
		}
	}
	if got[MetricFailure] != 8 {
		t.Errorf("%s: %d samples, want one per host (8)", MetricFailure, got[MetricFailure])
	}
	if got[MetricTimeToLimit] == 0 {
		t.Errorf("%s: no samples", MetricTimeToLimit)
	}

	// A restart on the same TSDB: nothing is written twice.
	r := newDemoEngine(t, "memory connections", Options{Store: db, AppendedUntil: db.MaxTime()})
	r.Evaluate(context.Background())
	again := countSamples(t, db)
	if again[MetricInput] != got[MetricInput] {
		t.Errorf("after a restart at the same time: %d input samples, want %d", again[MetricInput], got[MetricInput])
	}
}

// TestQuantize: an output keeps outputBits significant bits, to within
// half a unit of the last, and rounding is idempotent; probabilities keep
// their absolute precision near 1.
func TestQuantize(t *testing.T) {
	rel := math.Ldexp(1, -outputBits)
	for _, v := range []float64{0, 1, -1, 50.123456789, -3.3e-7, 8.123456789e9, 2.6e6, 0.999999, math.Nextafter(2, 0), math.MaxFloat64} {
		q := quantize(v)
		if math.IsInf(q, 0) || math.Abs(q-v) > rel*math.Abs(v) {
			t.Errorf("quantize(%g) = %g: error %g, more than %g relative", v, q, math.Abs(q-v), rel)
		}
		if quantize(q) != q {
			t.Errorf("quantize(%g) = %g, quantize of that %g", v, q, quantize(q))
		}
		if v != math.MaxFloat64 && math.Float64bits(q)&(1<<(52-(outputBits-1))-1) != 0 {
			t.Errorf("quantize(%g) = %g keeps more than %d bits", v, q, outputBits)
		}
	}
	if q := quantize(math.Nextafter(2, 0)); q != 2 {
		t.Errorf("quantize(2-ε) = %g, want the carry into the exponent: 2", q)
	}
	db, err := history.OpenTemp(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := &appender{app: db.Appender(context.Background()), min: math.MinInt64}
	var ref storage.SeriesRef
	l := labels.FromStrings(labels.MetricName, MetricScore)
	a.addProb(&ref, l, 1, 1-1e-5)
	if err := a.app.Commit(); err != nil {
		t.Fatal(err)
	}
	q, err := db.Querier(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, MetricScore))
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for it.Next() != 0 {
			if _, v := it.At(); math.Abs(v-(1-1e-5)) > 1e-6 {
				t.Errorf("a score of 1-1e-5 stored as %v", v)
			}
		}
	}
}

// mmapCounter is an engine's TSDB that counts the calls to map its head.
type mmapCounter struct {
	*history.DB
	calls int
}

func (c *mmapCounter) ForceHeadMMap() {
	c.calls++
	c.DB.ForceHeadMMap()
}

// TestHeadMappedAfterWrites: the first evaluation, which fetches three
// days in chunks, maps the TSDB's head after its chunks; the next, which
// fetches a minute, passes the history's chunks by without mapping it.
func TestHeadMappedAfterWrites(t *testing.T) {
	now := demoAnchor
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Start: demoAnchor, History: 3 * day, Clock: func() time.Time { return now }})
	db, err := history.Open(t.TempDir(), history.Options{OutOfOrderWindow: 3 * day})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := &mmapCounter{DB: db}
	e, err := New(Options{
		Signals: []Signal{{Name: "cpu", SourceName: "demo", Source: demo, Query: "cpu", Entity: "host", Limit: 100}},
		Step:    time.Minute, History: 3 * day, Horizon: time.Hour, Now: demo.Now, Store: c,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.Evaluate(context.Background())
	first := c.calls
	if first == 0 {
		t.Fatal("the first evaluation's fetch of three days never mapped the head")
	}
	now = now.Add(time.Minute)
	e.Evaluate(context.Background())
	if c.calls != first {
		t.Errorf("an evaluation of one minute mapped the head %d times", c.calls-first)
	}
}

// fleetSignals are the demo's three signals of each host from src.
func fleetSignals(src *ingest.Demo) []Signal {
	var sigs []Signal
	for _, name := range []string{"cpu", "memory", "connections"} {
		sigs = append(sigs, Signal{Name: name, SourceName: "demo", Source: src, Query: name, Entity: "host", Limit: 100})
	}
	return sigs
}

// headAppended returns the samples the TSDB registered on reg appended to
// its head in order and out of order.
func headAppended(t *testing.T, reg *prometheus.Registry) (inOrder, ooo float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := func(name string) float64 {
		v := 0.0
		for _, mf := range mfs {
			if mf.GetName() == name {
				for _, m := range mf.GetMetric() {
					v += m.GetCounter().GetValue()
				}
			}
		}
		return v
	}
	return sum("prometheus_tsdb_head_samples_appended_total"), sum("prometheus_tsdb_head_out_of_order_samples_appended_total")
}

// TestHistoryFetchInOrder checks that the first start's fetch of the
// history reaches the TSDB in order: every signal's and shard's samples of
// a chunk are committed together, so none falls behind a head another
// commit has moved on and takes the out-of-order path (four times the
// CPU of the whole fetch at 10k series). The store here offers no
// backfill, which would take most of them (TestFirstFetchBackfills), as a
// fetch too small for one does.
func TestHistoryFetchInOrder(t *testing.T) {
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Hosts: 100, Start: demoAnchor, History: 2 * day, Clock: func() time.Time { return demoAnchor }})
	reg := prometheus.NewRegistry()
	db, err := history.Open(t.TempDir(), history.Options{OutOfOrderWindow: 2 * day, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sigs := fleetSignals(demo)
	headOnly := struct {
		storage.Appendable
		storage.Queryable
	}{db, db}
	e, err := New(Options{Signals: sigs, Step: time.Minute, History: 2 * day, Horizon: time.Hour, Now: demo.Now, Store: headOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.evaluate(context.Background())
	inOrder, ooo := headAppended(t, reg)
	if inOrder < 300*2*1440 || ooo > 0 {
		t.Errorf("the fetch of two days of 300 series appended %g samples in order and %g out of order, want at least %d and none", inOrder, ooo, 300*2*1440)
	}
}

// TestFirstFetchBackfills: a first start's fortnight of a fleet and the
// first fits' past outputs go into blocks, not through the TSDB's head:
// the head takes the first chunk (before the fleet's size is known) and the
// last hour in order, nothing out of order, and every sample can be read
// back, once, after a restart too.
func TestFirstFetchBackfills(t *testing.T) {
	const hosts, hist = 40, 14 * day
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Hosts: hosts, Start: demoAnchor, History: hist, Clock: func() time.Time { return demoAnchor }})
	reg := prometheus.NewRegistry()
	db, err := history.Open(t.TempDir(), history.Options{OutOfOrderWindow: 2 * day, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sigs := fleetSignals(demo)
	opts := Options{Signals: sigs, Step: time.Minute, History: hist, Horizon: time.Hour, Now: demo.Now, Store: db}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.Evaluate(context.Background())

	const series = 3 * hosts
	points := int(hist/time.Minute) + 1
	got := countSamples(t, db)
	if got[MetricInput] != series*points {
		t.Errorf("%s: %d samples, want %d", MetricInput, got[MetricInput], series*points)
	}
	if got[MetricScore] < series*1440 {
		t.Errorf("%s: %d samples, want at least a day of each series (%d)", MetricScore, got[MetricScore], series*1440)
	}
	inOrder, ooo := headAppended(t, reg)
	if inOrder > 0.1*float64(series*points) || ooo > 0 {
		t.Errorf("the head took %g samples in order and %g out of order, want under a tenth of the %d of the history and none", inOrder, ooo, series*points)
	}
	if len(db.Blocks()) == 0 {
		t.Error("no block written")
	}

	opts.AppendedUntil = db.MaxTime()
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Evaluate(context.Background())
	if again := countSamples(t, db); again[MetricInput] != got[MetricInput] || again[MetricScore] != got[MetricScore] {
		t.Errorf("after a restart: %d input and %d score samples, want %d and %d", again[MetricInput], again[MetricScore], got[MetricInput], got[MetricScore])
	}
}
