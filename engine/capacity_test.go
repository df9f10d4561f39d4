package engine

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/augur-sre/augur/history"
	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/internal/plant"
)

// leakSource is an in-memory source of one series: a planted linear leak on
// a daily cycle with AR(1) noise, whose noiseless crossing of a threshold is
// known exactly. It is test data, not a fake server.
type leakSource struct {
	start, end int64 // ms
	step       int64
	values     []float64
}

func (s *leakSource) Range(_ context.Context, _ string, start, end time.Time, step time.Duration) ([]ingest.Series, error) {
	var out ingest.Series
	out.Labels = map[string]string{"host": "cache-1"}
	for i, v := range s.values {
		t := s.start + int64(i)*s.step
		if t >= start.UnixMilli() && t <= end.UnixMilli() {
			out.Samples = append(out.Samples, ingest.Sample{T: t, V: v})
		}
	}
	return []ingest.Series{out}, nil
}

// leakCapacity evaluates an engine on src's one series at now and returns
// its capacity plan against threshold over 30 days.
func leakCapacity(t *testing.T, src *leakSource, step, history time.Duration, now time.Time, threshold float64) Capacity {
	t.Helper()
	eng, err := New(Options{
		Signals: []Signal{{Name: "memory", SourceName: "test", Source: src, Query: "memory", Entity: "host", Limit: 100}},
		Step:    step, History: history, Horizon: time.Hour, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	eng.Evaluate(context.Background())
	caps, _, err := eng.Capacity(CapacityQuery{Threshold: &Threshold{Value: threshold}, Horizon: 30 * day})
	if err != nil || len(caps) != 1 {
		t.Fatalf("capacity at %v against %g: %v, %v", now, threshold, caps, err)
	}
	return caps[0]
}

// TestCapacityETACoverage measures issue 6's target: on series with a
// planted linear leak plus daily seasonality plus AR(1) noise, how often the
// true crossing time falls inside the p10-p90 interval of the capacity ETA,
// over many seeds. The truth is when the noiseless level (trend and daily
// cycle) reaches the threshold, the quantity capacity mode forecasts, taken
// between the two steps that bracket it as the ETA is (model.ETA
// interpolates); the coverage of the first step at or over it is logged
// too. The interval is nominally 80 % and the model is calibrated (the
// level's error at the crossing has standard deviation 1.00 standard
// errors), so the coverage is measured on enough seeds for sampling noise
// not to decide the verdict: on 120 seeds its standard deviation is
// √(0.8·0.2/120) ≈ 3.7 points, on 2000 0.9. Measured: 1796 of 2000
// (89.8 %; 86.0 % with the fortnight's single trend before the regime
// model).
func TestCapacityETACoverage(t *testing.T) {
	// 2000 seeds measure the coverage to ±0.9 points (one standard
	// deviation); -short runs 200 against a looser line.
	seeds, want := uint64(2000), 0.80
	if testing.Short() {
		seeds, want = 200, 0.72
	}
	step := 5 * time.Minute
	history := 14 * day
	inside, insideStep, crossed := 0, 0, 0
	var widths []float64
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 99))
		n := int(history / step)
		slope := (0.5 + 1.5*rng.Float64()) / float64(day/step) // 0.5-2 %/day
		amp := 3 + 4*rng.Float64()
		noise := 0.5 + rng.Float64()
		now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(288)) * step)
		start := now.Add(-history).UnixMilli()
		clean := func(i int) float64 {
			tod := float64((start+int64(i)*step.Milliseconds())%day.Milliseconds()) / float64(day.Milliseconds())
			return 50 + slope*float64(i) + amp*math.Sin(2*math.Pi*tod)
		}
		src := &leakSource{start: start, step: step.Milliseconds()}
		e := 0.0
		for i := range n + 1 {
			e = 0.8*e + noise*rng.NormFloat64()
			src.values = append(src.values, clean(i)+e)
		}
		// The threshold is 2 to 8 days of growth above the last noiseless
		// value; a daily peak can reach it days sooner.
		ahead := 2 + 6*rng.Float64()
		threshold := clean(n) + slope*ahead*float64(day/step)
		truth, truthStep := -1.0, -1.0
		for k := 1; k < int(30*day/step); k++ {
			if y := clean(n + k); y >= threshold {
				y0 := clean(n + k - 1)
				truth = (float64(k-1) + (threshold-y0)/(y-y0)) * step.Seconds()
				truthStep = float64(k) * step.Seconds()
				break
			}
		}
		q := leakCapacity(t, src, step, history, now, threshold).ETASeconds
		if q.P10 == nil || q.P90 == nil {
			t.Logf("seed %d: no ETA interval (truth %.1f d)", seed, truth/86400)
			continue
		}
		crossed++
		widths = append(widths, (*q.P90-*q.P10) / *q.P50)
		if *q.P10 <= truthStep && truthStep <= *q.P90 {
			insideStep++
		}
		if *q.P10 <= truth && truth <= *q.P90 {
			inside++
		} else {
			t.Logf("seed %d: truth %.2f d outside [%.2f, %.2f] d", seed, truth/86400, *q.P10/86400, *q.P90/86400)
		}
	}
	cov := float64(inside) / float64(seeds)
	slices.Sort(widths)
	med := widths[len(widths)/2]
	t.Logf("true crossing inside p10-p90 in %d of %d series (%d with an interval; first step over it: %d); median (p90-p10)/p50 = %.2f", inside, seeds, crossed, insideStep, med)
	if cov < want {
		t.Errorf("coverage %.3f, want >= %.2f", cov, want)
	}
	// An interval as wide as the ETA itself would cover the truth and say little.
	if med > 1 {
		t.Errorf("median relative width of p10-p90 %.2f, want <= 1", med)
	}
}

// TestCapacityNoisySample checks that in capacity mode one sample over the
// threshold does not make the ETA "now" when the level is far below it: a
// flat series on a daily cycle whose last sample spikes over the threshold
// has no ETA within the horizon (a failure would count the spike).
func TestCapacityNoisySample(t *testing.T) {
	step := 5 * time.Minute
	history := 14 * day
	now := time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)
	start := now.Add(-history).UnixMilli()
	rng := rand.New(rand.NewPCG(1, 2))
	src := &leakSource{start: start, step: step.Milliseconds()}
	n := int(history / step)
	e := 0.0
	for i := range n + 1 {
		tod := float64((start+int64(i)*step.Milliseconds())%day.Milliseconds()) / float64(day.Milliseconds())
		e = 0.8*e + 0.5*rng.NormFloat64()
		src.values = append(src.values, 50+5*math.Sin(2*math.Pi*tod)+e)
	}
	src.values[n] = 90
	if c := leakCapacity(t, src, step, history, now, 80); c.ETASeconds.P10 != nil || c.CrossingProbability > 0.1 {
		t.Errorf("flat level 30 below the threshold: ETA p10 %v, crossing probability %.2f; want none", c.ETASeconds.P10, c.CrossingProbability)
	}
}

// TestCapacityGrowthFollowsRegime checks that the growth a capacity plan
// reports is the one its ETA rests on: on the demo's leaking cache-1, whose
// ETA comes from the recent leak rather than the fortnight's flat trend,
// the value grown at that rate gets near the limit by the median ETA (which
// noise brings forward, hence the tolerance: the long-run slope, ≈ 0, gets
// nowhere near).
func TestCapacityGrowthFollowsRegime(t *testing.T) {
	e := demoEngine(t)
	caps, _, err := e.Capacity(CapacityQuery{Horizon: day})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range caps {
		if c.Labels["host"] != "cache-1" || c.Labels["signal"] != "memory" {
			continue
		}
		if c.ETASeconds.P50 == nil {
			t.Fatalf("no median ETA for the leaking cache-1: %+v", c)
		}
		eta := *c.ETASeconds.P50 / day.Seconds()
		reached := c.Value + c.GrowthPerDay*eta
		if gap := c.Threshold - c.Value; math.Abs(reached-c.Threshold) > 0.5*gap {
			t.Errorf("growth %.1f/day from %.2f over the median ETA %.3f d reaches %.2f, want about the limit %.0f", c.GrowthPerDay, c.Value, eta, reached, c.Threshold)
		}
		return
	}
	t.Fatal("no capacity row for cache-1's memory")
}

// TestCapacityConsistentAcrossHorizons is issue 14's property: on seeded
// leaking series, the probability of crossing within h never falls as h
// grows, an ETA quantile that falls within a shorter horizon is the same
// within a longer one (one model of the future, not one per horizon), and
// a series over its threshold has reached it at every horizon.
func TestCapacityConsistentAcrossHorizons(t *testing.T) {
	step := 5 * time.Minute
	history := 14 * day
	horizons := []time.Duration{time.Hour, day, 2 * day, 7 * day, 30 * day}
	for seed := range uint64(12) {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := int(history / step)
		now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		start := now.Add(-history).UnixMilli()
		src := &leakSource{start: start, step: step.Milliseconds()}
		slope := (1 + 3*rng.Float64()) / float64(day/step)
		e := 0.0
		for i := range n + 1 {
			tod := float64((start+int64(i)*step.Milliseconds())%day.Milliseconds()) / float64(day.Milliseconds())
			e = 0.8*e + rng.NormFloat64()
			src.values = append(src.values, 40+slope*float64(i)+5*math.Sin(2*math.Pi*tod)+e)
		}
		last := src.values[n]
		for _, th := range []float64{last + 10 + 20*rng.Float64(), last - 5} {
			eng, err := New(Options{
				Signals: []Signal{{Name: "memory", SourceName: "test", Source: src, Query: "memory", Entity: "host", Limit: 100}},
				Step:    step, History: history, Horizon: time.Hour, Now: func() time.Time { return now },
			})
			if err != nil {
				t.Fatal(err)
			}
			eng.Evaluate(context.Background())
			var prev *Capacity
			for _, h := range horizons {
				caps, _, err := eng.Capacity(CapacityQuery{Threshold: &Threshold{Value: th}, Horizon: h})
				if err != nil || len(caps) != 1 {
					t.Fatalf("seed %d: capacity within %s: %v, %v", seed, h, caps, err)
				}
				c := caps[0]
				if th < last && (!c.Reached || c.ETASeconds.P50 == nil || *c.ETASeconds.P50 != 0) {
					t.Errorf("seed %d: %g over the threshold %g, within %s: reached %v, ETA %v; want reached, 0", seed, last, th, h, c.Reached, c.ETASeconds.P50)
				}
				if prev != nil {
					if c.CrossingProbability < prev.CrossingProbability-1e-12 {
						t.Errorf("seed %d, threshold %.1f: P(cross within %s) = %.4f < %.4f within a shorter horizon", seed, th, h, c.CrossingProbability, prev.CrossingProbability)
					}
					for _, q := range [][2]*float64{{prev.ETASeconds.P10, c.ETASeconds.P10}, {prev.ETASeconds.P50, c.ETASeconds.P50}, {prev.ETASeconds.P90, c.ETASeconds.P90}} {
						if q[0] != nil && (q[1] == nil || math.Abs(*q[0]-*q[1]) > 1e-6) {
							t.Errorf("seed %d, threshold %.1f: an ETA of %.0f s within a shorter horizon is %v within %s", seed, th, *q[0], q[1], h)
						}
					}
				}
				prev = &c
			}
			eng.Close()
		}
	}
}

// plantedFleet is an in-memory source of planted series (test data, not a
// fake server), one per host, each moved in time so that its last sample
// is at now: a series' true crossing is relative to its last sample, and
// its cycles keep their period.
type plantedFleet struct {
	hosts []plant.Series
	now   int64
}

func (f *plantedFleet) Range(_ context.Context, _ string, start, end time.Time, _ time.Duration) ([]ingest.Series, error) {
	var out []ingest.Series
	for i, p := range f.hosts {
		s := ingest.Series{Labels: map[string]string{"host": fmt.Sprintf("host-%02d", i)}}
		first := f.now - int64(len(p.Values)-1)*plant.Step
		for k, v := range p.Values {
			if t := first + int64(k)*plant.Step; t >= start.UnixMilli() && t <= end.UnixMilli() {
				s.Samples = append(s.Samples, ingest.Sample{T: t, V: v})
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// TestCapacityLeakAfterQuietFortnight measures issue 14's target through
// the engine: fleets of 40 hosts of plant.LeakAfterQuiet (21 days at five
// minutes, AR(1) noise, daily and weekly cycles, an older level shift, a
// leak of 0.5-3 %/day that began 2 to 10 days ago), each fleet one engine,
// asked /api/v1/capacity's question at threshold=90&horizon=60d: the
// median relative error of the p50 ETA at most 0.12 and the true crossing
// inside p10-p90 for at least 80 % of hosts (a missing quantile is beyond
// the horizon). 15 fleets, 600 hosts, measure the coverage to ±1.6 points;
// -short runs 3 against a looser line.
func TestCapacityLeakAfterQuietFortnight(t *testing.T) {
	const threshold, horizon = 90, 60 * day
	fleets, want := 15, 0.80
	if testing.Short() {
		fleets, want = 3, 0.72
	}
	var relErr, growthErr []float64
	inside, hosts := 0, 0
	for fleet := range fleets {
		src := &plantedFleet{}
		for h := range 40 {
			p := plant.LeakAfterQuiet(rand.New(rand.NewPCG(uint64(40*fleet+h), 14)))
			src.hosts = append(src.hosts, p)
			src.now = p.Now
		}
		now := time.UnixMilli(src.now)
		eng, err := New(Options{
			Signals: []Signal{{Name: "memory", SourceName: "test", Source: src, Query: "memory", Entity: "host", Limit: 100}},
			Step:    time.Duration(plant.Step) * time.Millisecond, History: 21 * day, Horizon: time.Hour, Now: func() time.Time { return now },
		})
		if err != nil {
			t.Fatal(err)
		}
		eng.Evaluate(context.Background())
		caps, _, err := eng.Capacity(CapacityQuery{Threshold: &Threshold{Value: threshold}, Horizon: horizon})
		eng.Close()
		if err != nil || len(caps) != len(src.hosts) {
			t.Fatalf("fleet %d: %d plans for %d hosts, %v", fleet, len(caps), len(src.hosts), err)
		}
		for i, c := range caps { // in label order, host-00 first
			p := src.hosts[i]
			truth := p.TrueETA(threshold, horizon.Milliseconds()) / 1000
			q := func(v *float64) float64 {
				if v == nil {
					return math.Inf(1)
				}
				return *v
			}
			p10, p50, p90 := q(c.ETASeconds.P10), q(c.ETASeconds.P50), q(c.ETASeconds.P90)
			relErr = append(relErr, math.Abs(p50-truth)/truth)
			growthErr = append(growthErr, c.GrowthPerDay/p.Rate-1)
			if p10 <= truth && truth <= p90 {
				inside++
			}
			hosts++
		}
	}
	slices.Sort(relErr)
	slices.Sort(growthErr)
	cov, med := float64(inside)/float64(hosts), relErr[len(relErr)/2]
	t.Logf("%d hosts: median relative error of p50 %.3f, p10-p90 covers %.3f; growth_per_day / leak - 1: p10 %.3f, median %.3f, p90 %.3f",
		hosts, med, cov, growthErr[hosts/10], growthErr[hosts/2], growthErr[hosts*9/10])
	if med > 0.12 {
		t.Errorf("median relative error of p50 %.3f, want <= 0.12", med)
	}
	if cov < want {
		t.Errorf("p10-p90 coverage %.3f, want >= %.2f", cov, want)
	}
}

// TestCapacitySoonestMatchesSort checks that a sorted, limited capacity
// query (answered in the order of a bound on each series' median, most
// never computed) returns the first answers of the full sorted list, for
// each threshold kind and horizon, on a demo fleet's plans. A few plans
// get a recent trend steep enough to cross its limit within the hours it
// is projected on, which the regime model has not seen: the bound must
// rank them by the trend.
func TestCapacitySoonestMatchesSort(t *testing.T) {
	fx := newEvalFixture(t, 30)
	defer fx.close()
	plans := steepPlans(t, fx.e.State().plans)
	g := capacityGrid(fx.e.step, fx.e.horizon)
	for _, th := range []*Threshold{nil, {Value: 90}, {Value: 60}, {Value: 0.7, Fraction: true}} {
		for _, h := range []time.Duration{time.Hour, 6 * time.Hour, day, 30 * day} {
			all, _ := capacity(plans, CapacityQuery{Threshold: th, Horizon: h, SortByETA: true}, g)
			for _, k := range []int{1, 5, 20} {
				got, _ := capacity(plans, CapacityQuery{Threshold: th, Horizon: h, SortByETA: true, Limit: k}, g)
				want := all[:min(k, len(all))]
				if len(got) != len(want) {
					t.Fatalf("threshold %+v, horizon %s, limit %d: %d answers, want %d", th, h, k, len(got), len(want))
				}
				for i := range want {
					if err := sameAnswer(got[i], want[i]); err != nil {
						t.Errorf("threshold %+v, horizon %s, limit %d: answer %d differs from the full sort's: %v", th, h, k, i, err)
					}
				}
			}
		}
	}
}

// steepPlans returns a copy of plans in which every seventh with a recent
// trend under its limit gets one steep enough to cross it within the
// hours it is projected on, which the regime model has not seen.
func steepPlans(t *testing.T, plans []capacityPlan) []capacityPlan {
	t.Helper()
	plans = slices.Clone(plans)
	steep := 0
	for i := range plans {
		p := &plans[i]
		if i%7 != 0 || len(p.trends) == 0 || !(p.limit > p.v) {
			continue
		}
		p.trends = slices.Clone(p.trends)
		tr := &p.trends[len(p.trends)-1]
		tr.Slope = (p.limit - tr.Level) / float64(30+5*i)
		steep++
	}
	if steep < 3 {
		t.Fatalf("only %d plans made to cross on a recent trend", steep)
	}
	return plans
}

// TestCapacityIndexMatchesDirect checks that the requests a capacity index
// answers (sorted by ETA against the limits, limited, with or without a
// matcher) get what the direct search over every plan answers, whether
// the index's first items hold the answer or not: on a demo fleet's plans,
// some made to cross on a recent trend, with indexes of 5, 20 and 100
// first items at both indexed horizons. Then that the engine answers from
// its index once built, the same.
func TestCapacityIndexMatchesDirect(t *testing.T) {
	fx := newEvalFixture(t, 30)
	defer fx.close()
	plans := steepPlans(t, fx.e.State().plans)
	g := capacityGrid(fx.e.step, fx.e.horizon)
	eq := func(name, value string) Matcher { return func(l map[string]string) bool { return l[name] == value } }
	matchers := []struct {
		name string
		m    Matcher
	}{
		{"all", nil},
		{"memory", eq("signal", "memory")},
		{"connections", eq("signal", "connections")},
		{"one host", eq("host", plans[len(plans)/2].labels["host"])},
		{"cpu or memory", func(l map[string]string) bool { return l["signal"] == "cpu" || l["signal"] == "memory" }},
		{"none", eq("signal", "disk")},
	}
	check := func(what string, got, want []Capacity, gotShort, wantShort bool) {
		t.Helper()
		if len(got) != len(want) || gotShort != wantShort {
			t.Fatalf("%s: %d answers (short %t), want %d (short %t)", what, len(got), gotShort, len(want), wantShort)
		}
		for i := range want {
			if err := sameAnswer(got[i], want[i]); err != nil {
				t.Errorf("%s: answer %d differs from the direct search's: %v", what, i, err)
			}
		}
	}
	complete := map[bool]int{}
	for _, h := range indexedHorizons {
		for _, n := range []int{5, 20, 100} {
			x := newHorizonIndex(plans, g, h.Milliseconds(), n)
			complete[x.complete]++
			for _, m := range matchers {
				for _, k := range []int{1, 3, 5, 20, 50, 1000} {
					q := CapacityQuery{Match: m.m, Horizon: h, SortByETA: true, Limit: k}
					want, wantShort := capacity(plans, q, g)
					var sc scratch
					got, gotShort := x.soonest(&sc, m.m, k, g)
					check(fmt.Sprintf("horizon %s, %d indexed, %s, limit %d", h, n, m.name, k), got, want, gotShort, wantShort)
				}
			}
		}
	}
	if complete[true] == 0 || complete[false] == 0 {
		t.Errorf("indexes complete: %d, not complete: %d; the test needs both", complete[true], complete[false])
	}

	e := fx.e
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if x := e.capIndex.Load(); x != nil && x.st == e.State() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no capacity index of the State a minute after it was published")
		}
	}
	for _, m := range matchers {
		q := CapacityQuery{Match: m.m, Horizon: 30 * day, SortByETA: true, Limit: 20}
		if e.indexed(e.State(), q) == nil {
			t.Fatal("the engine does not answer from its index")
		}
		got, _, err := e.Capacity(q)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := capacity(e.State().plans, q, g)
		check("engine, "+m.name, got, want, false, false)
	}
}

// sameAnswer reports how two capacity answers differ, if they do.
func sameAnswer(a, b Capacity) error {
	p := func(x *float64) string {
		if x == nil {
			return "nil"
		}
		return strconv.FormatFloat(*x, 'g', -1, 64)
	}
	switch {
	case !maps.Equal(a.Labels, b.Labels):
		return fmt.Errorf("labels %v and %v", a.Labels, b.Labels)
	case a.Reached != b.Reached || a.CrossingProbability != b.CrossingProbability:
		return fmt.Errorf("reached %t/%t, probability %g/%g", a.Reached, b.Reached, a.CrossingProbability, b.CrossingProbability)
	case p(a.ETASeconds.P10) != p(b.ETASeconds.P10) || p(a.ETASeconds.P50) != p(b.ETASeconds.P50) || p(a.ETASeconds.P90) != p(b.ETASeconds.P90):
		return fmt.Errorf("ETA %s/%s/%s and %s/%s/%s", p(a.ETASeconds.P10), p(a.ETASeconds.P50), p(a.ETASeconds.P90), p(b.ETASeconds.P10), p(b.ETASeconds.P50), p(b.ETASeconds.P90))
	}
	return nil
}

// TestTimeToLimitFromCapacityPlan checks that a series' time to its limit
// in the State, which the TSDB and /metrics serve as
// augur_time_to_limit_seconds, is its capacity plan's ETA within
// DefaultCapacityHorizon: a host hours or days from its limit, beyond the
// failure horizon of an hour, has one, the one /api/v1/capacity answers.
func TestTimeToLimitFromCapacityPlan(t *testing.T) {
	step, span := 5*time.Minute, 14*day
	now := time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name     string
		leakDays float64       // since when the level has grown
		toLimit  time.Duration // from now until it reaches 100
	}{
		{"two hours", 3, 3 * time.Hour}, // the daily cycle's peak brings it to two
		{"two days", 10, 2 * day},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := now.Add(-span).UnixMilli()
			src := &leakSource{start: start, step: step.Milliseconds()}
			rng := rand.New(rand.NewPCG(3, 4))
			rate := 50 / (c.leakDays + c.toLimit.Hours()/24) // per day, from 50 to 100
			// level is the noiseless level at tm (Unix ms): a daily cycle
			// and the leak.
			level := func(tm int64) float64 {
				tod := float64(tm%day.Milliseconds()) / float64(day.Milliseconds())
				v := 50 + math.Sin(2*math.Pi*tod)
				if since := float64(now.UnixMilli()-tm) / float64(day.Milliseconds()); since < c.leakDays {
					v += rate * (c.leakDays - since)
				}
				return v
			}
			e := 0.0
			for i := range int(span/step) + 1 {
				e = 0.8*e + 0.2*rng.NormFloat64()
				src.values = append(src.values, level(start+int64(i)*step.Milliseconds())+e)
			}
			truth := time.Duration(0)
			for level(now.Add(truth).UnixMilli()) < 100 {
				truth += time.Minute
			}
			clock := now
			db, err := history.OpenTemp(nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			eng, err := New(Options{
				Signals: []Signal{{Name: "memory", SourceName: "test", Source: src, Query: "memory", Entity: "host", Limit: 100}},
				Step:    step, History: span, Horizon: time.Hour, Now: func() time.Time { return clock }, Store: db,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			eng.Evaluate(context.Background())
			st := eng.State()
			if len(st.Series) != 1 {
				t.Fatalf("%d series", len(st.Series))
			}
			got := st.Series[0].ETASeconds
			caps, _, err := eng.Capacity(CapacityQuery{Horizon: DefaultCapacityHorizon})
			if err != nil || len(caps) != 1 {
				t.Fatalf("capacity: %v, %v", caps, err)
			}
			want := caps[0].ETASeconds
			if got.P50 == nil || want.P50 == nil {
				t.Fatalf("%s from the limit: time to limit p50 %v in the State, %v in the capacity plan; want both", c.toLimit, got.P50, want.P50)
			}
			for i, q := range [...][2]*float64{{got.P10, want.P10}, {got.P50, want.P50}, {got.P90, want.P90}} {
				if (q[0] == nil) != (q[1] == nil) || (q[0] != nil && *q[0] != *q[1]) {
					t.Errorf("quantile %d: %v in the State, %v in the capacity plan", i, q[0], q[1])
				}
			}
			t.Logf("time to limit p10/p50/p90 %s/%s/%s, the level reaches it in %s", fmtSeconds(got.P10), fmtSeconds(got.P50), fmtSeconds(got.P90), truth)
			if p50 := time.Duration(*got.P50 * float64(time.Second)); p50 < truth/2 || p50 > 2*truth {
				t.Errorf("median time to limit %s, the level reaches it in %s", p50, truth)
			}
			if truth <= time.Hour {
				t.Fatalf("the level reaches the limit in %s, within the failure horizon: the test shows nothing", truth)
			}
			// The TSDB's augur_time_to_limit_seconds{quantile="0.5"} at the
			// evaluation, to the outputs' precision.
			q, err := db.Querier(now.UnixMilli(), now.UnixMilli())
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, MetricTimeToLimit), labels.MustNewMatcher(labels.MatchEqual, "quantile", "0.5"))
			var tsdb []float64
			for ss.Next() {
				it := ss.At().Iterator(nil)
				for it.Next() != 0 {
					_, v := it.At()
					tsdb = append(tsdb, v)
				}
			}
			if len(tsdb) != 1 || math.Abs(tsdb[0]-*got.P50) > *got.P50/1000 {
				t.Errorf("TSDB %s{quantile=\"0.5\"} at the evaluation: %v, want %v", MetricTimeToLimit, tsdb, *got.P50)
			}

			// The next etaRefresh-1 evaluations carry it forward less the
			// time elapsed; the one after computes it again.
			first := *got.P50
			for round := 1; round <= etaRefresh; round++ {
				clock = clock.Add(step)
				eng.Evaluate(context.Background())
				p50 := eng.State().Series[0].ETASeconds.P50
				caps, _, _ := eng.Capacity(CapacityQuery{Horizon: DefaultCapacityHorizon})
				want := first - clock.Sub(now).Seconds()
				if round == etaRefresh {
					want = *caps[0].ETASeconds.P50
				}
				if p50 == nil || math.Abs(*p50-want) > 1e-6 {
					t.Errorf("evaluation %d: median time to limit %s, want %.0f s", round, fmtSeconds(p50), want)
				}
			}
		})
	}
}

// fmtSeconds formats an optional number of seconds as a duration.
func fmtSeconds(s *float64) string {
	if s == nil {
		return "none"
	}
	return time.Duration(*s * float64(time.Second)).Round(time.Minute).String()
}
