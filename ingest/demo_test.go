package ingest

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// demoStart is a Tuesday noon, so the 14-day history holds two weekends.
var demoStart = time.Date(2026, 3, 10, 12, 0, 30, 0, time.UTC)

// fakeClock is a settable real clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestDemo(seed int64) (*Demo, *fakeClock) {
	clk := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	return NewDemo(DemoOptions{Seed: seed, Start: demoStart, Clock: clk.now}), clk
}

// demoRange returns query's series by host over [from, to] at 1m.
func demoRange(t *testing.T, d *Demo, query string, from, to time.Time) map[string][]Sample {
	t.Helper()
	ss, err := d.Range(context.Background(), query, from, to, time.Minute)
	if err != nil {
		t.Fatalf("Range(%q): %v", query, err)
	}
	out := map[string][]Sample{}
	for _, s := range ss {
		out[s.Labels["host"]] = s.Samples
	}
	return out
}

func valueAt(t *testing.T, s []Sample, at time.Time) float64 {
	t.Helper()
	ms := at.UnixMilli()
	i, ok := slices.BinarySearchFunc(s, ms, func(x Sample, ms int64) int { return int(x.T - ms) })
	if !ok {
		t.Fatalf("no sample at %s", at)
	}
	return s[i].V
}

func TestDemoNowAndWindow(t *testing.T) {
	d, clk := newTestDemo(1)
	anchor := demoStart.Truncate(time.Minute)
	if got := d.Now(); !got.Equal(anchor) {
		t.Fatalf("Now() at start = %s, want %s", got, anchor)
	}
	clk.t = clk.t.Add(90 * time.Second)
	if got, want := d.Now(), anchor.Add(time.Minute); !got.Equal(want) {
		t.Fatalf("Now() after 90s = %s, want %s (truncated to the minute)", got, want)
	}

	fast := NewDemo(DemoOptions{Start: demoStart, Speed: 60, Clock: clk.now})
	clk.t = clk.t.Add(10 * time.Second)
	if got, want := fast.Now(), anchor.Add(10*time.Minute); !got.Equal(want) {
		t.Fatalf("Now() at speed 60 after 10s = %s, want %s", got, want)
	}

	// Points exist only in [Start-History, Now()], on the grid of start.
	from := anchor.Add(-20 * 24 * time.Hour).Add(30 * time.Second)
	ss, err := d.Range(context.Background(), "cpu", from, anchor.Add(24*time.Hour), 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != DefaultDemoHosts {
		t.Fatalf("got %d series, want %d", len(ss), DefaultDemoHosts)
	}
	s := ss[0].Samples
	lo, hi := anchor.Add(-14*24*time.Hour).UnixMilli(), d.Now().UnixMilli()
	if s[0].T < lo || s[0].T-lo >= (5*time.Minute).Milliseconds() {
		t.Errorf("first sample at %d, want the first grid point ≥ %d", s[0].T, lo)
	}
	if last := s[len(s)-1].T; last > hi {
		t.Errorf("last sample at %d is after Now() %d", last, hi)
	}
	for i := range s {
		if (s[i].T-from.UnixMilli())%(5*time.Minute).Milliseconds() != 0 {
			t.Fatalf("sample %d at %d is off the grid of start", i, s[i].T)
		}
	}
}

func TestDemoErrors(t *testing.T) {
	d, _ := newTestDemo(1)
	ctx := context.Background()
	_, err := d.Range(ctx, "disk", demoStart.Add(-time.Hour), demoStart, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "cpu, memory, connections, max_connections") {
		t.Errorf("unknown metric: error %v should list the valid names", err)
	}
	if _, err := d.Range(ctx, "cpu", demoStart.Add(-time.Hour), demoStart, 0); err == nil {
		t.Error("zero step: want an error")
	}
	if _, err := d.Range(ctx, "cpu", demoStart.Add(-14*24*time.Hour), demoStart, time.Millisecond); err == nil {
		t.Error("a billion points: want an error")
	}
	ss, err := d.Range(ctx, "cpu", demoStart.Add(time.Hour), demoStart.Add(2*time.Hour), time.Minute)
	if err != nil || len(ss) != 0 {
		t.Errorf("range in the future: got %d series, %v; want none", len(ss), err)
	}
	stop := errors.New("stop")
	calls := 0
	err = d.Each(ctx, "cpu", demoStart.Add(-time.Hour), demoStart, time.Minute, func(Series) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("Each after fn failed: %d calls, error %v; want 1 call and fn's error", calls, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Range(cancelled, "cpu", demoStart.Add(-time.Hour), demoStart, time.Minute); err == nil {
		t.Error("cancelled context: want an error")
	}
}

// TestDemoDeterministic checks that values are a function of (seed, anchor,
// t) only: any sub-range equals the same points of a longer range, a second
// Demo gives the same values, and another seed different ones.
func TestDemoDeterministic(t *testing.T) {
	d1, _ := newTestDemo(7)
	d2, _ := newTestDemo(7)
	other, _ := newTestDemo(8)
	from, to := demoStart.Add(-3*24*time.Hour), demoStart
	for _, m := range []string{"cpu", "memory", "connections"} {
		full := demoRange(t, d1, m, from, to)
		part := demoRange(t, d2, m, to.Add(-7*time.Hour+17*time.Minute), to.Add(-2*time.Hour))
		diff := demoRange(t, other, m, from, to)
		for host, s := range part {
			for _, x := range s {
				if got := valueAt(t, full[host], time.UnixMilli(x.T)); got != x.V {
					t.Fatalf("%s %s at %d: %v in a long range, %v in a short one", m, host, x.T, got, x.V)
				}
			}
			same := 0
			for i := range full[host] {
				if full[host][i].V == diff[host][i].V {
					same++
				}
			}
			if same > len(full[host])/2 {
				t.Errorf("%s %s: seeds 7 and 8 agree on %d of %d points", m, host, same, len(full[host]))
			}
		}
	}
}

func TestDemoBounds(t *testing.T) {
	d, _ := newTestDemo(3)
	from, to := demoStart.Add(-14*24*time.Hour), demoStart
	limits := demoRange(t, d, "max_connections", from, to)
	want := map[string]float64{"db-1": 200, "db-2": 200, "web-1": 500, "api-2": 500}
	for host, w := range want {
		if got := limits[host][0].V; got != w {
			t.Errorf("max_connections of %s = %v, want %v", host, got, w)
		}
	}
	for _, m := range []string{"cpu", "memory", "connections"} {
		for host, s := range demoRange(t, d, m, from, to) {
			hi := 100.0
			if m == "connections" {
				hi = limits[host][0].V
			}
			for _, x := range s {
				if !(x.V >= 0 && x.V <= hi) {
					t.Fatalf("%s %s = %v at %d, outside [0, %v]", m, host, x.V, x.T, hi)
				}
				if m == "connections" && x.V != math.Trunc(x.V) {
					t.Fatalf("connections %s = %v is not a count", host, x.V)
				}
			}
		}
	}
}

// TestDemoScriptedFailures follows each scripted failure through its first
// live occurrence and checks the history holds at least two of each.
func TestDemoScriptedFailures(t *testing.T) {
	d, clk := newTestDemo(1)
	anchor := d.Start()
	clk.t = clk.t.Add(8 * time.Hour) // demo time: anchor + 8h
	ctx := context.Background()

	all, err := d.Incidents(ctx, anchor.Add(-30*24*time.Hour), anchor.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	history := map[string]int{}
	for _, in := range all {
		if in.Source != "demo" || in.Start.Before(anchor.Add(-14*24*time.Hour)) || in.Start.After(d.Now()) {
			t.Errorf("incident %+v: outside the demo's history or not from the demo", in)
		}
		if in.Start.Before(anchor) {
			history[in.Name]++
		}
	}
	tests := []struct {
		name, host, metric string
		first              time.Duration // first live incident start after the anchor
		limit              float64
		ramp, hold         time.Duration
		pinned             bool
	}{
		{"OOMKilled", "cache-1", "memory", 45 * time.Minute, 100, 8 * time.Hour, 3 * time.Minute, false},
		{"ConnectionPoolExhausted", "db-1", "connections", 3 * time.Hour, 200, 2 * time.Hour, 20 * time.Minute, true},
		{"CPUSaturated", "web-2", "cpu", 6 * time.Hour, 100, time.Hour, 30 * time.Minute, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if history[tc.name] < 2 {
				t.Errorf("%d occurrences in the history, want at least 2", history[tc.name])
			}
			var live []Incident
			for _, in := range all {
				if in.Name == tc.name && !in.Start.Before(anchor) {
					live = append(live, in)
				}
			}
			if len(live) != 1 {
				t.Fatalf("live incidents: %+v, want exactly one by anchor+8h", live)
			}
			in := live[0]
			if in.Entity != tc.host || in.Signal != tc.metric || !in.Start.Equal(anchor.Add(tc.first)) || in.End.Sub(in.Start) != tc.hold {
				t.Errorf("incident %+v, want %s/%s from anchor+%s lasting %s", in, tc.host, tc.metric, tc.first, tc.hold)
			}
			s := demoRange(t, d, tc.metric, in.Start.Add(-tc.ramp), d.Now())[tc.host]
			if v := valueAt(t, s, in.Start); v != tc.limit {
				t.Errorf("value at the incident start = %v, want the limit %v", v, tc.limit)
			}
			if v := valueAt(t, s, in.Start.Add(-tc.ramp)); v > 0.8*tc.limit {
				t.Errorf("value %s before = %v, want well below the limit (a ramp, not a step)", tc.ramp, v)
			}
			before := valueAt(t, s, in.Start.Add(-30*time.Minute))
			if before >= tc.limit || before < valueAt(t, s, in.Start.Add(-50*time.Minute)) {
				t.Errorf("value 30m before = %v, want rising towards the limit", before)
			}
			if tc.pinned {
				if v := valueAt(t, s, in.End.Add(-time.Minute)); v != tc.limit {
					t.Errorf("value at the end of the incident = %v, want pinned at %v", v, tc.limit)
				}
			}
			if v := valueAt(t, s, in.End.Add(5*time.Minute)); v > 0.8*tc.limit {
				t.Errorf("value 5m after the incident = %v, want back to normal", v)
			}
		})
	}
	// The leak is visible from the start: cache-1 memory is high and rising.
	mem := demoRange(t, d, "memory", anchor.Add(-time.Hour), anchor)["cache-1"]
	if v, earlier := valueAt(t, mem, anchor), valueAt(t, mem, anchor.Add(-time.Hour)); v < 90 || v <= earlier {
		t.Errorf("cache-1 memory at the anchor = %v (an hour earlier %v), want above 90 and rising", v, earlier)
	}
}

// TestDemoIncidentsOngoing checks an incident under way ends at Now().
func TestDemoIncidentsOngoing(t *testing.T) {
	d, clk := newTestDemo(1)
	clk.t = clk.t.Add(3*time.Hour + 5*time.Minute)
	got, err := d.Incidents(context.Background(), d.Start(), d.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Name != "ConnectionPoolExhausted" || !got[1].End.Equal(d.Now()) {
		t.Errorf("incidents at anchor+3h5m: %+v, want the OOM and a pool exhaustion ending now", got)
	}
}

// TestDemoHealthyHosts checks that only the scripted hosts reach a limit and
// that batch-1, the hard negative, stays in its bands every night.
func TestDemoHealthyHosts(t *testing.T) {
	d, _ := newTestDemo(5)
	from, to := demoStart.Add(-14*24*time.Hour), demoStart
	conns := demoRange(t, d, "connections", from, to)
	limits := demoRange(t, d, "max_connections", from, to)
	for _, m := range []string{"cpu", "memory"} {
		for host, s := range demoRange(t, d, m, from, to) {
			if host == "web-2" && m == "cpu" || host == "cache-1" && m == "memory" {
				continue
			}
			for _, x := range s {
				if x.V > 92 {
					t.Fatalf("%s %s = %v at %s: a healthy host near its limit", m, host, x.V, time.UnixMilli(x.T).UTC())
				}
			}
		}
	}
	for host, s := range conns {
		if host == "db-1" {
			continue
		}
		for _, x := range s {
			if x.V > 0.9*limits[host][0].V {
				t.Fatalf("connections %s = %v: a healthy host near its limit", host, x.V)
			}
		}
	}

	cpu := demoRange(t, d, "cpu", from, to)["batch-1"]
	mem := demoRange(t, d, "memory", from, to)["batch-1"]
	var nightly []float64
	var sum float64
	var n int
	for i, x := range cpu {
		at := time.UnixMilli(x.T).UTC()
		minute := at.Hour()*60 + at.Minute()
		if minute == 60+10 && sum > 0 {
			sum, n = 0, 0
		}
		if minute >= 70 && minute < 300 {
			if x.V < 85 || x.V > 92 {
				t.Fatalf("batch-1 cpu = %v at %s, want 85..92 during the batch window", x.V, at)
			}
			sum += x.V
			n++
			if minute == 299 {
				nightly = append(nightly, sum/float64(n))
			}
		}
		if v := mem[i].V; v < 80 || v > 85 {
			t.Fatalf("batch-1 memory = %v at %s, want 80..85", v, at)
		}
	}
	if len(nightly) < 13 {
		t.Fatalf("%d full batch nights in 14 days", len(nightly))
	}
	if lo, hi := slices.Min(nightly), slices.Max(nightly); hi-lo > 1 {
		t.Errorf("batch-1 nightly mean cpu varies from %.2f to %.2f: nights should look alike", lo, hi)
	}
}

// TestDemoSeasonality checks the daily and weekly cycle of user traffic:
// afternoons busier than nights, weekdays busier than weekends.
func TestDemoSeasonality(t *testing.T) {
	d, _ := newTestDemo(2)
	s := demoRange(t, d, "connections", demoStart.Add(-14*24*time.Hour), demoStart)["web-1"]
	var day, night, weekday, weekend mean
	for _, x := range s {
		at := time.UnixMilli(x.T).UTC()
		if at.Hour() == 16 {
			if at.Weekday() == time.Saturday || at.Weekday() == time.Sunday {
				weekend.add(x.V)
			} else {
				weekday.add(x.V)
				day.add(x.V)
			}
		}
		if at.Hour() == 4 {
			night.add(x.V)
		}
	}
	if day.get() < 2*night.get() {
		t.Errorf("web-1 connections: 16:00 mean %.0f, 04:00 mean %.0f; want a strong daily cycle", day.get(), night.get())
	}
	if weekday.get() < 1.3*weekend.get() {
		t.Errorf("web-1 connections at 16:00: weekday mean %.0f, weekend mean %.0f; want a weekly cycle", weekday.get(), weekend.get())
	}
}

type mean struct {
	sum float64
	n   int
}

func (m *mean) add(v float64) { m.sum += v; m.n++ }
func (m *mean) get() float64  { return m.sum / float64(m.n) }

func TestDemoMetrics(t *testing.T) {
	got := DemoMetrics()
	got[0] = "changed"
	if DemoMetrics()[0] != "cpu" {
		t.Error("DemoMetrics returns the package's own slice")
	}
}

// BenchmarkDemoFleet generates what a fit needs at start: every host and
// metric over 14 days at 1m.
func BenchmarkDemoFleet(b *testing.B) {
	d := NewDemo(DemoOptions{Start: demoStart, Clock: func() time.Time { return demoStart }})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range DemoMetrics() {
			if _, err := d.Range(ctx, m, demoStart.Add(-14*24*time.Hour), demoStart, time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestDemoNoCounters guards the engine's counter heuristic: demo series are
// gauges and must not be mistaken for counters a user forgot to rate().
func TestDemoNoCounters(t *testing.T) {
	d, _ := newTestDemo(1)
	for _, m := range DemoMetrics() {
		for host, s := range demoRange(t, d, m, demoStart.Add(-14*24*time.Hour), demoStart) {
			if LooksLikeCounter(s) {
				t.Errorf("%s %s looks like a counter", m, host)
			}
		}
	}
}

// BenchmarkDemoEach streams a fleet of 1,000 series (333 hosts × cpu,
// memory, connections) over 14 days at 1m, as the engine's first fetch
// reads it; ns/point is the generator's cost per sample and B/op stays that
// of one series whatever the fleet's size.
func BenchmarkDemoEach(b *testing.B) {
	d := NewDemo(DemoOptions{Hosts: 333, Start: demoStart, Clock: func() time.Time { return demoStart }})
	ctx := context.Background()
	points := 0
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range []string{"cpu", "memory", "connections"} {
			err := d.Each(ctx, m, demoStart.Add(-14*24*time.Hour), demoStart, time.Minute, func(s Series) error {
				points += len(s.Samples)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(points), "ns/point")
}

// TestDemoLargeFleet checks a fleet of several cells: names that sort in
// fleet order, the default hosts' data unchanged, every cell's scripted
// failures reaching their limit at their own times, and no other host near
// a limit.
func TestDemoLargeFleet(t *testing.T) {
	const hosts = 40
	clk := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	d := NewDemo(DemoOptions{Seed: 4, Hosts: hosts, Start: demoStart, Clock: clk.now})
	small := NewDemo(DemoOptions{Seed: 4, Start: demoStart, Clock: clk.now})
	ctx := context.Background()
	from, to := demoStart.Add(-14*24*time.Hour), demoStart

	inc, err := d.Incidents(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	failing := map[string]bool{} // host/signal
	starts := map[string]map[int64]bool{}
	perHost := map[string]int{}
	for _, in := range inc {
		failing[in.Entity+"/"+in.Signal] = true
		if starts[in.Name] == nil {
			starts[in.Name] = map[int64]bool{}
		}
		starts[in.Name][in.Start.UnixMilli()%(61*time.Hour).Milliseconds()] = true
		perHost[in.Entity]++
	}
	if len(failing) != 3*hosts/8 {
		t.Errorf("%d failing host signals, want 3 per cell of 8: %v", len(failing), failing)
	}
	for host, n := range perHost {
		if n < 3 {
			t.Errorf("%s: %d incidents in 14 days, want at least 3", host, n)
		}
	}
	for name, s := range starts {
		if len(s) < 4 {
			t.Errorf("%s: the 5 cells share %d phases, want their own times", name, len(s))
		}
	}

	limits := demoRange(t, d, "max_connections", from, to)
	for _, m := range []string{"cpu", "memory", "connections"} {
		ss, err := d.Range(ctx, m, from, to, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) != hosts {
			t.Fatalf("%s: %d series, want %d", m, len(ss), hosts)
		}
		def, err := small.Range(ctx, m, from, to, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		last := map[string]string{}
		for i, s := range ss {
			host, role := s.Labels["host"], s.Labels["role"]
			if !strings.HasPrefix(host, role+"-") || host <= last[role] {
				t.Fatalf("%s: host %q (role %s) after %q: names must sort in fleet order", m, host, role, last[role])
			}
			last[role] = host
			if i < DefaultDemoHosts && !slices.Equal(s.Samples, def[i].Samples) {
				t.Errorf("%s %s: data differs from %s's in the default fleet", m, host, def[i].Labels["host"])
			}
			hi := 92.0
			if m == "connections" {
				hi = 0.9 * limits[host][0].V
			}
			peak := slices.MaxFunc(s.Samples, func(a, b Sample) int { return cmp.Compare(a.V, b.V) }).V
			if failing[host+"/"+m] {
				if peak != 100 && peak != limits[host][0].V {
					t.Errorf("%s %s: peak %v, want its limit at each incident", m, host, peak)
				}
			} else if peak > hi {
				t.Errorf("%s %s: peak %v, a healthy host near its limit", m, host, peak)
			}
		}
	}
}
