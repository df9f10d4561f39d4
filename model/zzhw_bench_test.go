package model

import "testing"

func BenchmarkZZEval(b *testing.B) {
	y := synthDaily(2016, 288, 0.01, 2, 5)
	init, start, _ := hwInit(y, 288)
	o, _ := newHWObjective(y[start:], &init, 288, HoltWintersOptions{Period: 288})
	o.scale = 1
	u := []float64{0.5, 0.2, 0.6}
	for b.Loop() {
		u[0] += 1e-9
		o.eval(u)
	}
}
