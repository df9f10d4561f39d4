package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"time"

	"github.com/augur-sre/augur/model"
)

// The models file holds every fitted series' models in model's binary
// encodings, so that a restart on a warm storage installs them instead of
// refitting every series: a refit reads the history of each series from
// the TSDB and fits it (about 10 ms a series, over a quarter of an hour at
// 100k series on two cores, BenchmarkRefit), a decode takes microseconds
// (BenchmarkModelsFile).
//
// Layout: modelsMagic, then uvarints of the version, the step (ms) and the
// horizon (steps) it was written for; then one record per series, its
// length as a uvarint, the record and its CRC-32C (little-endian); then a
// zero length, so that a file cut short is told from a complete one.
const (
	modelsMagic   = "augur models\n"
	modelsVersion = 2 // 2: FullUpTo
)

// recentScores is how many of the detector's last scores a series keeps
// across a restart or a first fit, those the anomaly evidence of the next
// evaluations reads (recentScore's window, with room).
const recentScores = 16

// modelsChunk is how many series WriteModels encodes under one read lock:
// evaluations wait for the lock, so it is taken in short spells.
const modelsChunk = 512

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteModels writes the models of every series fitted with an encodable
// forecaster (all but the LSTM's) to w and returns how many it wrote.
// The series are encoded a chunk at a time under the read lock, so
// evaluations wait for one chunk at most.
func (e *Engine) WriteModels(w io.Writer) (int, error) {
	hdr := []byte(modelsMagic)
	hdr = binary.AppendUvarint(hdr, modelsVersion)
	hdr = binary.AppendUvarint(hdr, uint64(e.step))
	hdr = binary.AppendUvarint(hdr, uint64(e.horizon))
	if _, err := w.Write(hdr); err != nil {
		return 0, fmt.Errorf("cannot write models: %w", err)
	}
	e.mu.RLock()
	all := e.byKey // sortSeries replaces the list rather than change it
	e.mu.RUnlock()
	var buf, rec []byte
	n := 0
	for lo := 0; lo < len(all); lo += modelsChunk {
		buf = buf[:0]
		e.mu.RLock()
		for _, s := range all[lo:min(lo+modelsChunk, len(all))] {
			var err error
			rec, err = s.appendModels(rec[:0])
			if errors.Is(err, model.ErrNotEncodable) || err == nil && len(rec) == 0 {
				continue // refitted at the next start
			}
			if err != nil {
				e.mu.RUnlock()
				return n, fmt.Errorf("cannot encode the models of %s: %w", s.key, err)
			}
			buf = binary.AppendUvarint(buf, uint64(len(rec)))
			buf = append(buf, rec...)
			buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(rec, castagnoli))
			n++
		}
		e.mu.RUnlock()
		if _, err := w.Write(buf); err != nil {
			return n, fmt.Errorf("cannot write models: %w", err)
		}
	}
	if _, err := w.Write([]byte{0}); err != nil { // the end
		return n, fmt.Errorf("cannot write models: %w", err)
	}
	return n, nil
}

// modelsRecord is the fixed part of a series' record, after its key.
type modelsRecord struct {
	UpTo, First, Fitted, Took int64 // ms, ms, Unix ms, ns
	// FullUpTo is the last point of the last full refit (ms), the age of
	// the baselines, regime model and selection (see reselectEvery).
	FullUpTo       int64
	Period, Points uint32
	// Flags: 1 counter-like, 2 has a forecaster, 4 the daily baseline is
	// the baseline.
	Flags uint8
	// Recent is how many of the detector's scores of the window's last
	// points up to UpTo follow, oldest first.
	Recent uint8
}

// appendModels appends the series' record to dst: nothing when it has no
// fitted models yet.
func (s *series) appendModels(dst []byte) ([]byte, error) {
	if s.det == nil || s.fitErr != nil {
		return dst, nil
	}
	h := modelsRecord{UpTo: s.lastT, First: s.first, Fitted: s.fitted.UnixMilli(), Took: int64(s.fitTook), FullUpTo: s.fullUpTo, Period: uint32(s.period), Points: uint32(s.points)}
	if s.counterLike {
		h.Flags |= 1
	}
	if s.fc != nil {
		h.Flags |= 2
	}
	if s.daily == s.base {
		h.Flags |= 4 // a history too short for a weekly baseline
	}
	if s.win.n > 0 && s.win.newest == s.lastT {
		h.Recent = uint8(min(s.win.n, recentScores))
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.key)))
	dst = append(dst, s.key...)
	dst, _ = binary.Append(dst, binary.LittleEndian, h)
	for i := s.win.n - int(h.Recent); i < s.win.n; i++ {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(s.win.ds[s.win.index(i)]))
	}
	var err error
	if dst, err = model.AppendSelection(dst, s.sel); err != nil {
		return nil, err
	}
	if s.fc != nil {
		if dst, err = model.AppendForecaster(dst, s.fc); err != nil {
			return nil, err
		}
	}
	if dst, err = s.base.AppendBinary(dst); err != nil {
		return nil, err
	}
	if h.Flags&4 == 0 {
		if dst, err = s.daily.AppendBinary(dst); err != nil {
			return nil, err
		}
	}
	if dst, err = s.regime.AppendBinary(dst); err != nil {
		return nil, err
	}
	return s.det.AppendBinary(dst)
}

// ReadModels reads a file WriteModels wrote, for the first fits of the
// series it holds: a series whose window (fetched at the start) joins the
// models' last point installs them without a fit, and the others are
// fitted, keeping their kind of model. Call it before Run. It reads all
// or nothing: on an error, it returns it and every series is fitted.
func (e *Engine) ReadModels(r io.Reader) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic := make([]byte, len(modelsMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != modelsMagic {
		return 0, errors.New("models file: not a models file (bad header)")
	}
	var hdr [3]uint64
	for i := range hdr {
		v, err := binary.ReadUvarint(br)
		if err != nil {
			return 0, fmt.Errorf("models file: header: %w", err)
		}
		hdr[i] = v
	}
	switch {
	case hdr[0] != modelsVersion:
		return 0, fmt.Errorf("models file has version %d, want %d", hdr[0], modelsVersion)
	case hdr[1] != uint64(e.step) || hdr[2] != uint64(e.horizon):
		return 0, fmt.Errorf("models file was written for a step of %v and a horizon of %d steps, not %v and %d",
			time.Duration(hdr[1])*time.Millisecond, hdr[2], time.Duration(e.step)*time.Millisecond, e.horizon)
	}
	models := map[string]*fitResult{}
	var rec []byte
	for i := 1; ; i++ {
		size, err := binary.ReadUvarint(br)
		if err != nil {
			return 0, fmt.Errorf("models file: record %d: %w", i, noEOF(err))
		}
		if size == 0 {
			break
		}
		if size > maxModelRecord {
			return 0, fmt.Errorf("models file: record %d: length %d over %d", i, size, maxModelRecord)
		}
		rec = slices.Grow(rec[:0], int(size)+4)[:size+4]
		if _, err := io.ReadFull(br, rec); err != nil {
			return 0, fmt.Errorf("models file: record %d: %w", i, noEOF(err))
		}
		body := rec[:size]
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(rec[size:]) {
			return 0, fmt.Errorf("models file: record %d: checksum mismatch", i)
		}
		key, res, err := decodeModels(body)
		if err != nil {
			return 0, fmt.Errorf("models file: record %d: %w", i, err)
		}
		models[key] = res
	}
	e.mu.Lock()
	e.restoredModels = models
	e.mu.Unlock()
	return len(models), nil
}

// maxModelRecord bounds a record's length, against a corrupt length
// making ReadModels allocate gigabytes: a one-minute fortnight's models
// take about 11 KB.
const maxModelRecord = 16 << 20

// noEOF turns an end of file inside the models file into the error of a
// file cut short.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// decodeModels decodes a record of appendModels.
func decodeModels(b []byte) (string, *fitResult, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, errors.New("truncated key")
	}
	key := string(b[k : k+int(n)])
	b = b[k+int(n):]
	var h modelsRecord
	k, err := binary.Decode(b, binary.LittleEndian, &h)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", key, err)
	}
	b = b[k:]
	if h.Recent > recentScores || len(b) < 4*int(h.Recent) {
		return "", nil, fmt.Errorf("%s: %d recent scores", key, h.Recent)
	}
	r := &fitResult{upTo: h.UpTo, fullUpTo: h.FullUpTo, first: h.First, fitted: time.UnixMilli(h.Fitted), took: time.Duration(h.Took),
		period: int(h.Period), points: int(h.Points), counterLike: h.Flags&1 != 0, recent: make([]float32, h.Recent)}
	for i := range r.recent {
		r.recent[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	b = b[4*len(r.recent):]
	if r.sel, b, err = model.DecodeSelection(b); err != nil {
		return "", nil, fmt.Errorf("%s: %w", key, err)
	}
	if h.Flags&2 != 0 {
		if r.fc, b, err = model.DecodeForecaster(b); err != nil {
			return "", nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	if r.base, b, err = model.DecodeBaseline(b); err != nil {
		return "", nil, fmt.Errorf("%s: baseline: %w", key, err)
	}
	r.daily = r.base
	if h.Flags&4 == 0 {
		if r.daily, b, err = model.DecodeBaseline(b); err != nil {
			return "", nil, fmt.Errorf("%s: daily baseline: %w", key, err)
		}
	}
	if r.regime, b, err = model.DecodeRegimeTrend(b); err != nil {
		return "", nil, fmt.Errorf("%s: %w", key, err)
	}
	if r.det, b, err = model.DecodeDetector(b); err != nil {
		return "", nil, fmt.Errorf("%s: %w", key, err)
	}
	if len(b) != 0 {
		return "", nil, fmt.Errorf("%s: %d bytes after the models", key, len(b))
	}
	return key, r, nil
}

// restoredFit returns the fit the models file holds for s, if the points
// of its window take the models from their last point to the present
// without a gap; the caller holds e.mu.
func (e *Engine) restoredFit(s *series) (fitResult, bool) {
	r := e.restoredModels[s.key]
	if r == nil || s.win.n == 0 || s.win.t(0) > r.upTo+e.step {
		return fitResult{}, false
	}
	return *r, true
}
