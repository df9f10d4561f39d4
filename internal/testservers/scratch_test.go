package testservers

import (
	"os"
	"testing"
	"time"
)

func TestScratchBackfill(t *testing.T) {
	t0 := time.Now()
	series := DefaultFleet().Series()
	n := 0
	for _, s := range series { n += len(s.T) }
	t.Logf("generated %d series %d samples in %v", len(series), n, time.Since(t0))
	dir := t.TempDir() + "/data"
	os.MkdirAll(dir, 0o755)
	t0 = time.Now()
	BackfillSeries(t, series, dir)
	t.Logf("backfilled in %v", time.Since(t0))
	t0 = time.Now()
	p := StartPrometheus(t, PrometheusOptions{DataDir: dir, LookbackDelta: 59 * time.Second})
	t.Logf("started %s in %v", p.URL, time.Since(t0))
	t0 = time.Now()
	p.Stop()
	p.Start(t.Context())
	t.Logf("restarted in %v", time.Since(t0))
}

func TestScratchInflux(t *testing.T) {
	t0 := time.Now()
	series := DefaultFleet().Series()
	i := StartInfluxDB(t, InfluxDBOptions{})
	t.Logf("started %s in %v", i.URL, time.Since(t0))
	if err := i.CreateDatabase("fleet"); err != nil { t.Fatal(err) }
	t0 = time.Now()
	if err := i.WriteSeries("fleet", series); err != nil { t.Fatal(err) }
	t.Logf("wrote in %v", time.Since(t0))
	t0 = time.Now()
	i.Stop()
	if err := i.Start(t.Context()); err != nil { t.Fatal(err) }
	t.Logf("restarted in %v", time.Since(t0))
}
