package ingest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/internal/testservers"
)

// benchFleet is the history the read benchmarks load: AUGUR_BENCH_SERIES
// series (default 270; the target size is 2000) of two weeks at 1m, as
// node_exporter/postgres_exporter-like hosts of 9 series each.
func benchFleet(b *testing.B) (testservers.Fleet, []testservers.Series, int) {
	n := 270
	if s := os.Getenv("AUGUR_BENCH_SERIES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 9 {
			b.Fatalf("AUGUR_BENCH_SERIES=%q: want a number >= 9", s)
		}
	}
	f := testservers.DefaultFleet()
	f.Instances = n / 9
	f.GapSteps, f.ResetAt = 0, 0
	gen := f.Series()
	samples := 0
	for _, s := range gen {
		samples += len(s.T)
	}
	return f, gen, samples
}

// BenchmarkPrometheusRange reads every series of the bench fleet from a
// real Prometheus over two weeks at 1m, through ingest.Prometheus and,
// for comparison, with plain HTTP GETs of the same chunks decoded by
// encoding/json.
func BenchmarkPrometheusRange(b *testing.B) {
	skipShort(b)
	f, gen, samples := benchFleet(b)
	dir := filepath.Join(b.TempDir(), "data")
	t0 := time.Now()
	testservers.BackfillSeries(b, gen, dir)
	b.Logf("backfilled %d series, %d samples in %v", len(gen), samples, time.Since(t0))
	prom := testservers.StartPrometheus(b, testservers.PrometheusOptions{DataDir: dir, LookbackDelta: 59 * time.Second})
	query := `{__name__=~"node_.+|pg_.+"}`
	start, end, step := f.Start, f.End(), time.Minute
	// A first read pages the blocks in, so that neither contender below
	// pays for a cold server.
	if n := rawRead(b, prom.URL, query, start, end, step); n != samples {
		b.Fatalf("read %d samples, want %d", n, samples)
	}

	b.Run("augur", func(b *testing.B) {
		p := newPrometheus(b, ingest.PrometheusOptions{URL: prom.URL})
		b.ReportAllocs()
		for b.Loop() {
			got, err := p.Range(b.Context(), query, start, end, step)
			if err != nil {
				b.Fatal(err)
			}
			if n := countSamples(got); n != samples {
				b.Fatalf("read %d samples, want %d", n, samples)
			}
		}
		b.ReportMetric(float64(samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	})

	b.Run("raw_http_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if n := rawRead(b, prom.URL, query, start, end, step); n != samples {
				b.Fatalf("read %d samples, want %d", n, samples)
			}
		}
		b.ReportMetric(float64(samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	})
}

// rawRead fetches [start, end] in the chunks ingest.Prometheus uses
// (10,000 steps, 4 at a time) and decodes them with encoding/json into
// label maps and parsed floats, the least any reader must do.
func rawRead(b *testing.B, base, query string, start, end time.Time, step time.Duration) int {
	type response struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	var (
		mu    sync.Mutex
		total int
		wg    sync.WaitGroup
		sem   = make(chan struct{}, ingest.DefaultConcurrency)
		chunk = time.Duration(ingest.DefaultMaxPointsPerQuery) * step
	)
	for s := start; !s.After(end); s = s.Add(chunk) {
		e := s.Add(chunk - step)
		if e.After(end) {
			e = end
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			u := base + "/api/v1/query_range?" + url.Values{
				"query": {query}, "start": {strconv.FormatInt(s.Unix(), 10)},
				"end": {strconv.FormatInt(e.Unix(), 10)}, "step": {fmt.Sprint(step.Seconds())},
			}.Encode()
			resp, err := http.Get(u)
			if err != nil {
				b.Error(err)
				return
			}
			defer resp.Body.Close()
			var r response
			if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
				b.Error(err)
				return
			}
			n := 0
			for _, ss := range r.Data.Result {
				for _, v := range ss.Values {
					if _, err := strconv.ParseFloat(v[1].(string), 64); err != nil {
						b.Error(err)
						return
					}
					n++
				}
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return total
}

// BenchmarkInfluxDBRange reads every series of the bench fleet from a real
// InfluxDB 1.8 over two weeks at 1m with one Flux query.
func BenchmarkInfluxDBRange(b *testing.B) {
	skipShort(b)
	f, gen, samples := benchFleet(b)
	influx := testservers.StartInfluxDB(b, testservers.InfluxDBOptions{})
	if err := influx.CreateDatabase(influxDB); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := influx.WriteSeries(influxDB, gen); err != nil {
		b.Fatal(err)
	}
	b.Logf("wrote %d series, %d samples in %v", len(gen), samples, time.Since(t0))
	src := newInfluxDB(b, ingest.InfluxDBOptions{URL: influx.URL, QueryOptions: ingest.QueryOptions{Timeout: 10 * time.Minute}})
	query := `from(bucket: "fleet/autogen") |> range(start: v.timeStart, stop: v.timeStop) |> filter(fn: (r) => r._field == "value")`
	b.ReportAllocs()
	for b.Loop() {
		got, err := src.Range(b.Context(), query, f.Start, f.End(), time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if n := countSamples(got); n != samples {
			b.Fatalf("read %d samples, want %d", n, samples)
		}
	}
	b.ReportMetric(float64(samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}

func countSamples(ss []ingest.Series) int {
	n := 0
	for _, s := range ss {
		n += len(s.Samples) - countNaN(s.Samples)
	}
	return n
}
