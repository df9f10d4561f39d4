package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Binary encodings of fitted models, for a warm restart without refitting.
//
// Each value starts with a one-byte tag naming its kind and layout; a
// change of a layout takes a new tag, so that a state written by another
// version is an error rather than a misread. Integers are varints (lengths
// unsigned, values zig-zag), floats the 8 little-endian bytes of their
// IEEE 754 bits (NaN and ±Inf included), and values the model keeps in a
// narrower width (profile16's int16, AR's float32 lags) stay in it, so that
// an encoding is about the size of the model in memory. A slice's length
// is encoded plus one, 0 for a nil slice, so that nil and empty survive
// the round trip. A nil pointer encodes as the nil tag and decodes to nil.
// Scratch buffers are not encoded: the decoded model allocates them on
// first use, as a fitted one does.
//
// Decoding checks every length against the bytes left before allocating,
// and the invariants the models' methods index by (ring positions, profile
// lengths, lags), so that neither decoding nor using what it returns can
// panic on corrupt input; it returns an error wrapping ErrCorrupt that names
// the type and field.

// ErrNotEncodable is returned for a forecaster kind without a binary
// encoding: the LSTM forecaster, whose network is refitted instead.
var ErrNotEncodable = errors.New("model kind has no binary encoding")

// ErrCorrupt is wrapped by the errors of the Decode functions on truncated
// or inconsistent input.
var ErrCorrupt = errors.New("corrupt model encoding")

// Tags: one per kind and layout.
const (
	tagNil byte = iota
	tagHoltWinters
	tagSeasonalNaive
	tagAR
	tagMSTL
	tagCalibrated
	tagSelection
	tagBaseline
	tagDetector
	tagRegimeTrend
)

// Holt-Winters' seasonal ring: float64 as fitted, or 16-bit after compact.
const (
	ringFloat64 byte = iota
	ringProfile16
)

// binWriter appends an encoding to b.
type binWriter struct{ b []byte }

func (w *binWriter) byte(v byte)   { w.b = append(w.b, v) }
func (w *binWriter) uint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *binWriter) int(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *binWriter) float(v float64) {
	w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(v))
}
func (w *binWriter) float32(v float32) {
	w.b = binary.LittleEndian.AppendUint32(w.b, math.Float32bits(v))
}

func (w *binWriter) bool(v bool) {
	if v {
		w.byte(1)
	} else {
		w.byte(0)
	}
}

// length writes n+1, or 0 for a nil slice.
func (w *binWriter) length(n int, isNil bool) {
	if isNil {
		w.uint(0)
	} else {
		w.uint(uint64(n) + 1)
	}
}

func (w *binWriter) string(s string) {
	w.uint(uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *binWriter) floats(v []float64) {
	w.length(len(v), v == nil)
	for _, x := range v {
		w.float(x)
	}
}

func (w *binWriter) ints(v []int) {
	w.length(len(v), v == nil)
	for _, x := range v {
		w.int(int64(x))
	}
}

func (w *binWriter) profile16(p *profile16) {
	w.float(p.offset)
	w.float(p.unit)
	w.length(len(p.v), p.v == nil)
	for _, x := range p.v {
		w.b = binary.LittleEndian.AppendUint16(w.b, uint16(x))
	}
}

// binReader decodes from b. The first error sticks: later reads return
// zero values, and the decoders check r.err once at the end.
type binReader struct {
	b   []byte
	err error
}

// fail records that field (Type.field) is corrupt, unless an earlier
// error is recorded.
func (r *binReader) fail(field, why string) {
	if r.err == nil {
		r.err = fmt.Errorf("cannot decode %s: %s: %w", field, why, ErrCorrupt)
	}
}

// check fails field when ok is false.
func (r *binReader) check(ok bool, field, why string) {
	if !ok {
		r.fail(field, why)
	}
}

// take returns the next n bytes, nil when fewer are left.
func (r *binReader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.fail(field, "truncated")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *binReader) byte(field string) byte {
	if v := r.take(1, field); v != nil {
		return v[0]
	}
	return 0
}

func (r *binReader) bool(field string) bool {
	v := r.byte(field)
	r.check(v <= 1, field, "not a boolean")
	return v == 1
}

func (r *binReader) uint(field string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(field, "truncated or overlong varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *binReader) int64(field string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(field, "truncated or overlong varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// int reads an int, which must lie in [lo, hi].
func (r *binReader) int(field string, lo, hi int) int {
	v := r.int64(field)
	if v < int64(lo) || v > int64(hi) {
		r.fail(field, fmt.Sprintf("%d outside [%d, %d]", v, lo, hi))
		return lo
	}
	return int(v)
}

// count reads a non-negative int, e.g. a number of observations.
func (r *binReader) count(field string) int { return r.int(field, 0, math.MaxInt) }

func (r *binReader) float(field string) float64 {
	if v := r.take(8, field); v != nil {
		return math.Float64frombits(binary.LittleEndian.Uint64(v))
	}
	return 0
}

// length reads a slice length written by binWriter.length, checking that
// the bytes left hold that many elements of at least size bytes; isNil
// reports a nil slice.
func (r *binReader) length(field string, size int) (n int, isNil bool) {
	v := r.uint(field)
	if r.err != nil || v == 0 {
		return 0, true
	}
	if v-1 > uint64(len(r.b)/size) {
		r.fail(field, fmt.Sprintf("length %d exceeds the %d bytes left", v-1, len(r.b)))
		return 0, true
	}
	return int(v - 1), false
}

// makeSlice reads a length and returns a slice of it (nil for nil).
func makeSlice[T any](r *binReader, field string, size int) []T {
	n, isNil := r.length(field, size)
	if isNil {
		return nil
	}
	return make([]T, n)
}

func (r *binReader) string(field string) string {
	n := r.uint(field)
	if n > uint64(len(r.b)) {
		r.fail(field, "truncated")
		return ""
	}
	return string(r.take(int(n), field))
}

// floats reads a []float64 in one piece; length has checked that the
// bytes are there.
func (r *binReader) floats(field string) []float64 {
	v := makeSlice[float64](r, field, 8)
	if b := r.take(8*len(v), field); len(b) == 8*len(v) {
		for i := range v {
			v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
	}
	return v
}

func (r *binReader) ints(field string, lo, hi int) []int {
	v := makeSlice[int](r, field, 1)
	for i := range v {
		v[i] = r.int(field, lo, hi)
	}
	return v
}

// profile16 reads a profile; its offset and unit are finite (the unit
// non-negative) in any profile a model builds.
func (r *binReader) profile16(field string) profile16 {
	p := profile16{offset: r.float(field), unit: r.float(field)}
	r.check(finite(p.offset) && finite(p.unit) && p.unit >= 0, field, "offset or unit not finite")
	p.v = makeSlice[int16](r, field, 2)
	if b := r.take(2*len(p.v), field); len(b) == 2*len(p.v) {
		for i := range p.v {
			p.v[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
		}
	}
	return p
}

// tag reads the tag of a typ, want or tagNil, and reports whether a value
// follows (false for tagNil and on error).
func (r *binReader) tag(typ string, want byte) bool {
	t := r.byte(typ)
	switch {
	case r.err != nil:
	case t == want:
		return true
	case t != tagNil:
		r.fail(typ, fmt.Sprintf("unknown tag %d", t))
	}
	return false
}

// result returns v and the bytes after it, or the zero T and the error.
func result[T any](r *binReader, v T) (T, []byte, error) {
	if r.err != nil {
		var zero T
		return zero, nil, r.err
	}
	return v, r.b, nil
}

// AppendForecaster appends the encoding of f (HoltWinters, SeasonalNaive,
// AR, MSTL, or a Calibrated of one of them; nil encodes as nil) to dst. An
// LSTMForecaster, or any other kind, is ErrNotEncodable.
func AppendForecaster(dst []byte, f Forecaster) ([]byte, error) {
	w := binWriter{dst}
	if err := w.forecaster(f, true); err != nil {
		return dst, err
	}
	return w.b, nil
}

func (w *binWriter) forecaster(f Forecaster, outer bool) error {
	switch m := f.(type) {
	case nil:
		if !outer {
			return fmt.Errorf("cannot encode a Calibrated of nil: %w", ErrNotEncodable)
		}
		w.byte(tagNil)
	case *HoltWinters:
		w.byte(tagHoltWinters)
		w.holtWinters(m)
	case *SeasonalNaive:
		w.byte(tagSeasonalNaive)
		w.int(int64(m.Period))
		w.float(m.Sigma)
		w.int(int64(m.N))
		w.floats(m.ring)
		w.int(int64(m.pos))
	case *AR:
		w.byte(tagAR)
		w.ints(m.LagSteps)
		w.floats(m.Coef)
		w.float(m.Intercept)
		w.float(m.Sigma)
		w.bool(m.Differenced)
		w.int(int64(m.N))
		w.float(m.last)
		w.length(len(m.hist), m.hist == nil)
		for _, v := range m.hist {
			w.float32(v)
		}
		w.int(int64(m.pos))
	case *MSTL:
		// Periods[i] is len(Profiles[i]) (FitMSTL), so it is not written.
		w.byte(tagMSTL)
		w.length(len(m.Profiles), m.Profiles == nil)
		for _, p := range m.Profiles {
			w.floats(p)
		}
		w.ints(m.pos)
		if m.HW == nil {
			return fmt.Errorf("cannot encode an MSTL without its Holt-Winters model: %w", ErrNotEncodable)
		}
		w.holtWinters(m.HW)
	case *Calibrated:
		if !outer {
			return fmt.Errorf("cannot encode a Calibrated of a Calibrated: %w", ErrNotEncodable)
		}
		w.byte(tagCalibrated)
		if err := w.forecaster(m.Forecaster, false); err != nil {
			return err
		}
		w.float(m.cal.f1)
		w.float(m.cal.fh)
		w.int(int64(m.cal.h))
		w.float(m.level)
		w.float(m.eta)
		w.float(m.logK)
	default:
		return fmt.Errorf("cannot encode a %T: %w", f, ErrNotEncodable)
	}
	return nil
}

func (w *binWriter) holtWinters(m *HoltWinters) {
	for _, v := range [...]float64{m.Alpha, m.Beta, m.Gamma, m.Phi} {
		w.float(v)
	}
	w.int(int64(m.Period))
	w.float(m.SSE)
	w.float(m.Sigma)
	w.int(int64(m.N))
	w.float(m.level)
	w.float(m.trend)
	if m.season == nil {
		w.byte(ringProfile16)
		w.profile16(&m.season16)
	} else {
		w.byte(ringFloat64)
		w.floats(m.season)
	}
	w.int(int64(m.pos))
}

// DecodeForecaster decodes a forecaster that AppendForecaster encoded at
// the start of src and returns it with the rest of src.
func DecodeForecaster(src []byte) (Forecaster, []byte, error) {
	r := binReader{b: src}
	return result(&r, r.forecaster(true))
}

func (r *binReader) forecaster(outer bool) Forecaster {
	t := r.byte("Forecaster")
	if r.err != nil {
		return nil
	}
	switch t {
	case tagNil:
		if outer {
			return nil
		}
		r.fail("Calibrated.Forecaster", "nil")
		return nil
	case tagHoltWinters:
		return r.holtWinters()
	case tagSeasonalNaive:
		m := &SeasonalNaive{
			Period: r.int("SeasonalNaive.Period", 1, math.MaxInt),
			Sigma:  r.float("SeasonalNaive.Sigma"),
			N:      r.count("SeasonalNaive.N"),
			ring:   r.floats("SeasonalNaive.ring"),
		}
		r.check(len(m.ring) == m.Period, "SeasonalNaive.ring", "length is not the period")
		m.pos = r.int("SeasonalNaive.pos", 0, len(m.ring)-1)
		return m
	case tagAR:
		m := &AR{
			LagSteps:    r.ints("AR.LagSteps", 1, math.MaxInt),
			Coef:        r.floats("AR.Coef"),
			Intercept:   r.float("AR.Intercept"),
			Sigma:       r.float("AR.Sigma"),
			Differenced: r.bool("AR.Differenced"),
			N:           r.count("AR.N"),
			last:        r.float("AR.last"),
			hist:        makeSlice[float32](r, "AR.hist", 4),
		}
		if b := r.take(4*len(m.hist), "AR.hist"); len(b) == 4*len(m.hist) {
			for i := range m.hist {
				m.hist[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		}
		r.check(len(m.LagSteps) > 0 && len(m.Coef) == len(m.LagSteps), "AR.Coef", "not one coefficient a lag")
		r.check(slices.IsSorted(m.LagSteps) && len(slices.Compact(slices.Clone(m.LagSteps))) == len(m.LagSteps), "AR.LagSteps", "not increasing")
		r.check(len(m.LagSteps) == 0 || m.LagSteps[len(m.LagSteps)-1] <= len(m.hist), "AR.hist", "shorter than the longest lag")
		m.pos = r.int("AR.pos", 0, len(m.hist)-1)
		return m
	case tagMSTL:
		m := &MSTL{Profiles: makeSlice[[]float64](r, "MSTL.Profiles", 1)}
		m.Periods = make([]int, len(m.Profiles))
		for i := range m.Profiles {
			m.Profiles[i] = r.floats("MSTL.Profiles")
			m.Periods[i] = len(m.Profiles[i])
		}
		m.pos = r.ints("MSTL.pos", 0, math.MaxInt)
		r.check(len(m.Profiles) > 0 && len(m.pos) == len(m.Profiles), "MSTL.pos", "not one position a profile")
		for i, p := range m.pos {
			r.check(i < len(m.Profiles) && p < len(m.Profiles[i]), "MSTL.pos", "outside its profile")
		}
		m.HW = r.holtWinters()
		return m
	case tagCalibrated:
		if !outer {
			r.fail("Calibrated.Forecaster", "a Calibrated")
			return nil
		}
		c := &Calibrated{Forecaster: r.forecaster(false)}
		c.cal.f1 = r.float("Calibrated.cal")
		c.cal.fh = r.float("Calibrated.cal")
		c.cal.h = r.int("Calibrated.cal", math.MinInt, math.MaxInt)
		c.level = r.float("Calibrated.level")
		c.eta = r.float("Calibrated.eta")
		c.logK = r.float("Calibrated.logK")
		return c
	}
	r.fail("Forecaster", fmt.Sprintf("unknown tag %d", t))
	return nil
}

func (r *binReader) holtWinters() *HoltWinters {
	m := &HoltWinters{
		Alpha: r.float("HoltWinters.Alpha"), Beta: r.float("HoltWinters.Beta"),
		Gamma: r.float("HoltWinters.Gamma"), Phi: r.float("HoltWinters.Phi"),
		Period: r.int("HoltWinters.Period", 0, math.MaxInt),
		SSE:    r.float("HoltWinters.SSE"),
		Sigma:  r.float("HoltWinters.Sigma"),
		N:      r.count("HoltWinters.N"),
	}
	m.level = r.float("HoltWinters.level")
	m.trend = r.float("HoltWinters.trend")
	switch r.byte("HoltWinters.season") {
	case ringFloat64:
		m.season = r.floats("HoltWinters.season")
		r.check(m.season != nil, "HoltWinters.season", "nil")
	case ringProfile16:
		m.season16 = r.profile16("HoltWinters.season16")
	default:
		r.fail("HoltWinters.season", "unknown ring kind")
	}
	r.check(m.ringLen() == max(m.Period, 1), "HoltWinters.season", "length is not the period")
	m.pos = r.int("HoltWinters.pos", 0, m.ringLen()-1)
	return m
}

// AppendSelection appends the encoding of s to dst.
func AppendSelection(dst []byte, s Selection) ([]byte, error) {
	w := binWriter{dst}
	w.byte(tagSelection)
	w.string(s.Model)
	w.float(s.MASE)
	names := make([]string, 0, len(s.Candidates))
	for name := range s.Candidates {
		names = append(names, name)
	}
	slices.Sort(names) // a deterministic encoding
	w.length(len(names), s.Candidates == nil)
	for _, name := range names {
		w.string(name)
		w.float(s.Candidates[name])
	}
	w.ints(s.Periods)
	w.int(int64(s.Horizon))
	return w.b, nil
}

// DecodeSelection decodes a Selection that AppendSelection encoded at the
// start of src and returns it with the rest of src.
func DecodeSelection(src []byte) (Selection, []byte, error) {
	r := binReader{b: src}
	var s Selection
	if !r.tag("Selection", tagSelection) {
		r.fail("Selection", "nil")
	}
	s.Model = r.string("Selection.Model")
	s.MASE = r.float("Selection.MASE")
	if n, isNil := r.length("Selection.Candidates", 9); !isNil {
		s.Candidates = make(map[string]float64, n)
		for range n {
			name := r.string("Selection.Candidates")
			s.Candidates[name] = r.float("Selection.Candidates")
		}
		r.check(len(s.Candidates) == n, "Selection.Candidates", "duplicate name")
	}
	s.Periods = r.ints("Selection.Periods", math.MinInt, math.MaxInt)
	s.Horizon = r.int("Selection.Horizon", math.MinInt, math.MaxInt)
	return result(&r, s)
}

// AppendBinary appends the encoding of b (nil included) to dst.
func (b *Baseline) AppendBinary(dst []byte) ([]byte, error) {
	w := binWriter{dst}
	if b == nil {
		w.byte(tagNil)
		return w.b, nil
	}
	w.byte(tagBaseline)
	w.int(b.slotWidth)
	w.int(b.cycle)
	w.float(b.node)
	w.profile16(&b.center)
	w.profile16(&b.scale)
	w.float(b.k)
	w.float(b.maxCenter)
	return w.b, nil
}

// DecodeBaseline decodes a Baseline that AppendBinary encoded at the start
// of src (nil for a nil one) and returns it with the rest of src.
func DecodeBaseline(src []byte) (*Baseline, []byte, error) {
	r := binReader{b: src}
	if !r.tag("Baseline", tagBaseline) {
		return result[*Baseline](&r, nil)
	}
	b := &Baseline{slotWidth: r.int64("Baseline.slotWidth"), cycle: r.int64("Baseline.cycle")}
	r.check(b.cycle == msPerDay || b.cycle == msPerWeek, "Baseline.cycle", "neither a day nor a week")
	r.check(b.slotWidth > 0 && b.cycle%b.slotWidth == 0, "Baseline.slotWidth", "does not divide the cycle")
	b.node = r.float("Baseline.node")
	r.check(b.node >= 0 && b.node <= 1, "Baseline.node", "outside [0, 1]")
	b.center = r.profile16("Baseline.center")
	r.check(b.slotWidth > 0 && int64(b.center.len()) == b.cycle/b.slotWidth, "Baseline.center", "not a value a slot")
	b.scale = r.profile16("Baseline.scale")
	r.check(b.scale.len() == 0 || b.scale.len() == b.center.len(), "Baseline.scale", "not a value a slot")
	b.k = r.float("Baseline.k")
	b.maxCenter = r.float("Baseline.maxCenter")
	return result(&r, b)
}

// AppendBinary appends the encoding of d (nil included) to dst.
func (d *Detector) AppendBinary(dst []byte) ([]byte, error) {
	w := binWriter{dst}
	if d == nil {
		w.byte(tagNil)
		return w.b, nil
	}
	w.byte(tagDetector)
	// The options but ShortWindow, which is len(short); alpha and
	// peakDecay follow from them (NewDetector).
	w.int(int64(d.opts.Warmup))
	w.float(d.opts.LongHalfLife)
	w.float(d.opts.Refractory)
	w.floats(d.short)
	w.int(int64(d.pos))
	w.float(d.shortSum)
	w.int(int64(d.n))
	w.int(d.lastT)
	w.int(d.step)
	w.int(int64(d.period))
	w.profile16(&d.prof)
	w.profile16(&d.wprof)
	w.int(int64(d.ctx))
	for _, s := range d.seen {
		w.uint(s)
	}
	for _, v := range [...]float64{
		d.level, d.scale, d.lo, d.hi, d.wLevel, d.errW, d.errL, d.errS,
		d.mu, d.m2, d.peak, d.alarm, d.fast, d.slow, d.slowVar, d.novelAvg,
		d.sLevel, d.sSeason, d.sErrL, d.sErrS, d.sz,
	} {
		w.float(v)
	}
	return w.b, nil
}

// DecodeDetector decodes a Detector that AppendBinary encoded at the start
// of src (nil for a nil one) and returns it with the rest of src.
func DecodeDetector(src []byte) (*Detector, []byte, error) {
	r := binReader{b: src}
	if !r.tag("Detector", tagDetector) {
		return result[*Detector](&r, nil)
	}
	opts := DetectorOptions{
		Warmup:       r.int("Detector.opts", 1, math.MaxInt),
		LongHalfLife: r.float("Detector.opts"),
		Refractory:   r.float("Detector.opts"),
	}
	short := r.floats("Detector.short")
	// withDefaults would replace a non-positive option.
	r.check(opts.LongHalfLife > 0 && opts.Refractory > 0 && len(short) > 0, "Detector.opts", "not positive")
	if r.err != nil {
		return result[*Detector](&r, nil)
	}
	opts.ShortWindow = len(short)
	d := NewDetector(opts)
	d.short = short
	d.pos = r.int("Detector.pos", 0, len(short)-1)
	d.shortSum = r.float("Detector.shortSum")
	d.n = r.count("Detector.n")
	d.lastT = r.int64("Detector.lastT")
	d.step = r.int64("Detector.step")
	r.check(d.step >= 0, "Detector.step", "negative")
	d.period = r.int("Detector.period", 0, maxPeriod)
	d.prof = r.profile16("Detector.prof")
	d.wprof = r.profile16("Detector.wprof")
	r.check(d.prof.len() == d.period && (d.period == 0 || d.step > 0), "Detector.prof", "not a value a phase")
	r.check(d.wprof.len() == 0 || d.wprof.len() == 7*d.period, "Detector.wprof", "not a value a phase")
	d.ctx = r.int("Detector.ctx", 0, ctxStates-1)
	for i := range d.seen {
		d.seen[i] = r.uint("Detector.seen")
	}
	for _, p := range [...]*float64{
		&d.level, &d.scale, &d.lo, &d.hi, &d.wLevel, &d.errW, &d.errL, &d.errS,
		&d.mu, &d.m2, &d.peak, &d.alarm, &d.fast, &d.slow, &d.slowVar, &d.novelAvg,
		&d.sLevel, &d.sSeason, &d.sErrL, &d.sErrS, &d.sz,
	} {
		*p = r.float("Detector.state")
	}
	return result(&r, d)
}

// AppendBinary appends the encoding of m (nil included) to dst.
func (m *RegimeTrend) AppendBinary(dst []byte) ([]byte, error) {
	w := binWriter{dst}
	if m == nil {
		w.byte(tagNil)
		return w.b, nil
	}
	w.byte(tagRegimeTrend)
	w.float(m.Sigma)
	w.float(m.Rho)
	w.bool(m.Weekly)
	w.int(m.last)
	w.int(m.step)
	w.floats(m.season)
	w.floats(m.seasonCov)
	w.float(m.amp)
	w.float(m.svMax)
	w.length(len(m.comps), m.comps == nil)
	for _, c := range m.comps {
		for _, v := range [...]float64{c.w, c.level, c.slope, c.c00, c.c01, c.c11} {
			w.float(v)
		}
	}
	w.int(m.start)
	w.length(len(m.changes), m.changes == nil)
	for _, c := range m.changes {
		w.int(c.T)
		w.bool(c.Level)
		w.bool(c.Growth)
	}
	return w.b, nil
}

// DecodeRegimeTrend decodes a RegimeTrend that AppendBinary encoded at the
// start of src (nil for a nil one) and returns it with the rest of src.
func DecodeRegimeTrend(src []byte) (*RegimeTrend, []byte, error) {
	r := binReader{b: src}
	if !r.tag("RegimeTrend", tagRegimeTrend) {
		return result[*RegimeTrend](&r, nil)
	}
	m := &RegimeTrend{
		Sigma:     r.float("RegimeTrend.Sigma"),
		Rho:       r.float("RegimeTrend.Rho"),
		Weekly:    r.bool("RegimeTrend.Weekly"),
		last:      r.int64("RegimeTrend.last"),
		step:      r.int64("RegimeTrend.step"),
		season:    r.floats("RegimeTrend.season"),
		seasonCov: r.floats("RegimeTrend.seasonCov"),
		amp:       r.float("RegimeTrend.amp"),
		svMax:     r.float("RegimeTrend.svMax"),
		comps:     makeSlice[regimeComp](&r, "RegimeTrend.comps", 48),
	}
	q := dailyTerms
	if m.Weekly {
		q = regimeTerms
	}
	r.check(len(m.season) == q, "RegimeTrend.season", "not a coefficient a harmonic")
	r.check(len(m.seasonCov) == q*q, "RegimeTrend.seasonCov", "not q×q")
	for i := range m.comps {
		c := &m.comps[i]
		for _, p := range [...]*float64{&c.w, &c.level, &c.slope, &c.c00, &c.c01, &c.c11} {
			*p = r.float("RegimeTrend.comps")
		}
	}
	m.start = r.int64("RegimeTrend.start")
	m.changes = makeSlice[RegimeChange](&r, "RegimeTrend.changes", 3)
	for i := range m.changes {
		c := &m.changes[i]
		c.T = r.int64("RegimeTrend.changes")
		c.Level = r.bool("RegimeTrend.changes")
		c.Growth = r.bool("RegimeTrend.changes")
	}
	return result(&r, m)
}
