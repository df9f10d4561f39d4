package engine

import (
	"sort"
	"time"

	"github.com/augur-sre/augur/ingest"
)

// ReliabilityBin compares predicted and observed failure frequencies over
// the predictions that fell in [Lower, Upper).
type ReliabilityBin struct {
	Lower, Upper  float64
	Count         int
	MeanPredicted float64
	Observed      float64
}

// IncidentLead says whether and how early an incident was predicted.
type IncidentLead struct {
	Incident ingest.Incident
	Detected bool
	// Lead is how long before the incident's start the probability crossed
	// the threshold and stayed above it up to the prediction closest to it.
	Lead time.Duration
}

// Alarm is a run of evaluations where an entity's probability stayed at or
// above the threshold.
type Alarm struct {
	Entity     string
	Start, End time.Time
	True       bool // an incident of the entity started during the run or within the horizon after it
}

// Report is the evaluation of recorded predictions against incidents.
type Report struct {
	Horizon     time.Duration
	Threshold   float64
	Examples    int
	Positives   int
	Brier       float64
	Reliability []ReliabilityBin
	Alarms      []Alarm
	Leads       []IncidentLead
	// Precision is the share of alarms followed by an incident; Recall the
	// share of incidents preceded by an alarm within the horizon.
	Precision, Recall float64
	MedianLead        time.Duration
}

// maxLead bounds how far back a lead time is traced.
const maxLead = 24 * time.Hour

// Evaluate scores the failure probabilities recorded in hist against the
// incidents that started in [from, to]. Each prediction at t is an example
// whose outcome is an incident of its entity starting in (t, t+horizon];
// predictions made while the entity was failing, or whose horizon reaches
// past to, are left out.
func Evaluate(hist []EntityHistory, incidents []ingest.Incident, horizon time.Duration, threshold float64, from, to time.Time) Report {
	r := Report{Horizon: horizon, Threshold: threshold}
	const bins = 10
	r.Reliability = make([]ReliabilityBin, bins)
	var sumP, sumY [bins]float64
	known := to.Add(-horizon).UnixMilli()
	byEntity := map[string][]ProbabilityPoint{}
	for _, h := range hist {
		byEntity[h.Entity] = h.Points
		var alarm *Alarm
		for _, p := range h.Points {
			if p.T < from.UnixMilli() || p.T > to.UnixMilli() {
				continue
			}
			y, ok := Outcome(incidents, h.Entity, p.T, horizon)
			if ok && p.T <= known {
				r.Examples++
				b := min(int(p.P*bins), bins-1)
				r.Reliability[b].Count++
				sumP[b] += p.P
				if y {
					r.Positives++
					sumY[b]++
					r.Brier += (1 - p.P) * (1 - p.P)
				} else {
					r.Brier += p.P * p.P
				}
			}
			above := p.P >= threshold && ok
			switch {
			case above && alarm == nil:
				alarm = &Alarm{Entity: h.Entity, Start: time.UnixMilli(p.T).UTC()}
			case !above && alarm != nil:
				r.Alarms = append(r.Alarms, *alarm)
				alarm = nil
			}
			if alarm != nil {
				alarm.End = time.UnixMilli(p.T).UTC()
			}
		}
		if alarm != nil {
			r.Alarms = append(r.Alarms, *alarm)
		}
	}
	if r.Examples > 0 {
		r.Brier /= float64(r.Examples)
	}
	for b := range r.Reliability {
		rb := &r.Reliability[b]
		rb.Lower, rb.Upper = float64(b)/bins, float64(b+1)/bins
		if rb.Count > 0 {
			rb.MeanPredicted = sumP[b] / float64(rb.Count)
			rb.Observed = sumY[b] / float64(rb.Count)
		}
	}
	trueAlarms := 0
	for i := range r.Alarms {
		a := &r.Alarms[i]
		for _, inc := range incidents {
			if inc.Entity == a.Entity && !inc.Start.Before(a.Start) && !inc.Start.After(a.End.Add(horizon)) {
				a.True = true
				trueAlarms++
				break
			}
		}
	}
	if len(r.Alarms) > 0 {
		r.Precision = float64(trueAlarms) / float64(len(r.Alarms))
	}
	var leads []time.Duration
	for _, inc := range incidents {
		if inc.Start.Before(from) || inc.Start.After(to) {
			continue
		}
		l := IncidentLead{Incident: inc}
		l.Lead, l.Detected = leadTime(byEntity[inc.Entity], inc.Start, horizon, threshold)
		if l.Detected {
			leads = append(leads, l.Lead)
		}
		r.Leads = append(r.Leads, l)
	}
	if len(r.Leads) > 0 {
		r.Recall = float64(len(leads)) / float64(len(r.Leads))
	}
	if len(leads) > 0 {
		sort.Slice(leads, func(i, j int) bool { return leads[i] < leads[j] })
		r.MedianLead = leads[len(leads)/2]
		if len(leads)%2 == 0 {
			r.MedianLead = (leads[len(leads)/2-1] + leads[len(leads)/2]) / 2
		}
	}
	return r
}

// leadTime finds the last prediction at or above threshold within the
// horizon before start, and traces its run back: the lead is start minus
// the run's first prediction.
func leadTime(pts []ProbabilityPoint, start time.Time, horizon time.Duration, threshold float64) (time.Duration, bool) {
	s := start.UnixMilli()
	i := sort.Search(len(pts), func(i int) bool { return pts[i].T >= s }) - 1
	for ; i >= 0 && pts[i].T >= s-horizon.Milliseconds(); i-- {
		if pts[i].P >= threshold {
			break
		}
	}
	if i < 0 || pts[i].T < s-horizon.Milliseconds() {
		return 0, false
	}
	for i > 0 && pts[i-1].P >= threshold && pts[i-1].T >= s-maxLead.Milliseconds() {
		i--
	}
	return time.Duration(s-pts[i].T) * time.Millisecond, true
}
