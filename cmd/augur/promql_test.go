package main

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// TestPromQLClientGolang runs real PromQL (functions, aggregations, vector
// matching between augur's series, the future) against a running augur
// with client_golang, as Go programs that speak to Prometheus do, and
// checks that its limits answer Prometheus' error types.
func TestPromQLClientGolang(t *testing.T) {
	if testing.Short() {
		t.Skip("runs augur")
	}
	base := startAugur(t, "--query.max-samples=20000", "--query.max-length=4096")
	waitReady(t, base, 60*time.Second)
	c, err := api.NewClient(api.Config{Address: base})
	if err != nil {
		t.Fatal(err)
	}
	p := v1.NewAPI(c)
	ctx := context.Background()
	vector := func(q string) model.Vector {
		t.Helper()
		v, _, err := p.Query(ctx, q, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return v.(model.Vector)
	}
	waitEvaluated(t, base)
	if v := vector(`augur_failure_probability`); len(v) != 8 {
		t.Errorf("augur_failure_probability: %d series, want the 8 demo hosts", len(v))
	}

	if v := vector(`count(augur_input)`); len(v) != 1 || v[0].Value != 24 {
		t.Errorf("count(augur_input) = %v, want the 24 demo series", v)
	}
	v := vector(`max by (host) (augur_failure_probability)`)
	if len(v) != 8 {
		t.Errorf("max by (host): %d hosts, want 8", len(v))
	}
	for _, s := range v {
		if len(s.Metric) != 1 || s.Value < 0 || s.Value > 1 {
			t.Errorf("max by (host): %v, want only the host label and a probability", s)
		}
	}
	if v := vector(`topk(3, augur_anomaly_score)`); len(v) != 3 {
		t.Errorf("topk(3, ...) = %v", v)
	}
	for _, q := range []string{`rate(augur_input[10m])`, `avg_over_time(augur_input[1h])`, `quantile_over_time(0.9, augur_anomaly_score[1h])`} {
		if v := vector(q); len(v) != 24 {
			t.Errorf("%s: %d series, want 24", q, len(v))
		}
	}
	for _, s := range vector(`augur_input > bool augur_baseline_upper`) {
		if s.Value != 0 && s.Value != 1 {
			t.Errorf("comparison with bool: %v", s)
		}
	}
	// The interval around the one-step forecast is never inverted, past or future.
	now := time.Now()
	r := v1.Range{Start: now.Add(-2 * time.Hour), End: now.Add(2 * time.Hour), Step: 5 * time.Minute}
	m, _, err := p.QueryRange(ctx, `augur_forecast_upper - augur_forecast_lower`, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.(model.Matrix)) != 24 {
		t.Errorf("upper - lower: %d series, want 24", len(m.(model.Matrix)))
	}
	for _, s := range m.(model.Matrix) {
		for _, sp := range s.Values {
			if sp.Value < 0 || math.IsNaN(float64(sp.Value)) {
				t.Errorf("%v at %v: upper - lower = %v", s.Metric, sp.Timestamp, sp.Value)
			}
		}
		if last := s.Values[len(s.Values)-1].Timestamp.Time(); last.Before(now.Add(time.Hour)) {
			t.Errorf("%v ends at %v, want the future up to %v", s.Metric, last, r.End)
		}
	}

	// Limits: Prometheus' error types.
	wantErr := func(q string, typ v1.ErrorType) {
		t.Helper()
		_, _, err := p.QueryRange(ctx, q, v1.Range{Start: now.Add(-48 * time.Hour), End: now, Step: time.Minute})
		var e *v1.Error
		if !errors.As(err, &e) || e.Type != typ {
			t.Errorf("%.60s: error %v, want %s", q, err, typ)
		}
	}
	wantErr(`augur_input`, v1.ErrExec)
	wantErr(`1`+strings.Repeat("+1", 3000), v1.ErrBadData)
	wantErr(`sum(augur_input`, v1.ErrBadData)
}

// waitEvaluated waits for augur's first evaluation to be in its TSDB: the
// first append after the fit writes the whole history (seconds on a busy
// machine), and the failure probabilities come last.
func waitEvaluated(t *testing.T, base string) {
	t.Helper()
	eventually(t, "the first evaluation in the TSDB", 3*time.Minute, func() bool {
		var env struct {
			Data struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape("augur_failure_probability"))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&env) == nil && len(env.Data.Result) > 0
	})
}
