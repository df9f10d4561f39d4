package model

import (
	"encoding/json"
	"flag"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

var updateGolden = flag.Bool("update-baseline-golden", false, "rewrite testdata/baseline_golden.json from the current FitBaseline")

// goldenBaseline is a fitted Baseline as testdata/baseline_golden.json
// keeps it: floats as strings, which hold NaN and round-trip exactly.
type goldenBaseline struct {
	Node, K, MaxCenter string
	Center, Scale      goldenProfile
}

type goldenProfile struct {
	Offset, Unit string
	V            []int16
}

func goldenFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func parseGolden(t *testing.T, s string) float64 {
	t.Helper()
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func toGolden(b *Baseline) goldenBaseline {
	p := func(q profile16) goldenProfile {
		return goldenProfile{Offset: goldenFloat(q.offset), Unit: goldenFloat(q.unit), V: q.v}
	}
	return goldenBaseline{Node: goldenFloat(b.node), K: goldenFloat(b.k), MaxCenter: goldenFloat(b.maxCenter), Center: p(b.center), Scale: p(b.scale)}
}

// baselineGoldenCases are inputs that exercise every path of FitBaseline:
// the engine's two fits of a one-minute fortnight (weekly 30-minute slots,
// daily one-minute centres), gaps and spikes, integer counts whose MADs
// are zero, slots too sparse for their own estimates, irregular times.
func baselineGoldenCases() []struct {
	name string
	ts   []int64
	y    []float64
	opts BaselineOptions
} {
	ts, y := minuteSeries(0, 14, 2, 7)
	rng := rand.New(rand.NewPCG(11, 3))
	gappy := append([]float64(nil), y...)
	for i := range gappy {
		switch r := rng.Float64(); {
		case r < 0.1:
			gappy[i] = math.NaN()
		case r < 0.11:
			gappy[i] += 40 * rng.NormFloat64()
		case r < 0.115:
			gappy[i] = math.Inf(1)
		}
	}
	counts := make([]float64, len(y))
	for i := range counts {
		counts[i] = math.Floor(math.Max(0, 0.1*(y[i]-30)+2*rng.ExpFloat64()-2))
	}
	sparseTs, sparseY := make([]int64, 0), make([]float64, 0)
	for i := range ts {
		// Dense from 08:00 to 12:00, a point every 37 minutes elsewhere:
		// slots of either kind.
		if h := ts[i] % msPerDay / 3_600_000; (h < 8 || h >= 12) && i%37 != 0 {
			continue
		}
		sparseTs, sparseY = append(sparseTs, ts[i]), append(sparseY, y[i])
	}
	jitterTs := make([]int64, len(ts))
	for i, t := range ts {
		jitterTs[i] = t + rng.Int64N(50_000) - 25_000
	}
	return []struct {
		name string
		ts   []int64
		y    []float64
		opts BaselineOptions
	}{
		{"weekly30m", ts, y, BaselineOptions{SlotWidth: 30 * minute, Weekly: true}},
		{"daily1m-centre", ts, y, BaselineOptions{SlotWidth: minute, CenterOnly: true}},
		{"hourly-gaps-spikes", ts, gappy, BaselineOptions{}},
		{"weekly30m-gaps-spikes", ts, gappy, BaselineOptions{SlotWidth: 30 * minute, Weekly: true}},
		{"daily1m-centre-gaps", ts, gappy, BaselineOptions{SlotWidth: minute, CenterOnly: true}},
		{"counts5m", ts, counts, BaselineOptions{SlotWidth: 5 * minute}},
		{"sparse-weekly", sparseTs, sparseY, BaselineOptions{SlotWidth: 30 * minute, Weekly: true}},
		{"sparse-centre", sparseTs, sparseY, BaselineOptions{SlotWidth: 5 * minute, CenterOnly: true}},
		{"jitter-outside5", jitterTs, y, BaselineOptions{SlotWidth: 15 * minute, Outside: 0.05}},
	}
}

// TestBaselineGolden: FitBaseline fits what it fitted when the golden
// file was written, to the rounding of its 16-bit profiles (a value may
// round to the next unit when its float64 differs in the last bits) and
// the relative noise of float64 sums.
func TestBaselineGolden(t *testing.T) {
	path := filepath.Join("testdata", "baseline_golden.json")
	got := map[string]goldenBaseline{}
	fits := map[string]*Baseline{}
	for _, c := range baselineGoldenCases() {
		b, err := FitBaseline(c.ts, c.y, c.opts)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got[c.name], fits[c.name] = toGolden(b), b
	}
	if *updateGolden {
		// A line a case, sorted (as json.Marshal sorts a map's keys).
		data := []byte("{\n")
		for i, name := range slices.Sorted(maps.Keys(got)) {
			k, _ := json.Marshal(name)
			v, err := json.Marshal(got[name])
			if err != nil {
				t.Fatal(err)
			}
			if i > 0 {
				data = append(data, ",\n"...)
			}
			data = append(append(append(data, k...), ": "...), v...)
		}
		if err := os.WriteFile(path, append(data, "\n}\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]goldenBaseline
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("%d golden baselines, %d cases", len(want), len(got))
	}
	near := func(a, b, tol float64) bool {
		return a == b || math.IsNaN(a) && math.IsNaN(b) || math.Abs(a-b) <= tol
	}
	for name, w := range want {
		b := fits[name]
		if b == nil {
			t.Errorf("%s: no such case", name)
			continue
		}
		for _, f := range []struct {
			what      string
			got, want float64
		}{{"node", b.node, parseGolden(t, w.Node)}, {"k", b.k, parseGolden(t, w.K)}} {
			if !near(f.got, f.want, 1e-12*math.Abs(f.want)) {
				t.Errorf("%s: %s = %v, want %v", name, f.what, f.got, f.want)
			}
		}
		for _, p := range []struct {
			what string
			got  profile16
			want goldenProfile
		}{{"centre", b.center, w.Center}, {"scale", b.scale, w.Scale}} {
			wp := profile16{v: p.want.V, offset: parseGolden(t, p.want.Offset), unit: parseGolden(t, p.want.Unit)}
			if p.got.len() != wp.len() {
				t.Errorf("%s: %d %s slots, want %d", name, p.got.len(), p.what, wp.len())
				continue
			}
			for i := range wp.len() {
				if g, w := p.got.at(i), wp.at(i); !near(g, w, 1.001*wp.unit+1e-12*math.Abs(w)) {
					t.Errorf("%s: %s of slot %d = %v, want %v", name, p.what, i, g, w)
					break
				}
			}
		}
		if m := parseGolden(t, w.MaxCenter); !near(b.maxCenter, m, 1.001*parseGolden(t, w.Center.Unit)+1e-12*math.Abs(m)) {
			t.Errorf("%s: max centre = %v, want %v", name, b.maxCenter, m)
		}
	}
}
