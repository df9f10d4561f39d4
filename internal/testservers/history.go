package testservers

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Series is one generated series: a metric name, its labels (without
// __name__) and its samples, T in Unix milliseconds in increasing order.
type Series struct {
	Name   string
	Labels map[string]string
	T      []int64
	V      []float64
}

// Fleet describes node_exporter and postgres_exporter-like history for a
// few hosts: per-CPU idle/user counters, MemAvailable/MemTotal,
// pg_stat_activity_count per state and pg_settings_max_connections.
// The zero value is not useful; start from DefaultFleet.
type Fleet struct {
	Instances int
	CPUs      int
	Start     time.Time
	Step      time.Duration
	Points    int
	Seed      uint64
	// GapInstance's series have no samples for GapSteps steps starting at
	// GapAt (a scrape outage); GapSteps == 0 means no gap.
	GapInstance, GapAt, GapSteps int
	// ResetInstance's counters restart from zero at step ResetAt (a reboot);
	// ResetAt == 0 means no reset.
	ResetInstance, ResetAt int
	// PostgresPort, when set, is the port of postgres_exporter's targets,
	// so that a host's pg_* series have an instance of their own
	// (host-0:9187) as on a real fleet; zero puts them on node_exporter's.
	PostgresPort int
}

// DefaultFleet is two weeks of 1-minute history for three hosts, in the past
// (so a fixed range can be asserted on), with one scrape outage and one
// reboot.
func DefaultFleet() Fleet {
	const points = 14*24*60 + 1
	return Fleet{
		Instances:     3,
		CPUs:          2,
		Start:         time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
		Step:          time.Minute,
		Points:        points,
		Seed:          1,
		GapInstance:   2,
		GapAt:         points / 3,
		GapSteps:      20,
		ResetInstance: 1,
		ResetAt:       points * 3 / 5,
	}
}

// End is the timestamp of the last generated step.
func (f Fleet) End() time.Time {
	return f.Start.Add(time.Duration(f.Points-1) * f.Step)
}

// Instance names host i the way node_exporter targets are named.
func Instance(i int) string { return fmt.Sprintf("host-%d:9100", i) }

// Series generates the fleet's history, deterministically for a given Seed.
// Values are decimal fractions with few digits, so every text format
// round-trips them exactly.
func (f Fleet) Series() []Series {
	rng := rand.New(rand.NewPCG(f.Seed, 0x5eed))
	stepSec := f.Step.Seconds()
	var out []Series
	for i := range f.Instances {
		series := func(job, name string, extra ...string) Series {
			inst := Instance(i)
			if job == "postgres" && f.PostgresPort != 0 {
				inst = fmt.Sprintf("%s:%d", Host(i), f.PostgresPort)
			}
			l := map[string]string{"instance": inst, "job": job}
			for k := 0; k+1 < len(extra); k += 2 {
				l[extra[k]] = extra[k+1]
			}
			return Series{Name: name, Labels: l}
		}
		// Counters count centiseconds as integers so that float64(c)/100 is
		// the same double whichever way it is printed and parsed.
		var cpus []Series
		var cents []int64
		var idleMode []bool
		for c := range f.CPUs {
			for _, mode := range []string{"idle", "user"} {
				cpus = append(cpus, series("node", "node_cpu_seconds_total", "cpu", strconv.Itoa(c), "mode", mode))
				cents = append(cents, int64(i)*1e9)
				idleMode = append(idleMode, mode == "idle")
			}
		}
		memTotal := int64(8) << 30 << (i % 2)
		memAvail := series("node", "node_memory_MemAvailable_bytes")
		memTot := series("node", "node_memory_MemTotal_bytes")
		active := series("postgres", "pg_stat_activity_count", "datname", "app", "state", "active")
		idle := series("postgres", "pg_stat_activity_count", "datname", "app", "state", "idle")
		maxConn := series("postgres", "pg_settings_max_connections")
		for p := range f.Points {
			if i == f.GapInstance && f.GapSteps > 0 && p >= f.GapAt && p < f.GapAt+f.GapSteps {
				continue
			}
			t := f.Start.Add(time.Duration(p) * f.Step).UnixMilli()
			day := 2 * math.Pi * float64(p) * stepSec / 86400
			load := 0.5 + 0.3*math.Sin(day) + 0.1*rng.Float64()
			if i == f.ResetInstance && f.ResetAt > 0 && p == f.ResetAt {
				clear(cents)
			}
			for k := range cpus {
				busy := load
				if idleMode[k] {
					busy = 1 - load
				}
				cents[k] += int64(math.Round(busy * stepSec * 100))
				appendSample(&cpus[k], t, float64(cents[k])/100)
			}
			avail := float64(memTotal) * (0.6 - 0.2*load)
			if i == 0 {
				avail -= float64(memTotal) * 0.35 * float64(p) / float64(f.Points) // a slow leak, down to ~7 % free
			}
			appendSample(&memAvail, t, math.Round(avail))
			appendSample(&memTot, t, float64(memTotal))
			appendSample(&active, t, math.Round(40*load+5*rng.Float64()))
			appendSample(&idle, t, math.Round(20+10*rng.Float64()))
			appendSample(&maxConn, t, 100)
		}
		out = append(out, cpus...)
		out = append(out, memAvail, memTot, active, idle, maxConn)
	}
	return out
}

func appendSample(s *Series, t int64, v float64) {
	s.T = append(s.T, t)
	s.V = append(s.V, v)
}

// LabelsWithName returns s's labels plus __name__, the label set Prometheus
// returns for a plain selector.
func (s Series) LabelsWithName() map[string]string {
	l := make(map[string]string, len(s.Labels)+1)
	for k, v := range s.Labels {
		l[k] = v
	}
	l["__name__"] = s.Name
	return l
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func formatValue(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// WriteOpenMetrics writes series in the OpenMetrics text format that
// `promtool tsdb create-blocks-from openmetrics` reads. Samples of one
// metric name must be contiguous, so series are grouped by name.
func WriteOpenMetrics(w io.Writer, series []Series) error {
	om := NewOpenMetricsWriter(w)
	byName := slices.Clone(series)
	slices.SortStableFunc(byName, func(a, b Series) int { return strings.Compare(a.Name, b.Name) })
	for _, s := range byName {
		if err := om.Write(s); err != nil {
			return err
		}
	}
	return om.Close()
}

// OpenMetricsWriter writes series one at a time in the OpenMetrics text
// format, for histories too large to hold at once; the caller keeps the
// series of one metric name contiguous.
type OpenMetricsWriter struct {
	bw   *bufio.Writer
	line []byte
}

// NewOpenMetricsWriter returns a writer of OpenMetrics text to w.
func NewOpenMetricsWriter(w io.Writer) *OpenMetricsWriter {
	return &OpenMetricsWriter{bw: bufio.NewWriterSize(w, 1<<20)}
}

// Write writes the samples of s, one line each.
func (om *OpenMetricsWriter) Write(s Series) error {
	line := append(om.line[:0], s.Name...)
	line = append(line, '{')
	for j, k := range sortedKeys(s.Labels) {
		if j > 0 {
			line = append(line, ',')
		}
		line = append(line, k...)
		line = append(line, '=')
		line = strconv.AppendQuote(line, s.Labels[k])
	}
	line = append(line, "} "...)
	prefix := len(line)
	for j, t := range s.T {
		line = strconv.AppendFloat(line[:prefix], s.V[j], 'f', -1, 64)
		line = append(line, ' ')
		line = strconv.AppendFloat(line, float64(t)/1000, 'f', -1, 64)
		line = append(line, '\n')
		if _, err := om.bw.Write(line); err != nil {
			return fmt.Errorf("cannot write OpenMetrics: %w", err)
		}
	}
	om.line = line
	return nil
}

// Close ends the exposition with # EOF and flushes it; it does not close
// the underlying writer.
func (om *OpenMetricsWriter) Close() error {
	if _, err := om.bw.WriteString("# EOF\n"); err != nil {
		return fmt.Errorf("cannot write OpenMetrics: %w", err)
	}
	return om.bw.Flush()
}

// WriteLineProtocol writes series as InfluxDB line protocol with second
// precision: the metric name is the measurement, labels are tags and the
// value is the field "value".
func WriteLineProtocol(w io.Writer, series []Series) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	var line []byte
	for _, s := range series {
		line = append(line[:0], s.Name...)
		for _, k := range sortedKeys(s.Labels) {
			line = append(line, ',')
			line = append(line, escapeTag(k)...)
			line = append(line, '=')
			line = append(line, escapeTag(s.Labels[k])...)
		}
		line = append(line, " value="...)
		prefix := len(line)
		for j, t := range s.T {
			line = strconv.AppendFloat(line[:prefix], s.V[j], 'f', -1, 64)
			line = append(line, ' ')
			line = strconv.AppendInt(line, t/1000, 10)
			line = append(line, '\n')
			if _, err := bw.Write(line); err != nil {
				return fmt.Errorf("cannot write line protocol: %w", err)
			}
		}
	}
	return bw.Flush()
}

var tagEscaper = strings.NewReplacer(",", `\,`, "=", `\=`, " ", `\ `)

func escapeTag(s string) string { return tagEscaper.Replace(s) }

// Host names instance i the way Telegraf's host tag does: without a port.
func Host(i int) string { return fmt.Sprintf("host-%d", i) }

// WriteTelegraf writes the fleet's history as Telegraf's cpu, mem and
// postgresql inputs would have reported it, in line protocol with second
// precision: cpu-total usage_idle (from the idle counters' increase),
// mem used_percent and postgresql numbackends of database "app", tagged
// with host. The first point and the one after a counter reset have no cpu
// line, as a rate has none there.
func WriteTelegraf(w io.Writer, f Fleet) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	type key struct{ host, name string }
	byKey := map[key][]Series{}
	for _, s := range f.Series() {
		if s.Name == "node_cpu_seconds_total" && s.Labels["mode"] != "idle" {
			continue
		}
		host, _, _ := strings.Cut(s.Labels["instance"], ":")
		k := key{host, s.Name}
		byKey[k] = append(byKey[k], s)
	}
	stepSec := f.Step.Seconds()
	var line []byte
	for i := range f.Instances {
		host := Host(i)
		idle := byKey[key{host, "node_cpu_seconds_total"}]
		avail := byKey[key{host, "node_memory_MemAvailable_bytes"}][0]
		total := byKey[key{host, "node_memory_MemTotal_bytes"}][0]
		conns := byKey[key{host, "pg_stat_activity_count"}]
		for j, t := range avail.T {
			ts := t / 1000
			if j > 0 {
				sum, ok := 0.0, true
				for _, c := range idle {
					d := c.V[j] - c.V[j-1]
					ok = ok && d >= 0 && c.T[j]-c.T[j-1] == f.Step.Milliseconds()
					sum += d
				}
				if ok {
					line = fmt.Appendf(line[:0], "cpu,cpu=cpu-total,host=%s usage_idle=%s %d\n", host, formatValue(100*sum/stepSec/float64(len(idle))), ts)
					if _, err := bw.Write(line); err != nil {
						return fmt.Errorf("cannot write line protocol: %w", err)
					}
				}
			}
			n := 0.0
			for _, c := range conns {
				n += c.V[j]
			}
			line = fmt.Appendf(line[:0], "mem,host=%s used_percent=%s %d\npostgresql,db=app,host=%s numbackends=%di %d\n",
				host, formatValue(100*(1-avail.V[j]/total.V[j])), ts, host, int64(n), ts)
			if _, err := bw.Write(line); err != nil {
				return fmt.Errorf("cannot write line protocol: %w", err)
			}
		}
	}
	return bw.Flush()
}
