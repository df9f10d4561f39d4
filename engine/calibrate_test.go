package engine

import (
	"context"
	"testing"
	"time"

	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/model"
)

// windowLister lists the incidents that overlap [start, end], as a store
// that is asked only for the History does.
type windowLister []ingest.Incident

func (l windowLister) Incidents(_ context.Context, start, end time.Time) ([]ingest.Incident, error) {
	var out []ingest.Incident
	for _, inc := range l {
		if !inc.End.Before(start) && !inc.Start.After(end) {
			out = append(out, inc)
		}
	}
	return out, nil
}

// TestCalibrateLeavesOutForgottenIncidents checks that predictions recorded
// before the window incidents are listed for (older than the History, kept
// by the TSDB or adopted from a replay) are not labelled negative:
// the incidents they preceded are forgotten, not averted.
func TestCalibrateLeavesOutForgottenIncidents(t *testing.T) {
	now := demoAnchor
	start := now.Add(-3 * day)
	// An incident every 12 h, preceded by an hour of strong evidence.
	var incs windowLister
	for s := start.Add(6 * time.Hour); s.Before(now); s = s.Add(12 * time.Hour) {
		incs = append(incs, ingest.Incident{Entity: "a", Name: "OOMKilled", Start: s, End: s.Add(3 * time.Minute), Source: "demo"})
	}
	e, err := New(Options{
		Signals:   []Signal{{Name: "memory", Query: "memory", Entity: "host", Limit: 100}},
		Step:      time.Minute,
		History:   day,
		Horizon:   time.Hour,
		Now:       func() time.Time { return now },
		Incidents: incs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	// Three days of recorded evidence, in the TSDB as evaluations write it.
	for ts := start; !ts.After(now); ts = ts.Add(time.Minute) {
		st := &State{At: ts, Ready: true}
		for _, name := range []string{"a", "b"} {
			cross := 0.01
			for _, inc := range incs {
				if name == "a" && ts.Before(inc.Start) && !ts.Before(inc.Start.Add(-time.Hour)) {
					cross = 0.999
				}
			}
			st.Entities = append(st.Entities, EntityRisk{Entity: name, EntityLabel: "host", CrossingProbability: cross})
		}
		e.appendOutputs(context.Background(), st)
	}
	e.evalTime = now
	e.RefreshIncidents(context.Background())
	e.calibrate()
	c := e.Calibration()
	if c.Prior {
		t.Fatalf("not calibrated: %s", c.Note)
	}
	// Two entities over the History less the horizon whose outcome is
	// pending, less the minutes a was failing.
	if want := 2*int((day-time.Hour)/time.Minute) - 8; c.Examples != want {
		t.Errorf("fitted on %d examples, want %d (the History's, not the 3 days kept)", c.Examples, want)
	}
	// Within the History every hour of strong evidence preceded an incident.
	if p := e.calib.Apply(0.999, 0); p < 0.9 {
		t.Errorf("raw 0.999 calibrated to %.3f, want >= 0.9: forgotten incidents counted as false alarms", p)
	}
}

// TestCalibrationAt: the learned model's base at a step is the calibration
// in use then, the prior before the first, and setCalibration forgets
// those replaced more than a History ago.
func TestCalibrationAt(t *testing.T) {
	e := &Engine{opts: Options{History: 10 * time.Millisecond}}
	cal := func(n int) model.Calibrator { return model.Calibrator{N: n} }
	for _, at := range []int64{100, 105, 120, 125} {
		e.setCalibration(cal(int(at)), at)
	}
	// The History before 125 starts at 115, when the one from 105 was in
	// use.
	if got := len(e.calibs); got != 3 || e.calibs[0].from != 105 {
		t.Errorf("kept %d calibrations from %d, want the 3 from 105", got, e.calibs[0].from)
	}
	for _, c := range []struct {
		t    int64
		want int
	}{{104, 0}, {105, 105}, {119, 105}, {120, 120}, {124, 120}, {125, 125}, {1000, 125}} {
		if got := calibrationAt(e.calibs, c.t).N; got != c.want {
			t.Errorf("calibrationAt(%d) is the one from %d, want %d", c.t, got, c.want)
		}
	}
}
