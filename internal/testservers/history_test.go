package testservers

import (
	"bytes"
	"math"
	"testing"
)

func TestWriters(t *testing.T) {
	series := []Series{
		{Name: "up", Labels: map[string]string{"job": "a b", "instance": `x,y="z"`}, T: []int64{1000, 61000}, V: []float64{1, 0.1}},
		{Name: "mem", Labels: map[string]string{"instance": "h"}, T: []int64{2500}, V: []float64{8589934592}},
		{Name: "up", Labels: map[string]string{"job": "b"}, T: []int64{1000}, V: []float64{-2.5}},
	}
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer) error
		want  string
	}{
		{"openmetrics groups by name", func(b *bytes.Buffer) error { return WriteOpenMetrics(b, series) },
			"mem{instance=\"h\"} 8589934592 2.5\n" +
				"up{instance=\"x,y=\\\"z\\\"\",job=\"a b\"} 1 1\n" +
				"up{instance=\"x,y=\\\"z\\\"\",job=\"a b\"} 0.1 61\n" +
				"up{job=\"b\"} -2.5 1\n" +
				"# EOF\n"},
		{"line protocol escapes tags", func(b *bytes.Buffer) error { return WriteLineProtocol(b, series) },
			"up,instance=x\\,y\\=\"z\",job=a\\ b value=1 1\n" +
				"up,instance=x\\,y\\=\"z\",job=a\\ b value=0.1 61\n" +
				"mem,instance=h value=8589934592 2\n" +
				"up,job=b value=-2.5 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestDefaultFleet(t *testing.T) {
	f := DefaultFleet()
	gen := f.Series()
	if want := f.Instances * (2*f.CPUs + 5); len(gen) != want {
		t.Fatalf("%d series, want %d", len(gen), want)
	}
	for _, s := range gen {
		wantN := f.Points
		if s.Labels["instance"] == Instance(f.GapInstance) {
			wantN -= f.GapSteps
		}
		if len(s.T) != wantN || len(s.V) != wantN {
			t.Errorf("%s%v: %d samples, want %d", s.Name, s.Labels, len(s.T), wantN)
		}
		resets := 0
		for i := 1; i < len(s.V); i++ {
			if s.T[i] <= s.T[i-1] {
				t.Fatalf("%s%v: timestamps not increasing at %d", s.Name, s.Labels, i)
			}
			if s.V[i] < s.V[i-1] {
				resets++
			}
		}
		for _, v := range s.V {
			if math.IsNaN(v) || v < 0 {
				t.Fatalf("%s%v: value %v", s.Name, s.Labels, v)
			}
		}
		if s.Name == "node_cpu_seconds_total" {
			wantResets := 0
			if s.Labels["instance"] == Instance(f.ResetInstance) {
				wantResets = 1
			}
			if resets != wantResets {
				t.Errorf("%s%v: %d counter resets, want %d", s.Name, s.Labels, resets, wantResets)
			}
		}
	}
	again := f.Series()
	if again[5].V[100] != gen[5].V[100] {
		t.Error("Series is not deterministic")
	}
}
