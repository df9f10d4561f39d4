package api

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/augur-sre/augur/engine"
)

// TestWireJSONNonFinite: a failure listing whose factor has no finite
// sample, and a forecast whose interval reaches infinity, encode with
// nulls (encoding/json fails on them, which answered 500), and finite
// values as encoding/json writes them.
func TestWireJSONNonFinite(t *testing.T) {
	inf := math.Inf(1)
	v := response{Status: statusOK, Data: []any{
		toEntityRisks([]engine.EntityRisk{{Entity: "a", FailureProbability: 0.25, Factors: []engine.Factor{{Signal: "cpu", Value: math.NaN(), Limit: &inf}}}})[0],
		toPoint(engine.Point{Forecast: 1.5, Lower: math.Inf(-1), Upper: inf}),
	}}
	if _, err := json.Marshal(v); err == nil {
		t.Fatal("encoding/json encodes NaN: the test no longer tests anything")
	}
	b, err := wireJSON.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	f := back.Data[0]["factors"].([]any)[0].(map[string]any)
	if f["value"] != nil || f["limit"] != nil || back.Data[0]["failure_probability"] != 0.25 {
		t.Errorf("factor %v, probability %v: want null value and limit, 0.25", f, back.Data[0]["failure_probability"])
	}
	if p := back.Data[1]; p["lower"] != nil || p["upper"] != nil || p["forecast"] != 1.5 {
		t.Errorf("point %v: want null bounds, forecast 1.5", p)
	}
}

// TestWireFailureModel: /api/v1/targets' calibration.failure_model says
// each network's epoch, the correction's weight α, the held-out losses and
// why the model is not in use, under the names the README gives.
func TestWireFailureModel(t *testing.T) {
	ll, cal := 0.0041, 0.0045
	w := toCalibration(engine.Calibration{FailureModel: &engine.FailureModelStatus{
		Mode: engine.FailureModelAuto, Epochs: []int{2, 0, 8}, Alpha: 0.9, LogLoss: &ll, CalibratedLogLoss: &cal, Note: "why",
	}})
	b, err := wireJSON.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		FailureModel map[string]any `json:"failure_model"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	fm := back.FailureModel
	for key, want := range map[string]any{"mode": "auto", "alpha": 0.9, "log_loss": ll, "calibrated_log_loss": cal, "note": "why", "in_use": false} {
		if fm[key] != want {
			t.Errorf("%s: %v, want %v (in %s)", key, fm[key], want, b)
		}
	}
	if e, ok := fm["epochs"].([]any); !ok || len(e) != 3 || e[2] != 8.0 {
		t.Errorf("epochs: %v, want [2 0 8] (in %s)", fm["epochs"], b)
	}
	if _, ok := fm["full_log_loss"]; ok {
		t.Errorf("full_log_loss present though unknown (in %s)", b)
	}
}
