package model

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// binScratch are the fields the encodings leave out: caches and buffers
// that a model refills before reading them.
var binScratch = map[string]bool{"AR.psi": true, "AR.sd": true, "Calibrated.one": true}

// stateDiff returns where a and b differ, comparing floats by their bits
// (so NaN equals NaN) and nil slices and maps as unlike empty ones, or ""
// when they do not.
func stateDiff(a, b reflect.Value, path string) string {
	if !a.IsValid() || !b.IsValid() { // nil interfaces
		if a.IsValid() != b.IsValid() {
			return path + ": nil and not nil"
		}
		return ""
	}
	if a.Kind() != b.Kind() {
		return path + ": kinds differ"
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return path + ": nil and not nil"
			}
			return ""
		}
		if a.Elem().Type() != b.Elem().Type() {
			return path + ": types differ"
		}
		return stateDiff(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		for i := range a.NumField() {
			name := a.Type().Name() + "." + a.Type().Field(i).Name
			if !binScratch[name] {
				if d := stateDiff(a.Field(i), b.Field(i), name); d != "" {
					return d
				}
			}
		}
	case reflect.Slice, reflect.Array:
		if a.Kind() == reflect.Slice && a.IsNil() != b.IsNil() {
			return path + ": nil and empty"
		}
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: lengths %d and %d", path, a.Len(), b.Len())
		}
		for i := range a.Len() {
			if d := stateDiff(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return path + ": maps differ in size or nil"
		}
		for _, k := range a.MapKeys() {
			if !b.MapIndex(k).IsValid() {
				return fmt.Sprintf("%s[%v]: missing", path, k)
			}
			if d := stateDiff(a.MapIndex(k), b.MapIndex(k), fmt.Sprintf("%s[%v]", path, k)); d != "" {
				return d
			}
		}
	case reflect.Float32, reflect.Float64:
		if math.Float64bits(a.Float()) != math.Float64bits(b.Float()) {
			return fmt.Sprintf("%s: %v and %v", path, a.Float(), b.Float())
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if a.Int() != b.Int() {
			return fmt.Sprintf("%s: %d and %d", path, a.Int(), b.Int())
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if a.Uint() != b.Uint() {
			return fmt.Sprintf("%s: %d and %d", path, a.Uint(), b.Uint())
		}
	case reflect.Bool:
		if a.Bool() != b.Bool() {
			return path + ": booleans differ"
		}
	case reflect.String:
		if a.String() != b.String() {
			return fmt.Sprintf("%s: %q and %q", path, a.String(), b.String())
		}
	default:
		return path + ": cannot compare a " + a.Kind().String()
	}
	return ""
}

// requireSame fails t unless a and b hold the same state.
func requireSame(t *testing.T, a, b any) {
	t.Helper()
	if d := stateDiff(reflect.ValueOf(a), reflect.ValueOf(b), fmt.Sprintf("%T", a)); d != "" {
		t.Fatalf("decoded state differs: %s", d)
	}
}

// sameBits reports whether x and y are the same float64, NaN included.
func sameBits(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) }

// withGaps returns a copy of y with every k-th value missing.
func withGaps(y []float64, k int) []float64 {
	g := append([]float64(nil), y...)
	for i := 0; i < len(g); i += k {
		g[i] = math.NaN()
	}
	return g
}

// binForecasterCase is a fitted forecaster and the points that follow its
// history.
type binForecasterCase struct {
	name string
	f    Forecaster
	next []float64
	h    int
}

func binForecasterCases(t testing.TB) []binForecasterCase {
	const p = 24
	y := synthDaily(p*18, p, 0.05, 2, 1)
	hist, next := y[:p*14], withGaps(y[p*14:], 7)
	wy := weeklySeries(p*7*6, p, 1, 3)
	whist, wnext := wy[:p*7*5], withGaps(wy[p*7*5:], 5)
	ar := simAR(3000, p, 1)
	ts, dy := demoLike(15, 1)
	var cs []binForecasterCase
	add := func(name string, f Forecaster, err error, next []float64, h int) {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cs = append(cs, binForecasterCase{name, f, next, h})
	}
	hwCompact := func(opts HoltWintersOptions) (Forecaster, error) {
		m, err := FitHoltWinters(hist, opts)
		if err == nil {
			m.compact()
		}
		return m, err
	}
	m, err := FitHoltWinters(hist, HoltWintersOptions{Period: p})
	add("holtwinters", m, err, next, 2*p)
	f, err := hwCompact(HoltWintersOptions{Period: p})
	add("holtwinters compacted", f, err, next, 2*p)
	f, err = hwCompact(HoltWintersOptions{Period: p, Damped: true})
	add("holtwinters_damped compacted", f, err, next, 2*p)
	m, err = FitHoltWinters(hist, HoltWintersOptions{Damped: true})
	add("holt_damped", m, err, next, p)
	sn, err := FitSeasonalNaive(hist, p)
	add("snaive", sn, err, next, 2*p)
	sn, err = FitSeasonalNaive(hist, 1)
	add("naive", sn, err, next, p)
	a, err := FitAR(ar[:2000], AROptions{Lags: 2, Periods: []int{p}})
	add("ar", a, err, withGaps(ar[2000:2300], 11), p)
	a, err = FitAR(hist, AROptions{Periods: []int{p}, Difference: true})
	add("ari", a, err, next, p)
	ms, err := FitMSTL(whist, MSTLOptions{Periods: []int{p, 7 * p}})
	add("mstl", ms, err, wnext, 2*p)
	ms, err = FitMSTL(whist, MSTLOptions{Periods: []int{p, 7 * p}, Damped: true})
	if err == nil {
		ms.compact()
	}
	add("mstl_damped compacted", ms, err, wnext, 2*p)
	for _, name := range []string{"holtwinters", "holtwinters_damped", "snaive", "ari", "holt_damped", "naive"} {
		f, _, err := Select(hist, SelectOptions{Periods: []int{p}, Horizon: p, Candidates: []string{name}})
		add("calibrated "+name, f, err, next, p)
	}
	f, _, err = Select(whist, SelectOptions{Periods: []int{p, 7 * p}, Horizon: p, Candidates: []string{"mstl"}})
	add("calibrated mstl", f, err, wnext, 2*p)
	n := 14 * 1440
	fs, err := FitSeries(ts[:n], dy[:n], SeriesOptions{Step: minute, Horizon: 60})
	if err != nil {
		t.Fatal(err)
	}
	add("FitSeries one-minute fortnight "+fs.Selection.Model, fs.Forecaster, nil, withGaps(dy[n:n+600], 13), 60)
	return cs
}

// TestBinaryForecasters: a decoded forecaster holds the state of the
// original, and both forecast the same, to the bit, through further points
// with gaps.
func TestBinaryForecasters(t *testing.T) {
	for _, c := range binForecasterCases(t) {
		t.Run(c.name, func(t *testing.T) {
			// Part of the points before the encoding, so that the online
			// state (Calibrated's interval factor) has moved from the fit's.
			warm := len(c.next) / 3
			for _, y := range c.next[:warm] {
				c.f.Update(y)
			}
			enc, err := AppendForecaster([]byte("prefix"), c.f)
			if err != nil {
				t.Fatal(err)
			}
			got, rest, err := DecodeForecaster(append(enc[len("prefix"):], "tail"...))
			if err != nil {
				t.Fatal(err)
			}
			if string(rest) != "tail" {
				t.Fatalf("rest %q, want the tail", rest)
			}
			requireSame(t, c.f, got)
			var a, b Forecast
			for i, y := range c.next[warm:] {
				if err := c.f.PredictInto(&a, c.h, 0.95); err != nil {
					t.Fatal(err)
				}
				if err := got.PredictInto(&b, c.h, 0.95); err != nil {
					t.Fatal(err)
				}
				for j := range a.Point {
					if !sameBits(a.Point[j], b.Point[j]) || !sameBits(a.Lower[j], b.Lower[j]) || !sameBits(a.Upper[j], b.Upper[j]) {
						t.Fatalf("after %d points, lead %d: %v %v %v, decoded %v %v %v", i, j+1, a.Point[j], a.Lower[j], a.Upper[j], b.Point[j], b.Lower[j], b.Upper[j])
					}
				}
				if !sameBits(c.f.OneStep(), got.OneStep()) {
					t.Fatalf("after %d points: one-step %v, decoded %v", i, c.f.OneStep(), got.OneStep())
				}
				c.f.Update(y)
				got.Update(y)
			}
			requireSame(t, c.f, got)
		})
	}
}

// TestBinaryNotEncodable: the LSTM forecaster, alone or calibrated, has no
// encoding, and nil encodes as nil.
func TestBinaryNotEncodable(t *testing.T) {
	l := &LSTMForecaster{}
	for _, f := range []Forecaster{l, &Calibrated{Forecaster: l}, &Calibrated{}, &Calibrated{Forecaster: &Calibrated{Forecaster: &SeasonalNaive{}}}} {
		if enc, err := AppendForecaster([]byte{7}, f); !errors.Is(err, ErrNotEncodable) || len(enc) != 1 {
			t.Errorf("%T: %d bytes, err %v, want ErrNotEncodable and dst unchanged", f, len(enc), err)
		}
	}
	enc, err := AppendForecaster(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f, rest, err := DecodeForecaster(enc); f != nil || len(rest) != 0 || err != nil {
		t.Errorf("nil: decoded %v, rest %d bytes, err %v", f, len(rest), err)
	}
}

// TestBinarySelection: selections round-trip with NaN and infinite
// errors, nil and empty slices and maps.
func TestBinarySelection(t *testing.T) {
	fc, sel, err := Select(synthDaily(24*14, 24, 0.05, 2, 1), SelectOptions{Periods: []int{24}, Horizon: 24})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []Selection{
		sel,
		{Model: fc.Name(), MASE: math.NaN(), Candidates: map[string]float64{"a": math.Inf(1), "b": math.NaN(), "c": 0.5}, Periods: []int{1440, 10080}, Horizon: 60},
		{},
		{Candidates: map[string]float64{}, Periods: []int{}},
	} {
		enc, err := AppendSelection(nil, s)
		if err != nil {
			t.Fatal(err)
		}
		got, rest, err := DecodeSelection(enc)
		if err != nil || len(rest) != 0 {
			t.Fatalf("%+v: rest %d bytes, err %v", s, len(rest), err)
		}
		requireSame(t, s, got)
	}
}

// binBaselines returns the baselines of the tests: a fortnight's weekly
// band and daily centre (FitSeries), a daily band, and nil.
func binBaselines(t testing.TB) []*Baseline {
	ts, y := demoLike(14, 1)
	fs, err := FitSeries(ts, y, SeriesOptions{Step: minute, Horizon: 60})
	if err != nil {
		t.Fatal(err)
	}
	ts, y = minuteSeries(0, 3, 2, 1)
	d, err := FitBaseline(ts, withGaps(y, 9), BaselineOptions{SlotWidth: 15 * minute})
	if err != nil {
		t.Fatal(err)
	}
	return []*Baseline{fs.Baseline, fs.Daily, d, nil}
}

// TestBinaryBaseline: a decoded baseline has the original's band and
// centre at every time of the week.
func TestBinaryBaseline(t *testing.T) {
	for i, b := range binBaselines(t) {
		enc, err := b.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		got, rest, err := DecodeBaseline(enc)
		if err != nil || len(rest) != 0 {
			t.Fatalf("baseline %d: rest %d bytes, err %v", i, len(rest), err)
		}
		requireSame(t, b, got)
		if b == nil {
			continue
		}
		if !sameBits(b.K(), got.K()) || !sameBits(b.MaxCenter(), got.MaxCenter()) {
			t.Fatalf("baseline %d: k %v max %v, decoded %v %v", i, b.K(), b.MaxCenter(), got.K(), got.MaxCenter())
		}
		for tm := int64(-msPerDay); tm < 8*msPerDay; tm += 7 * minute {
			c0, s0 := b.At(tm)
			c1, s1 := got.At(tm)
			l0, u0 := b.Band(tm)
			l1, u1 := got.Band(tm)
			if !sameBits(c0, c1) || !sameBits(s0, s1) || !sameBits(l0, l1) || !sameBits(u0, u1) {
				t.Fatalf("baseline %d at %d: %v %v %v %v, decoded %v %v %v %v", i, tm, c0, s0, l0, u0, c1, s1, l1, u1)
			}
		}
	}
}

// binStream is a series a detector observes.
type binStream struct {
	ts []int64
	y  []float64
}

// binDetectorStreams are the series the detector tests observe: 16 days
// at one minute (a daily profile only) and at five minutes (daily and
// weekly profiles), with gaps.
func binDetectorStreams() []binStream {
	ts, y := demoLike(16, 2)
	y = withGaps(y, 17)
	var s5 binStream
	for i := 0; i < len(ts); i += 5 {
		s5.ts, s5.y = append(s5.ts, ts[i]), append(s5.y, y[i])
	}
	return []binStream{{ts, y}, s5}
}

// TestBinaryDetector: detectors decoded at points of their warm-up (fresh,
// before the period is found, before warm-up ends, warm, just after an
// alarm) score the rest of
// the stream as the original does, to the bit.
func TestBinaryDetector(t *testing.T) {
	for si, s := range binDetectorStreams() {
		ts, y := s.ts, s.y
		d := NewDetector(DetectorOptions{})
		at := map[int]bool{0: true, 30: true, 200: true, 2000: true, len(y) * 7 / 8: true}
		var copies []*Detector
		alarmed := false
		for i, v := range y {
			if at[i] {
				enc, err := d.AppendBinary(nil)
				if err != nil {
					t.Fatal(err)
				}
				c, rest, err := DecodeDetector(enc)
				if err != nil || len(rest) != 0 {
					t.Fatalf("stream %d at %d: rest %d bytes, err %v", si, i, len(rest), err)
				}
				requireSame(t, d, c)
				copies = append(copies, c)
			}
			want := d.Observe(ts[i], v)
			if d.Alarm() > 0 && !alarmed { // the alarm state is read before the next point
				at[i+1], alarmed = true, true
			}
			for k, c := range copies {
				if got := c.Observe(ts[i], v); !sameBits(got, want) || !sameBits(c.Alarm(), d.Alarm()) {
					t.Fatalf("stream %d, copy %d, point %d: score %v alarm %v, decoded %v %v", si, k, i, want, d.Alarm(), got, c.Alarm())
				}
			}
		}
		if d.wprof.len() == 0 && si == 1 {
			t.Error("the five-minute stream has no weekly profile: the test misses it")
		}
		for _, c := range copies {
			requireSame(t, d, c)
		}
	}
	var nilD *Detector
	enc, _ := nilD.AppendBinary(nil)
	if d, _, err := DecodeDetector(enc); d != nil || err != nil {
		t.Errorf("nil detector: decoded %v, err %v", d, err)
	}
}

// binRegimes returns regime models of a fortnight at one minute (weekly
// cycle, hourly means), of three days at five minutes (daily cycle) and
// nil (too short).
func binRegimes(t testing.TB) []*RegimeTrend {
	var ms []*RegimeTrend
	for _, c := range []struct {
		days, every int
	}{{14, 1}, {3, 5}} {
		ts, y := demoLike(c.days, 3)
		var yy []float64
		for i := 0; i < len(y); i += c.every {
			yy = append(yy, y[i])
		}
		m, err := FitRegimeTrend(withGaps(yy, 23), ts[len(ts)-c.every], int64(c.every)*minute)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	return append(ms, nil)
}

// TestBinaryRegimeTrend: a decoded regime model answers the engine's
// questions (outlooks, crossing bounds, levels, growth, changes) as the
// original does, to the bit.
func TestBinaryRegimeTrend(t *testing.T) {
	for i, m := range binRegimes(t) {
		enc, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		got, rest, err := DecodeRegimeTrend(enc)
		if err != nil || len(rest) != 0 {
			t.Fatalf("regime %d: rest %d bytes, err %v", i, len(rest), err)
		}
		requireSame(t, m, got)
		if m == nil {
			continue
		}
		mean, _ := m.LevelMoments(m.last)
		g := Grid{Step: 5 * minute, Dense: 288, Sparse: 12}
		for _, th := range []float64{mean, mean + 10, mean + 40} {
			var a, b Outlook
			m.OutlookInto(&a, th, m.last, g, 400)
			got.OutlookInto(&b, th, m.last, g, 400)
			requireSame(t, a.Curve, b.Curve)
			to := m.last + 30*msPerDay
			t0, ok0 := m.MedianBound(th, m.last, to)
			t1, ok1 := got.MedianBound(th, m.last, to)
			if !sameBits(m.CrossingBound(th, m.last, to), got.CrossingBound(th, m.last, to)) || t0 != t1 || ok0 != ok1 {
				t.Fatalf("regime %d, threshold %g: bounds differ", i, th)
			}
		}
		for tm := m.last - msPerDay; tm < m.last+10*msPerDay; tm += 97 * minute {
			m0, l0, h0 := m.Level(tm, 0.9)
			m1, l1, h1 := got.Level(tm, 0.9)
			e0, s0 := m.LevelMoments(tm)
			e1, s1 := got.LevelMoments(tm)
			if !sameBits(m0, m1) || !sameBits(l0, l1) || !sameBits(h0, h1) || !sameBits(e0, e1) || !sameBits(s0, s1) ||
				!sameBits(m.Reach(m.last, tm), got.Reach(m.last, tm)) {
				t.Fatalf("regime %d at %d: levels differ", i, tm)
			}
		}
		g0, sd0 := m.GrowthPerDay()
		g1, sd1 := got.GrowthPerDay()
		if !sameBits(g0, g1) || !sameBits(sd0, sd1) || m.RegimeStart() != got.RegimeStart() {
			t.Fatalf("regime %d: growth or start differ", i)
		}
		requireSame(t, m.Changes(), got.Changes())
	}
}

// binDecoder decodes one kind, returning the value as any.
type binDecoder func([]byte) (any, []byte, error)

func decodeAs[T any](dec func([]byte) (T, []byte, error)) binDecoder {
	return func(b []byte) (any, []byte, error) { return dec(b) }
}

// binEncodings returns an encoding of every case of the tests, with its
// decoder.
func binEncodings(t testing.TB) (encs [][]byte, decs []binDecoder) {
	add := func(enc []byte, err error, dec binDecoder) {
		if err != nil {
			t.Fatal(err)
		}
		encs, decs = append(encs, enc), append(decs, dec)
	}
	for _, c := range binForecasterCases(t) {
		enc, err := AppendForecaster(nil, c.f)
		add(enc, err, decodeAs(DecodeForecaster))
	}
	_, sel, err := Select(synthDaily(24*14, 24, 0.05, 2, 1), SelectOptions{Periods: []int{24}, Horizon: 24})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := AppendSelection(nil, sel)
	add(enc, err, decodeAs(DecodeSelection))
	for _, b := range binBaselines(t) {
		enc, err := b.AppendBinary(nil)
		add(enc, err, decodeAs(DecodeBaseline))
	}
	for _, s := range binDetectorStreams() {
		d := NewDetector(DetectorOptions{})
		for i, v := range s.y[:min(len(s.y), 5000)] {
			d.Observe(s.ts[i], v)
		}
		enc, err := d.AppendBinary(nil)
		add(enc, err, decodeAs(DecodeDetector))
	}
	for _, m := range binRegimes(t) {
		enc, err := m.AppendBinary(nil)
		add(enc, err, decodeAs(DecodeRegimeTrend))
	}
	return encs, decs
}

// TestBinaryTruncated: every proper prefix of every encoding is an error
// wrapping ErrCorrupt that names the type, and no decode panics.
func TestBinaryTruncated(t *testing.T) {
	encs, decs := binEncodings(t)
	for i, enc := range encs {
		for n := range len(enc) {
			if _, _, err := decs[i](enc[:n]); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "cannot decode ") {
				t.Fatalf("encoding %d cut to %d of %d bytes: err %v", i, n, len(enc), err)
			}
		}
		if _, rest, err := decs[i](enc); err != nil || len(rest) != 0 {
			t.Fatalf("encoding %d: rest %d bytes, err %v", i, len(rest), err)
		}
	}
	for _, dec := range decs[:1] {
		if _, _, err := dec([]byte{0xee}); err == nil || !strings.Contains(err.Error(), "unknown tag 238") {
			t.Errorf("unknown tag: err %v", err)
		}
	}
}

// exercise uses a decoded value the way the engine does, so that fuzzing
// finds states that decode but make a method panic.
func exercise(v any) {
	switch v := v.(type) {
	case Forecaster:
		if v == nil {
			return
		}
		var f Forecast
		_ = v.PredictInto(&f, 3, 0.9)
		v.Update(math.NaN())
		v.Update(1)
		v.OneStep()
	case *Baseline:
		if v != nil {
			v.At(1_700_000_000_000)
			v.Band(-1)
		}
	case *Detector:
		if v != nil {
			for i := range int64(3) {
				v.Observe(v.lastT+i*v.step, float64(i))
			}
		}
	case *RegimeTrend:
		if v != nil {
			var o Outlook
			v.OutlookInto(&o, 1, v.last, Grid{Step: minute, Dense: 2, Sparse: 3}, 4)
			v.Level(v.last, 0.9)
			v.CrossingBound(1, v.last, v.last+msPerDay)
			v.MedianBound(1, v.last, v.last+msPerDay)
			v.Reach(v.last, v.last+msPerDay)
		}
	}
}

// fuzzDecode decodes data with every decoder; what decodes must re-encode
// to an encoding that decodes to the same state, and must be usable.
func fuzzDecode(t *testing.T, data []byte, decs []binDecoder) {
	for _, dec := range decs {
		v, _, err := dec(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			continue
		}
		enc, err := reencode(v)
		if err != nil {
			t.Fatalf("decoded %T does not encode: %v", v, err)
		}
		again, rest, err := dec(enc)
		if err != nil || len(rest) != 0 {
			t.Fatalf("re-encoded %T: rest %d bytes, err %v", v, len(rest), err)
		}
		requireSame(t, v, again)
		exercise(v)
	}
}

func reencode(v any) ([]byte, error) {
	switch v := v.(type) {
	case Selection:
		return AppendSelection(nil, v)
	case *Baseline:
		return v.AppendBinary(nil)
	case *Detector:
		return v.AppendBinary(nil)
	case *RegimeTrend:
		return v.AppendBinary(nil)
	case Forecaster:
		return AppendForecaster(nil, v)
	}
	return AppendForecaster(nil, nil) // a nil Forecaster
}

// FuzzDecodeForecaster: no input makes DecodeForecaster, or the model it
// returns, panic.
func FuzzDecodeForecaster(f *testing.F) {
	for _, c := range binForecasterCases(f) {
		enc, err := AppendForecaster(nil, c.f)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, data, []binDecoder{decodeAs(DecodeForecaster)})
	})
}

// FuzzDecodeState: no input makes the decoders of selections, baselines,
// detectors and regime models, or what they return, panic.
func FuzzDecodeState(f *testing.F) {
	encs, _ := binEncodings(f)
	for _, enc := range encs {
		f.Add(enc)
	}
	decs := []binDecoder{decodeAs(DecodeSelection), decodeAs(DecodeBaseline), decodeAs(DecodeDetector), decodeAs(DecodeRegimeTrend)}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, data, decs) })
}

// binSeries is the state the engine keeps for a series: a one-minute
// fortnight's FitSeries, its regime model and a warm detector.
type binSeries struct {
	f *FittedSeries
	r *RegimeTrend
	d *Detector
}

func newBinSeries(tb testing.TB) binSeries {
	ts, y := demoLike(14, 1)
	f, err := FitSeries(ts, y, SeriesOptions{Step: minute, Horizon: 60})
	if err != nil {
		tb.Fatal(err)
	}
	r, err := FitRegimeTrend(y, ts[len(ts)-1], minute)
	if err != nil {
		tb.Fatal(err)
	}
	d := NewDetector(DetectorOptions{})
	for i, v := range y {
		d.Observe(ts[i], v)
	}
	return binSeries{f, r, d}
}

// appendTo appends the series' encodings as the engine would.
func (s binSeries) appendTo(b []byte) ([]byte, error) {
	b, err := AppendForecaster(b, s.f.Forecaster)
	if err == nil {
		b, err = AppendSelection(b, s.f.Selection)
	}
	for _, m := range []interface{ AppendBinary([]byte) ([]byte, error) }{s.f.Baseline, s.f.Daily, s.d, s.r} {
		if err == nil {
			b, err = m.AppendBinary(b)
		}
	}
	return b, err
}

// decodeBinSeries decodes what appendTo wrote.
func decodeBinSeries(b []byte) (s binSeries, err error) {
	s.f = new(FittedSeries)
	if s.f.Forecaster, b, err = DecodeForecaster(b); err != nil {
		return s, err
	}
	if s.f.Selection, b, err = DecodeSelection(b); err != nil {
		return s, err
	}
	if len(s.f.Selection.Periods) > 0 {
		s.f.Period = s.f.Selection.Periods[0] // as FitSeries sets it
	}
	if s.f.Baseline, b, err = DecodeBaseline(b); err != nil {
		return s, err
	}
	if s.f.Daily, b, err = DecodeBaseline(b); err != nil {
		return s, err
	}
	if s.d, b, err = DecodeDetector(b); err != nil {
		return s, err
	}
	s.r, _, err = DecodeRegimeTrend(b)
	return s, err
}

// TestBinarySeriesSize: the encoding of a one-minute fortnight's state is
// no larger than the models' memory (Bytes, TestFitSeriesState) and the
// regime model's parameters.
func TestBinarySeriesSize(t *testing.T) {
	s := newBinSeries(t)
	enc, err := s.appendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	mem := s.f.Bytes() + s.d.Bytes()
	regime, _ := s.r.AppendBinary(nil)
	t.Logf("%s: %d bytes encoded (regime model %d), models' memory %d B", s.f.Selection.Model, len(enc), len(regime), mem)
	if len(enc) > mem+len(regime)+256 {
		t.Errorf("%d bytes encoded, want at most the %d B of memory, the regime's %d and 256 for the selection", len(enc), mem, len(regime))
	}
	got, err := decodeBinSeries(enc)
	if err != nil {
		t.Fatal(err)
	}
	requireSame(t, s, got)
}

// BenchmarkBinarySeries encodes and decodes the state of a one-minute
// fortnight (forecaster, selection, both baselines, detector, regime
// model), as a warm restart does for each series.
func BenchmarkBinarySeries(b *testing.B) {
	s := newBinSeries(b)
	enc, err := s.appendTo(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, len(enc))
		for b.Loop() {
			if buf, err = s.appendTo(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf)), "bytes/series")
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeBinSeries(enc); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(enc)), "bytes/series")
	})
}
