// Package ingest reads metric series from the systems augur watches:
// Prometheus, InfluxDB, CSV files and the embedded demo fleet. It knows
// nothing of models; it hands the engine clean, step-aligned samples.
package ingest

import (
	"context"
	"time"
)

// Sample is one observation: T in Unix milliseconds, V the value.
// V is NaN where the point is missing (a gap that was not interpolated).
type Sample struct {
	T int64
	V float64
}

// Series is one labelled series with samples in strictly increasing time order.
type Series struct {
	Labels  map[string]string
	Samples []Sample
}

// Source yields the series a query selects over [start, end] at the given step.
// Implementations must be safe for concurrent use.
type Source interface {
	Range(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]Series, error)
}

// Clock is implemented by sources whose present is not the wall clock:
// the demo fleet runs at --demo.speed, a CSV folder's "now" is its last row.
type Clock interface {
	Now() time.Time
}

// Incident is a known failure of an entity.
type Incident struct {
	Entity string    `json:"entity"`
	Name   string    `json:"name"`             // e.g. "OOMKilled", "ConnectionPoolExhausted"
	Signal string    `json:"signal,omitempty"` // the signal that failed, when known
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Source string    `json:"source"` // "demo", "alertmanager", "prometheus"
}

// IncidentLister is implemented by sources that know past failures
// (the demo fleet's scripted ones, Prometheus' ALERTS series).
type IncidentLister interface {
	Incidents(ctx context.Context, start, end time.Time) ([]Incident, error)
}
