package engine

import (
	"fmt"
	"testing"
	"time"
)

// waitIndexed waits until e's State has its capacity index.
func waitIndexed(b *testing.B, e *Engine) {
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if x := e.capIndex.Load(); x != nil && x.st == e.State() {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("no capacity index of the State 5 minutes after it was published")
		}
	}
}

// benchIndex times the capacity index of e's State, for BenchmarkCapacityEngine.
func benchIndex(b *testing.B, e *Engine, n int) {
	b.Run(fmt.Sprintf("series=%d/index", n), func(b *testing.B) {
		b.ReportAllocs()
		st, g := e.State(), capacityGrid(e.step, e.horizon)
		cpu0 := cpuNow()
		for b.Loop() {
			newCapacityIndex(st, g)
		}
		cpu := float64(cpuNow()-cpu0) / float64(b.N)
		b.ReportMetric(cpu, "cpu-ns/op")
		b.ReportMetric(cpu/float64(n), "cpu-ns/series")
	})
}
