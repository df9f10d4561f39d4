package query

import (
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// seriesSet is a storage.SeriesSet over series sorted by labels.
type seriesSet struct {
	series   []storage.Series
	i        int
	warnings annotations.Annotations
}

func (s *seriesSet) Next() bool {
	if s.i >= len(s.series) {
		return false
	}
	s.i++
	return true
}

func (s *seriesSet) At() storage.Series                { return s.series[s.i-1] }
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return s.warnings }

// samplesSeries is a series whose samples are computed by index: sample
// i is at(i), of n. Prometheus' list iterator walks and seeks them (by
// binary search).
type samplesSeries struct {
	labels labels.Labels
	n      int
	at     func(i int) (int64, float64)
}

func (s *samplesSeries) Labels() labels.Labels { return s.labels }

func (s *samplesSeries) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return storage.NewListSeriesIterator(&cursor{s: s})
}

// cursor is the storage.Samples of one iterator: Get computes sample i
// into the cursor's own sample, so that reading a sample allocates
// nothing (the list iterator reads each sample it gets at once).
type cursor struct {
	s   *samplesSeries
	cur fsample
}

func (c *cursor) Get(i int) chunks.Sample {
	c.cur.t, c.cur.f = c.s.at(i)
	return &c.cur
}

func (c *cursor) Len() int { return c.s.n }

// regular returns the series of v[i] at start + i*step.
func regular(l labels.Labels, start, step int64, v []float64) *samplesSeries {
	return &samplesSeries{labels: l, n: len(v), at: func(i int) (int64, float64) { return start + int64(i)*step, v[i] }}
}

// fsample is a float sample.
type fsample struct {
	t int64
	f float64
}

func (s fsample) T() int64                    { return s.t }
func (s fsample) F() float64                  { return s.f }
func (fsample) H() *histogram.Histogram       { return nil }
func (fsample) FH() *histogram.FloatHistogram { return nil }
func (fsample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s fsample) Copy() chunks.Sample         { return s }
