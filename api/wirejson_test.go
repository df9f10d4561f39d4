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
