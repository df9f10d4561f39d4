package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/augur-sre/augur/engine"
)

// discardWriter is a ResponseWriter that keeps nothing but the header.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// cpuNow is the process' CPU time (getrusage), which a loaded machine
// inflates less than the wall time.
func cpuNow() time.Duration {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// BenchmarkFailures serves /api/v1/failures at the configured horizon
// from a State of 333 and 3,333 entities of three series each (1k and 10k
// series): request, a State's answer encoded already, what a request
// costs once the State's publication has been followed by its encoding
// (see New); encode, that encoding, which the first request after each
// evaluation paid before.
func BenchmarkFailures(b *testing.B) {
	e, reg, _ := newDemoEngine(b)
	sw := &stateSwapper{Engine: e}
	a := New(Options{Engine: sw, Registry: reg})
	for _, n := range []int{333, 3333} {
		st := &engine.State{Ready: true, At: e.State().At, Step: e.Step(), Horizon: e.Horizon(), Entities: benchRisks(n, func(i int) string { return fmt.Sprintf("host-%d", i) })}
		sw.st.Store(st)
		f, err := encodeFailures(st)
		if err != nil {
			b.Fatal(err)
		}
		a.encodedFailures.Store(f)
		series := float64(3 * n)
		report := func(b *testing.B, cpu0 time.Duration) {
			cpu := float64(cpuNow()-cpu0) / float64(b.N)
			b.ReportMetric(cpu, "cpu-ns/op")
			b.ReportMetric(cpu/series, "cpu-ns/series")
		}
		b.Run(fmt.Sprintf("series=%d/request", 3*n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(f.body)))
			req := httptest.NewRequest(http.MethodGet, "/api/v1/failures", nil)
			w := &discardWriter{h: http.Header{}}
			cpu0 := cpuNow()
			for b.Loop() {
				a.Handler().ServeHTTP(w, req)
			}
			report(b, cpu0)
		})
		b.Run(fmt.Sprintf("series=%d/encode", 3*n), func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuNow()
			for b.Loop() {
				if _, err := encodeFailures(st); err != nil {
					b.Fatal(err)
				}
			}
			report(b, cpu0)
		})
	}
}
