package ingest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The demo fleet is a pure function of (seed, anchor, t): every value is
// computed from hashes of its coordinates, so any range can be generated on
// demand, in any order, by any number of goroutines, without stored state.

const (
	minuteMs = int64(time.Minute / time.Millisecond)
	hourMs   = int64(time.Hour / time.Millisecond)
	dayMs    = 24 * hourMs

	// maxDemoPoints bounds one series of one Range call (two years at 1m),
	// so a bad step cannot make the demo allocate without limit.
	maxDemoPoints = 2 * 366 * 24 * 60
)

type demoMetric int

const (
	metricCPU demoMetric = iota
	metricMemory
	metricConnections
	metricMaxConnections
	numDemoMetrics
)

var demoMetricNames = [numDemoMetrics]string{"cpu", "memory", "connections", "max_connections"}

// DemoMetrics returns the metric names the demo fleet answers to; a demo
// query is exactly one of them.
func DemoMetrics() []string {
	return append([]string(nil), demoMetricNames[:]...)
}

func parseDemoMetric(query string) (demoMetric, error) {
	q := strings.TrimSpace(query)
	for i, n := range demoMetricNames {
		if q == n {
			return demoMetric(i), nil
		}
	}
	return 0, fmt.Errorf("unknown demo metric %q: valid metrics are %s", query, strings.Join(demoMetricNames[:], ", "))
}

// demoProfile is a host's normal behaviour: value = base + amp·activity,
// where activity in [0,1] follows the daily and weekly cycle of user traffic.
type demoProfile struct {
	cpuBase, cpuAmp   float64
	memBase, memAmp   float64
	connBase, connAmp float64
	maxConn           float64
	// drift and deploy-shift amplitudes, in the metric's unit
	// (connections: a fraction of the mean).
	cpuDrift, memDrift, connDrift float64
	cpuShift, memShift, connShift float64
	batch                         bool // nightly batch job instead of user traffic
}

var (
	webProfile = demoProfile{
		cpuBase: 22, cpuAmp: 30, memBase: 56, memAmp: 5, connBase: 90, connAmp: 230, maxConn: 500,
		cpuDrift: 3, memDrift: 2, connDrift: 0.05, cpuShift: 4, memShift: 3, connShift: 0.06,
	}
	apiProfile = demoProfile{
		cpuBase: 18, cpuAmp: 34, memBase: 47, memAmp: 7, connBase: 60, connAmp: 180, maxConn: 500,
		cpuDrift: 3, memDrift: 2, connDrift: 0.05, cpuShift: 4, memShift: 3, connShift: 0.06,
	}
	dbProfile = demoProfile{
		cpuBase: 15, cpuAmp: 25, memBase: 70, memAmp: 3, connBase: 62, connAmp: 40, maxConn: 200,
		cpuDrift: 2, memDrift: 1.5, connDrift: 0.04, cpuShift: 3, memShift: 2, connShift: 0.05,
	}
	cacheProfile = demoProfile{
		cpuBase: 9, cpuAmp: 10, memBase: 54, memAmp: 2, connBase: 120, connAmp: 260, maxConn: 1000,
		cpuDrift: 1, memDrift: 1, connDrift: 0.04, cpuShift: 1.5, memShift: 1.5, connShift: 0.05,
	}
	batchProfile = demoProfile{
		cpuBase: 12, cpuAmp: 76.5, memBase: 82, memAmp: 0.8, connBase: 60, connAmp: 240, maxConn: 500,
		batch: true,
	}
)

// demoSlot is one host of the demo's cell, the eight hosts of the default
// fleet. A fleet of N hosts is ⌈N/8⌉ cells, the last one cut short, so any
// size keeps the default's mix of roles, failures and hard negatives.
type demoSlot struct {
	role string
	prof *demoProfile
}

var demoCell = [...]demoSlot{
	{"web", &webProfile}, {"web", &webProfile},
	{"api", &apiProfile}, {"api", &apiProfile},
	{"db", &dbProfile}, {"db", &dbProfile},
	{"cache", &cacheProfile},
	{"batch", &batchProfile},
}

const (
	demoCellSize = len(demoCell)
	// DefaultDemoHosts is the default fleet, one cell: web-1 to batch-1.
	DefaultDemoHosts = demoCellSize
	// MaxDemoHosts bounds the fleet (three million series) so that a typo
	// in a configuration cannot ask for an unbounded one.
	MaxDemoHosts = 1 << 20
)

// demoHost is host i of the fleet: slot i mod 8 of cell i div 8. Its key,
// i+1, seeds its noise, so adding hosts never changes the others' data.
type demoHost struct {
	name, role string
	key        uint64
	prof       *demoProfile
	// ep is the host's scripted failure, if any; epBase is the start of its
	// occurrence k = 0, in ms.
	ep     *demoEpisode
	epBase int64
}

// demoEpisode is a scripted failure that recurs every period: the metric
// climbs roughly linearly from its normal value to the limit over ramp and
// reaches it at the incident start T = anchor + first + shift + k·period (k
// any integer, shift 0 in the first cell, see episodeShift); the incident
// lasts hold. Pinned episodes stay at the limit during hold; the others model
// a crash and restart (the value falls well below normal and recovers by the
// end of hold).
type demoEpisode struct {
	slot   int // the failing host's slot in demoCell
	metric demoMetric
	name   string
	first  time.Duration
	period time.Duration
	ramp   time.Duration
	hold   time.Duration
	pinned bool
}

// The periods are not multiples of a day so that each occurrence happens at
// a different time of day, and short enough that 14 days of history hold
// four or five of each.
var demoEpisodes = [...]demoEpisode{
	{slot: 6, metric: metricMemory, name: "OOMKilled", // cache-1
		first: 45 * time.Minute, period: 61 * time.Hour, ramp: 8 * time.Hour, hold: 3 * time.Minute},
	{slot: 4, metric: metricConnections, name: "ConnectionPoolExhausted", // db-1
		first: 3 * time.Hour, period: 67 * time.Hour, ramp: 2 * time.Hour, hold: 20 * time.Minute, pinned: true},
	{slot: 1, metric: metricCPU, name: "CPUSaturated", // web-2
		first: 6 * time.Hour, period: 79 * time.Hour, ramp: time.Hour, hold: 30 * time.Minute, pinned: true},
}

// episodeShift is how much later than the first cell's the episode e of
// cell c recurs: a whole number of minutes uniform in [0, period), from a
// hash of (c, e) alone, so that, like the first cell's, the scripted
// failures are the same for every seed.
func episodeShift(c, e int) int64 {
	if c == 0 {
		return 0
	}
	minutes := uint64(demoEpisodes[e].period / time.Minute)
	return int64(splitmix64(uint64(c)<<2|uint64(e))%minutes) * minuteMs
}

// DemoOptions configures the demo fleet.
type DemoOptions struct {
	// Seed selects the noise, drifts and deploys; the scripted failures are
	// the same for every seed.
	Seed int64
	// Hosts is the size of the fleet, at most MaxDemoHosts; 0 means
	// DefaultDemoHosts.
	Hosts int
	// Start is the anchor: the demo's "now" when the service starts,
	// truncated to the minute. History is [Start-History, Start].
	// Zero means Clock() at construction.
	Start time.Time
	// History is how much data exists before Start; default 14 days.
	History time.Duration
	// Speed is demo seconds per real second; default 1.
	Speed float64
	// Clock is the real clock; default time.Now. Tests inject a fake one.
	Clock func() time.Time
}

// Demo is the embedded synthetic fleet: by default eight hosts with cpu,
// memory and connections at one-minute resolution, and scripted failures
// (memory leak to OOM on cache-1, connection-pool exhaustion on db-1, CPU
// saturation on web-2) next to a busy but healthy batch host; a larger fleet
// repeats that cell of eight with its own noise and failure times, hosts
// numbered per role (web-0001, web-0002, ...). It implements Source, Clock
// and IncidentLister. A Demo is immutable and safe for concurrent use.
type Demo struct {
	seed      uint64
	hosts     int
	width     map[string]int // digits of the host numbers, per role
	anchor    int64          // ms
	history   int64          // ms
	speed     float64
	clock     func() time.Time
	realStart time.Time
}

// NewDemo returns the demo fleet described by opts. Hosts beyond
// MaxDemoHosts are not generated.
func NewDemo(opts DemoOptions) *Demo {
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	realStart := clock()
	start := opts.Start
	if start.IsZero() {
		start = realStart
	}
	history := opts.History
	if history <= 0 {
		history = 14 * 24 * time.Hour
	}
	speed := opts.Speed
	if !(speed > 0) || math.IsInf(speed, 0) {
		speed = 1
	}
	hosts := opts.Hosts
	if hosts <= 0 {
		hosts = DefaultDemoHosts
	}
	hosts = min(hosts, MaxDemoHosts)
	perRole := map[string]int{}
	for i, s := range demoCell {
		perRole[s.role] += hosts / demoCellSize
		if i < hosts%demoCellSize {
			perRole[s.role]++
		}
	}
	width := map[string]int{}
	for role, n := range perRole {
		width[role] = len(strconv.Itoa(n))
	}
	return &Demo{
		seed:      splitmix64(uint64(opts.Seed)),
		hosts:     hosts,
		width:     width,
		anchor:    floorDiv(start.UnixMilli(), minuteMs) * minuteMs,
		history:   history.Milliseconds(),
		speed:     speed,
		clock:     clock,
		realStart: realStart,
	}
}

// host returns host i, 0 ≤ i < d.hosts. It is numbered within its role in
// fleet order, zero-padded to the widest number of the role, so that names
// sort in that order: web-1 in the default fleet, web-0001 in one of 33,000.
func (d *Demo) host(i int) demoHost {
	c, j := i/demoCellSize, i%demoCellSize
	slot := &demoCell[j]
	n, rank := 0, 0
	for k := range demoCell {
		if demoCell[k].role == slot.role {
			n++
			if k < j {
				rank++
			}
		}
	}
	h := demoHost{
		name: fmt.Sprintf("%s-%0*d", slot.role, d.width[slot.role], c*n+rank+1),
		role: slot.role,
		key:  uint64(i + 1),
		prof: slot.prof,
	}
	for e := range demoEpisodes {
		if ep := &demoEpisodes[e]; ep.slot == j {
			h.ep, h.epBase = ep, d.anchor+ep.first.Milliseconds()+episodeShift(c, e)
		}
	}
	return h
}

// Start returns the anchor: the demo time at construction.
func (d *Demo) Start() time.Time { return time.UnixMilli(d.anchor).UTC() }

// Now returns the demo's present: Start + Speed × (real time elapsed since
// NewDemo), truncated to the minute.
func (d *Demo) Now() time.Time { return time.UnixMilli(d.nowMs()).UTC() }

func (d *Demo) nowMs() int64 {
	elapsed := d.clock().Sub(d.realStart)
	if elapsed < 0 {
		elapsed = 0
	}
	demo := float64(elapsed.Milliseconds()) * d.speed
	// Saturate rather than overflow on absurd speeds or uptimes.
	if demo > float64(math.MaxInt64/4) {
		demo = float64(math.MaxInt64 / 4)
	}
	return d.anchor + floorDiv(int64(demo), minuteMs)*minuteMs
}

// Range returns one series per host (labels host and role) for the metric
// named by query: cpu, memory, connections or max_connections. Samples lie on
// the grid start + k·step within [start, end] ∩ [Start-History, Now()].
// Range holds the whole fleet's range at once; Each does not.
func (d *Demo) Range(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]Series, error) {
	out := []Series{}
	err := d.Each(ctx, query, start, end, step, func(s Series) error {
		out = append(out, Series{Labels: s.Labels, Samples: slices.Clone(s.Samples)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Each calls fn with the series Range would return, one host at a time in
// fleet order, and stops at the first error fn returns. The Samples slice is
// reused once fn returns (fn copies what it keeps; Labels are its own), so
// Each holds one series, not the fleet: 14 days at 1m of any number of hosts
// in about 500 KB.
func (d *Demo) Each(ctx context.Context, query string, start, end time.Time, step time.Duration, fn func(Series) error) error {
	m, err := parseDemoMetric(query)
	if err != nil {
		return err
	}
	if step <= 0 {
		return fmt.Errorf("cannot query demo metric %q: step must be positive, got %s", query, step)
	}
	stepMs := step.Milliseconds()
	if stepMs == 0 {
		stepMs = 1
	}
	s, e := start.UnixMilli(), end.UnixMilli()
	lo, hi := d.anchor-d.history, d.nowMs()
	first := s
	if first < lo {
		first = s + ceilDiv(lo-s, stepMs)*stepMs
	}
	last := min(e, hi)
	if first > last {
		return nil
	}
	n := (last-first)/stepMs + 1
	if n > maxDemoPoints {
		return fmt.Errorf("cannot query demo metric %q: %d points per series exceed the limit of %d, use a larger step", query, n, maxDemoPoints)
	}
	samples := make([]Sample, n)
	// User traffic is the same for every host: computed once per call.
	var act []float64
	if m != metricMaxConnections {
		act = make([]float64, n)
	}
	for k := range samples {
		t := first + int64(k)*stepMs
		samples[k].T = t
		if act != nil {
			act[k] = activity(floorDiv(t, minuteMs) * minuteMs)
		}
	}
	for i := range d.hosts {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cannot query demo metric %q: %w", query, err)
		}
		h := d.host(i)
		g := d.newGen(&h, m)
		for k := range samples {
			var a float64
			if act != nil {
				a = act[k]
			}
			samples[k].V = g.value(samples[k].T, a)
		}
		if err := fn(Series{Labels: map[string]string{"host": h.name, "role": h.role}, Samples: samples}); err != nil {
			return err
		}
	}
	return nil
}

// Incidents returns the scripted failures that began in
// [Start-History, Now()] and overlap [start, end]. An incident still under way
// ends at Now(): the demo does not reveal the future.
func (d *Demo) Incidents(ctx context.Context, start, end time.Time) ([]Incident, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cannot list demo incidents: %w", err)
	}
	lo, now := d.anchor-d.history, d.nowMs()
	s, e := start.UnixMilli(), end.UnixMilli()
	var out []Incident
	for c := 0; c*demoCellSize < d.hosts; c++ {
		for _, ep := range demoEpisodes {
			if c*demoCellSize+ep.slot >= d.hosts {
				continue
			}
			h := d.host(c*demoCellSize + ep.slot)
			period, hold := ep.period.Milliseconds(), ep.hold.Milliseconds()
			from := max(lo, s-hold)
			to := min(now, e)
			if from > to {
				continue
			}
			for k := ceilDiv(from-h.epBase, period); h.epBase+k*period <= to; k++ {
				t0 := h.epBase + k*period
				t1 := min(t0+hold, now)
				out = append(out, Incident{
					Entity: h.name,
					Name:   ep.name,
					Signal: demoMetricNames[ep.metric],
					Start:  time.UnixMilli(t0).UTC(),
					End:    time.UnixMilli(t1).UTC(),
					Source: "demo",
				})
			}
		}
	}
	slices.SortFunc(out, func(a, b Incident) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.Entity, b.Entity)
	})
	return out, nil
}

// demoGen computes one series point by point in increasing time. It keeps
// what changes slowly (the drift's period and phase, the smooth noise's two
// knots, the deploy level and until when it holds) so that a point costs
// about one hash and one sine; the values are those of the formulas below
// whatever range is asked, bit for bit.
type demoGen struct {
	d                                 *Demo
	h                                 *demoHost
	m                                 demoMetric
	white, smooth                     uint64 // hash streams, see stream
	driftAmp, driftPeriod, driftPhase float64
	shiftAmp, shift                   float64
	shiftFrom, shiftUntil             int64 // shift holds in [shiftFrom, shiftUntil)
	knot                              int64 // smooth noise knot k0 is at, k1 the next
	k0, k1                            float64
}

func (d *Demo) newGen(h *demoHost, m demoMetric) demoGen {
	g := demoGen{d: d, h: h, m: m, knot: math.MinInt64,
		white:  d.stream(h.key, streamKey(m, streamWhite)),
		smooth: d.stream(h.key, streamKey(m, streamSmooth)),
	}
	p := h.prof
	switch m {
	case metricCPU:
		g.driftAmp, g.shiftAmp = p.cpuDrift, p.cpuShift
	case metricMemory:
		g.driftAmp, g.shiftAmp = p.memDrift, p.memShift
	case metricConnections:
		g.driftAmp, g.shiftAmp = p.connDrift, p.connShift
	}
	// drift is a slow sinusoid amp·sin(2πt/P + φ) with a per-host period P
	// of 6-12 days and phase φ.
	r := d.hash(h.key, streamKey(m, streamDrift), 0)
	g.driftPeriod = float64(6*dayMs) * (1 + unit(r))
	g.driftPhase = 2 * math.Pi * unit(splitmix64(r))
	return g
}

// value is the metric of the host at t (ms), given the user traffic
// activity(t); all points within one minute share the minute's value.
func (g *demoGen) value(t int64, act float64) float64 {
	t = floorDiv(t, minuteMs) * minuteMs
	p := g.h.prof
	if g.m == metricMaxConnections {
		return p.maxConn
	}
	var v float64
	if p.batch {
		v = g.batchValue(t)
	} else {
		v = g.normalValue(t, act)
	}
	limit := 100.0
	if g.m == metricConnections {
		limit = p.maxConn
	}
	if ep := g.h.ep; ep != nil && ep.metric == g.m {
		v = episodeValue(ep, g.h.epBase, v, limit, t)
	}
	if g.m == metricConnections {
		v = math.Round(v)
	}
	return min(max(v, 0), limit)
}

// normalValue is base + amp·activity + drift + deploy shift + noise.
// Connections scale multiplicatively and get count noise with standard
// deviation ~√mean, like a Poisson count.
func (g *demoGen) normalValue(t int64, act float64) float64 {
	p := g.h.prof
	minute := floorDiv(t, minuteMs)
	white := gauss(draw(g.white, minute))
	switch g.m {
	case metricCPU:
		return p.cpuBase + p.cpuAmp*act + g.drift(t) + g.deployShift(t) + 1.2*white + 2*g.smoothNoise(minute)
	case metricMemory:
		return p.memBase + p.memAmp*act + g.drift(t) + g.deployShift(t) + 0.25*white + 0.6*g.smoothNoise(minute)
	default:
		mean := (p.connBase + p.connAmp*act) * (1 + g.drift(t) + g.deployShift(t) + 0.04*g.smoothNoise(minute))
		return mean + math.Sqrt(math.Max(mean, 0))*white
	}
}

// batchValue is the hard negative: a nightly batch window (01:00-05:00 UTC,
// every day) with cpu 85-92 %, memory steady at 80-85 % and high but normal
// connections. Its noise is bounded (see gauss) so it never leaves those
// bands, and it has no drifts or deploys, so every night looks like the last.
func (g *demoGen) batchValue(t int64) float64 {
	p := g.h.prof
	b := batchWindow(t)
	noise := gauss(draw(g.white, floorDiv(t, minuteMs)))
	switch g.m {
	case metricCPU:
		return p.cpuBase + p.cpuAmp*b + 0.9*noise
	case metricMemory:
		return p.memBase + p.memAmp*b + 0.5*noise
	default:
		mean := p.connBase + p.connAmp*b
		return mean + 0.5*math.Sqrt(mean)*noise
	}
}

// episodeValue applies a scripted failure whose occurrence k = 0 starts at
// base to the normal value v. During the ramp the value moves linearly from
// v to the limit, v + (limit-v)·f with f the ramp fraction, so it arrives
// exactly at the limit at the incident start.
func episodeValue(ep *demoEpisode, base int64, v, limit float64, t int64) float64 {
	period, ramp, hold := ep.period.Milliseconds(), ep.ramp.Milliseconds(), ep.hold.Milliseconds()
	k := floorDiv(t-base+ramp, period)
	u := t - (base + k*period) // time since the incident start, in [-ramp, period-ramp)
	switch {
	case u < 0:
		f := float64(u+ramp) / float64(ramp)
		return v + (limit-v)*f
	case u >= hold:
		return v
	case ep.pinned || u < minuteMs:
		return limit
	default:
		// Restarted process: far below normal, recovering by the end of hold.
		return v * (0.4 + 0.6*float64(u)/float64(hold))
	}
}

func (g *demoGen) drift(t int64) float64 {
	return g.driftAmp * math.Sin(2*math.Pi*float64(t)/g.driftPeriod+g.driftPhase)
}

func (g *demoGen) deployShift(t int64) float64 {
	if g.shiftAmp == 0 {
		return 0
	}
	if t < g.shiftFrom || t >= g.shiftUntil {
		g.shift, g.shiftUntil = g.d.deployShift(g.h.key, g.m, t, g.shiftAmp)
		g.shiftFrom = t
	}
	return g.shift
}

// smoothNoise is value noise: unit-variance knots every 15 minutes joined by
// cosine interpolation, a slowly wandering component that white noise lacks.
func (g *demoGen) smoothNoise(minute int64) float64 {
	k := floorDiv(minute, smoothKnot)
	if k != g.knot {
		if k == g.knot+1 {
			g.k0 = g.k1
		} else {
			g.k0 = gauss(draw(g.smooth, k))
		}
		g.k1 = gauss(draw(g.smooth, k+1))
		g.knot = k
	}
	w := smoothWeight[minute-k*smoothKnot]
	return (1-w)*g.k0 + w*g.k1
}

const smoothKnot = 15 // minutes

// smoothWeight is the cosine interpolation weight ½(1 - cos πf) at each
// minute of a knot interval, f its fraction of the interval.
var smoothWeight = func() (w [smoothKnot]float64) {
	for j := range w {
		f := float64(j) / smoothKnot
		w[j] = 0.5 * (1 - math.Cos(math.Pi*f))
	}
	return w
}()

// deployShift is the level set by the latest deploy at or before t, and
// when it may next change: on 45 % of weekdays a deploy lands between 10:00
// and 17:00 UTC and moves the level to a new value uniform in [-amp, amp].
// Only the last two weeks are searched; before any deploy the level is 0.
func (d *Demo) deployShift(host uint64, m demoMetric, t int64, amp float64) (level float64, until int64) {
	today := floorDiv(t, dayMs)
	until = (today + 1) * dayMs
	if at, ok := d.deployAt(host, today); ok && t < at {
		until = at
	}
	for day := today; day > today-14; day-- {
		if at, ok := d.deployAt(host, day); ok && t >= at {
			return amp * (2*unit(d.hash(host, streamKey(m, streamShift), day)) - 1), until
		}
	}
	return 0, until
}

// deployAt returns the time of the host's deploy on Unix day day, if any.
func (d *Demo) deployAt(host uint64, day int64) (int64, bool) {
	if isWeekend(day) {
		return 0, false
	}
	r := d.hash(host, streamDeploy, day)
	if unit(r) >= 0.45 {
		return 0, false
	}
	return day*dayMs + 10*hourMs + int64(unit(splitmix64(r))*float64(7*hourMs)), true
}

// activity is the share of peak user traffic at t, in [0,1]: a daily cycle
// 0.5·(1 - cos(2π(h-4)/24)) that bottoms at 04:00 UTC and peaks at 16:00,
// damped to 55 % on weekends, with the weekday/weekend change blended over
// the first two hours of the day so there is no step at midnight.
func activity(t int64) float64 {
	day := floorDiv(t, dayMs)
	hod := float64(t-day*dayMs) / float64(hourMs)
	daily := 0.5 * (1 - math.Cos(2*math.Pi*(hod-4)/24))
	w := weekdayFactor(day)
	if hod < 2 {
		prev := weekdayFactor(day - 1)
		w = prev + (w-prev)*hod/2
	}
	return daily * w
}

func weekdayFactor(day int64) float64 {
	if isWeekend(day) {
		return 0.55
	}
	return 1
}

// isWeekend reports whether Unix day number day is a Saturday or Sunday
// (day 0, 1970-01-01, was a Thursday).
func isWeekend(day int64) bool {
	wd := (day%7 + 7 + 4) % 7 // 0 = Sunday
	return wd == 0 || wd == 6
}

// batchWindow is 1 inside the nightly batch window 01:00-05:00 UTC, 0
// outside, with 10-minute linear ramps at both ends.
func batchWindow(t int64) float64 {
	m := float64(t-floorDiv(t, dayMs)*dayMs) / float64(minuteMs)
	const on, off, ramp = 60, 300, 10
	switch {
	case m < on || m >= off+ramp:
		return 0
	case m < on+ramp:
		return (m - on) / ramp
	case m < off:
		return 1
	default:
		return 1 - (m-off)/ramp
	}
}

// Hash streams: independent random numbers per (host, metric, purpose).
const (
	streamWhite = iota
	streamSmooth
	streamDrift
	streamShift
	streamDeploy // per host, shared by all metrics: one deploy moves them all
)

func streamKey(m demoMetric, s int) uint64 { return uint64(m)<<4 | uint64(s) }

// stream is the part of a hash that depends on the seed, host and stream
// only; draw(stream, i) is then the i-th random number of the stream.
func (d *Demo) stream(host, stream uint64) uint64 {
	return d.seed ^ splitmix64(host<<8|stream)
}

func draw(stream uint64, i int64) uint64 { return splitmix64(stream ^ splitmix64(uint64(i))) }

func (d *Demo) hash(host, stream uint64, i int64) uint64 { return draw(d.stream(host, stream), i) }

// gauss maps a hash to an approximately standard normal number: the
// Irwin-Hall sum of four uniforms taken from its 16-bit lanes, centred and
// scaled to unit variance, (Σu - 2)·√3. Unlike a true normal it is bounded
// by ±2√3 ≈ ±3.46, which keeps the healthy hosts inside their bands.
func gauss(r uint64) float64 {
	var s float64
	for lane := 0; lane < 4; lane++ {
		s += float64(r>>(16*lane)&0xffff) / 65536
	}
	return (s - 2) * math.Sqrt(3)
}

// unit maps a hash to [0,1) using its top 53 bits.
func unit(r uint64) float64 { return float64(r>>11) / (1 << 53) }

// splitmix64 is the SplitMix64 finaliser (Steele, Lea, Flood, "Fast
// splittable pseudorandom number generators", OOPSLA 2014).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
