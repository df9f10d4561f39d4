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

// samplesSeries is a series whose samples are computed by index; Prometheus'
// list iterator seeks them by binary search.
type samplesSeries struct {
	labels  labels.Labels
	samples storage.Samples
}

func (s *samplesSeries) Labels() labels.Labels { return s.labels }

func (s *samplesSeries) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return storage.NewListSeriesIterator(s.samples)
}

// regular is v[i] at start + i*step.
type regular struct {
	start, step int64
	v           []float64
}

func (r regular) Get(i int) chunks.Sample { return fsample{r.start + int64(i)*r.step, r.v[i]} }
func (r regular) Len() int                { return len(r.v) }

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
