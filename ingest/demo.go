package ingest

import (
	"context"
	"fmt"
	"math"
	"sort"
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

type demoHost struct {
	name, role string
	key        uint64
	prof       demoProfile
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

// demoHosts is the fleet. Keys are fixed so adding a host never changes the
// data of the others.
var demoHosts = []demoHost{
	{"web-1", "web", 1, webProfile},
	{"web-2", "web", 2, webProfile},
	{"api-1", "api", 3, apiProfile},
	{"api-2", "api", 4, apiProfile},
	{"db-1", "db", 5, dbProfile},
	{"db-2", "db", 6, dbProfile},
	{"cache-1", "cache", 7, cacheProfile},
	{"batch-1", "batch", 8, batchProfile},
}

// demoEpisode is a scripted failure that recurs every period: the metric
// climbs roughly linearly from its normal value to the limit over ramp and
// reaches it at the incident start T = anchor + first + k·period (k any
// integer); the incident lasts hold. Pinned episodes stay at the limit during
// hold; the others model a crash and restart (the value falls well below
// normal and recovers by the end of hold).
type demoEpisode struct {
	host   string
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
var demoEpisodes = []demoEpisode{
	{host: "cache-1", metric: metricMemory, name: "OOMKilled",
		first: 45 * time.Minute, period: 61 * time.Hour, ramp: 8 * time.Hour, hold: 3 * time.Minute},
	{host: "db-1", metric: metricConnections, name: "ConnectionPoolExhausted",
		first: 3 * time.Hour, period: 67 * time.Hour, ramp: 2 * time.Hour, hold: 20 * time.Minute, pinned: true},
	{host: "web-2", metric: metricCPU, name: "CPUSaturated",
		first: 6 * time.Hour, period: 79 * time.Hour, ramp: time.Hour, hold: 30 * time.Minute, pinned: true},
}

// DemoOptions configures the demo fleet.
type DemoOptions struct {
	// Seed selects the noise, drifts and deploys; the scripted failures are
	// the same for every seed.
	Seed int64
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

// Demo is the embedded synthetic fleet: eight hosts with cpu, memory and
// connections at one-minute resolution, and scripted failures (memory leak to
// OOM on cache-1, connection-pool exhaustion on db-1, CPU saturation on
// web-2) next to a busy but healthy batch host. It implements Source, Clock
// and IncidentLister. A Demo is immutable and safe for concurrent use.
type Demo struct {
	seed      uint64
	anchor    int64 // ms
	history   int64 // ms
	speed     float64
	clock     func() time.Time
	realStart time.Time
}

// NewDemo returns the demo fleet described by opts.
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
	return &Demo{
		seed:      splitmix64(uint64(opts.Seed)),
		anchor:    floorDiv(start.UnixMilli(), minuteMs) * minuteMs,
		history:   history.Milliseconds(),
		speed:     speed,
		clock:     clock,
		realStart: realStart,
	}
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
func (d *Demo) Range(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]Series, error) {
	m, err := parseDemoMetric(query)
	if err != nil {
		return nil, err
	}
	if step <= 0 {
		return nil, fmt.Errorf("cannot query demo metric %q: step must be positive, got %s", query, step)
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
		return []Series{}, nil
	}
	n := (last-first)/stepMs + 1
	if n > maxDemoPoints {
		return nil, fmt.Errorf("cannot query demo metric %q: %d points per series exceed the limit of %d, use a larger step", query, n, maxDemoPoints)
	}
	out := make([]Series, 0, len(demoHosts))
	for i := range demoHosts {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("cannot query demo metric %q: %w", query, err)
		}
		h := &demoHosts[i]
		samples := make([]Sample, n)
		for k := range samples {
			t := first + int64(k)*stepMs
			samples[k] = Sample{T: t, V: d.value(h, m, t)}
		}
		out = append(out, Series{
			Labels:  map[string]string{"host": h.name, "role": h.role},
			Samples: samples,
		})
	}
	return out, nil
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
	for _, ep := range demoEpisodes {
		base := d.anchor + ep.first.Milliseconds()
		period, hold := ep.period.Milliseconds(), ep.hold.Milliseconds()
		from := max(lo, s-hold)
		to := min(now, e)
		if from > to {
			continue
		}
		for k := ceilDiv(from-base, period); base+k*period <= to; k++ {
			t0 := base + k*period
			t1 := min(t0+hold, now)
			out = append(out, Incident{
				Entity: ep.host,
				Name:   ep.name,
				Signal: demoMetricNames[ep.metric],
				Start:  time.UnixMilli(t0).UTC(),
				End:    time.UnixMilli(t1).UTC(),
				Source: "demo",
			})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].Entity < out[j].Entity
	})
	return out, nil
}

// value is the metric m of host h at t (ms); all points within one minute
// share the minute's value.
func (d *Demo) value(h *demoHost, m demoMetric, t int64) float64 {
	t = floorDiv(t, minuteMs) * minuteMs
	p := &h.prof
	if m == metricMaxConnections {
		return p.maxConn
	}
	var v float64
	if p.batch {
		v = d.batchValue(h, m, t)
	} else {
		v = d.normalValue(h, m, t)
	}
	limit := 100.0
	if m == metricConnections {
		limit = p.maxConn
	}
	for i := range demoEpisodes {
		ep := &demoEpisodes[i]
		if ep.metric == m && ep.host == h.name {
			v = d.episodeValue(ep, v, limit, t)
		}
	}
	if m == metricConnections {
		v = math.Round(v)
	}
	return math.Min(math.Max(v, 0), limit)
}

// normalValue is base + amp·activity + drift + deploy shift + noise.
// Connections scale multiplicatively and get count noise with standard
// deviation ~√mean, like a Poisson count.
func (d *Demo) normalValue(h *demoHost, m demoMetric, t int64) float64 {
	p := &h.prof
	act := activity(t)
	minute := floorDiv(t, minuteMs)
	switch m {
	case metricCPU:
		return p.cpuBase + p.cpuAmp*act +
			d.drift(h, m, t, p.cpuDrift) + d.deployShift(h, m, t, p.cpuShift) +
			1.2*d.gauss(h.key, streamKey(m, streamWhite), minute) + 2*d.smoothNoise(h, m, minute)
	case metricMemory:
		return p.memBase + p.memAmp*act +
			d.drift(h, m, t, p.memDrift) + d.deployShift(h, m, t, p.memShift) +
			0.25*d.gauss(h.key, streamKey(m, streamWhite), minute) + 0.6*d.smoothNoise(h, m, minute)
	default:
		mean := (p.connBase + p.connAmp*act) *
			(1 + d.drift(h, m, t, p.connDrift) + d.deployShift(h, m, t, p.connShift) + 0.04*d.smoothNoise(h, m, minute))
		return mean + math.Sqrt(math.Max(mean, 0))*d.gauss(h.key, streamKey(m, streamWhite), minute)
	}
}

// batchValue is the hard negative: a nightly batch window (01:00-05:00 UTC,
// every day) with cpu 85-92 %, memory steady at 80-85 % and high but normal
// connections. Its noise is bounded (see gauss) so it never leaves those
// bands, and it has no drifts or deploys, so every night looks like the last.
func (d *Demo) batchValue(h *demoHost, m demoMetric, t int64) float64 {
	p := &h.prof
	b := batchWindow(t)
	minute := floorDiv(t, minuteMs)
	noise := d.gauss(h.key, streamKey(m, streamWhite), minute)
	switch m {
	case metricCPU:
		return p.cpuBase + p.cpuAmp*b + 0.9*noise
	case metricMemory:
		return p.memBase + p.memAmp*b + 0.5*noise
	default:
		mean := p.connBase + p.connAmp*b
		return mean + 0.5*math.Sqrt(mean)*noise
	}
}

// episodeValue applies a scripted failure to the normal value v. During the
// ramp the value moves linearly from v to the limit, v + (limit-v)·f with f
// the ramp fraction, so it arrives exactly at the limit at the incident start.
func (d *Demo) episodeValue(ep *demoEpisode, v, limit float64, t int64) float64 {
	base := d.anchor + ep.first.Milliseconds()
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

// drift is a slow sinusoid amp·sin(2πt/P + φ) with a per-host period P of
// 6-12 days and phase φ.
func (d *Demo) drift(h *demoHost, m demoMetric, t int64, amp float64) float64 {
	r := d.hash(h.key, streamKey(m, streamDrift), 0)
	period := float64(6*dayMs) * (1 + unit(r))
	phase := 2 * math.Pi * unit(splitmix64(r))
	return amp * math.Sin(2*math.Pi*float64(t)/period+phase)
}

// deployShift is the level set by the latest deploy at or before t: on 45 %
// of weekdays a deploy lands between 10:00 and 17:00 UTC and moves the level
// to a new value uniform in [-amp, amp]. Only the last two weeks are searched;
// before any deploy the level is 0.
func (d *Demo) deployShift(h *demoHost, m demoMetric, t int64, amp float64) float64 {
	if amp == 0 {
		return 0
	}
	today := floorDiv(t, dayMs)
	for day := today; day > today-14; day-- {
		if isWeekend(day) {
			continue
		}
		r := d.hash(h.key, streamDeploy, day)
		if unit(r) >= 0.45 {
			continue
		}
		at := day*dayMs + 10*hourMs + int64(unit(splitmix64(r))*float64(7*hourMs))
		if t < at {
			continue
		}
		return amp * (2*unit(d.hash(h.key, streamKey(m, streamShift), day)) - 1)
	}
	return 0
}

// smoothNoise is value noise: unit-variance knots every 15 minutes joined by
// cosine interpolation, a slowly wandering component that white noise lacks.
func (d *Demo) smoothNoise(h *demoHost, m demoMetric, minute int64) float64 {
	const knot = 15
	k := floorDiv(minute, knot)
	f := float64(minute-k*knot) / knot
	w := 0.5 * (1 - math.Cos(math.Pi*f))
	key := streamKey(m, streamSmooth)
	return (1-w)*d.gauss(h.key, key, k) + w*d.gauss(h.key, key, k+1)
}

func (d *Demo) hash(host, stream uint64, i int64) uint64 {
	return splitmix64(d.seed ^ splitmix64(host<<8|stream) ^ splitmix64(uint64(i)))
}

// gauss returns an approximately standard normal number: the Irwin-Hall sum
// of four uniforms taken from the 16-bit lanes of one hash, centred and scaled
// to unit variance, (Σu - 2)·√3. Unlike a true normal it is bounded by
// ±2√3 ≈ ±3.46, which keeps the healthy hosts inside their bands.
func (d *Demo) gauss(host, stream uint64, i int64) float64 {
	r := d.hash(host, stream, i)
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
