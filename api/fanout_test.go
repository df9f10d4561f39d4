package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/augur-sre/augur/cluster"
	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/query"
)

// peers is a Cluster of fixed peers.
type peers []string

func (p peers) Peers() []string { return p }
func (p peers) Status(context.Context) (cluster.Status, error) {
	return cluster.Status{Mode: "static", Self: "0/1", ReplicationFactor: 1}, nil
}

// TestFanOut asks a replica whose peers are a real augur with the same
// entities (as with replication factor 2), a fault-injecting server that
// answers 500 and one that never answers: the answer holds every entity
// once, and one warning per failed peer, within the fan-out timeout.
func TestFanOut(t *testing.T) {
	e, reg, db := newDemoEngine(t)
	src := query.EngineSource{E: e}
	qo := query.Options{Storage: db, Forecaster: src, Incidents: src, Step: e.Step()}
	twin := httptest.NewServer(New(Options{Engine: e, Query: query.New(qo)}).Handler())
	defer twin.Close()
	var asked []string
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.RawQuery)
		http.Error(w, `{"status":"error","error":"injected fault"}`, http.StatusInternalServerError)
	}))
	defer failing.Close()
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hanging.Close()
	front := httptest.NewServer(New(Options{Engine: e, Registry: reg, Query: query.New(qo),
		Cluster: peers{twin.URL, failing.URL, hanging.URL}, FanoutTimeout: 2 * time.Second}).Handler())
	defer front.Close()

	type answer struct {
		Data struct {
			Horizon  string `json:"horizon"`
			Entities []struct {
				Entity string `json:"entity"`
			} `json:"entities"`
			Series []json.RawMessage `json:"series"`
		} `json:"data"`
		Warnings []string `json:"warnings"`
	}
	askBody := func(path string) []byte {
		t.Helper()
		began := time.Now()
		code, body := do(t, "GET", front.URL+path, "")
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		if d := time.Since(began); d > 5*time.Second {
			t.Errorf("%s took %s, more than the fan-out timeout allows", path, d)
		}
		var a struct{ Warnings []string }
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, w := range a.Warnings {
			if strings.Contains(w, "left out") {
				left = append(left, w)
			}
		}
		if len(left) != 2 || !strings.Contains(strings.Join(left, " "), "injected fault") || !strings.Contains(strings.Join(left, " "), hanging.URL) {
			t.Errorf("%s: warnings %q, want the failing and the hanging peer", path, a.Warnings)
		}
		return body
	}
	ask := func(path string) answer {
		t.Helper()
		var a answer
		if err := json.Unmarshal(askBody(path), &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := ask("/api/v1/failures")
	var es []string
	for _, x := range a.Data.Entities {
		es = append(es, x.Entity)
	}
	risks, _ := e.Failures(time.Hour)
	if len(es) != len(risks) || len(slices.Compact(slices.Sorted(slices.Values(es)))) != len(es) {
		t.Errorf("failures: %v, want the %d entities once each", es, len(risks))
	}
	if a.Data.Horizon != "1h" {
		t.Errorf("failures: horizon %q, want the answers' 1h beside the merged entities", a.Data.Horizon)
	}
	if len(asked) != 1 || !strings.Contains(asked[0], "local=true") {
		t.Errorf("the failing peer was asked %q, want once with local=true", asked)
	}
	if a := ask("/api/v1/capacity?sort=eta&limit=3"); len(a.Data.Series) != 3 {
		t.Errorf("capacity with limit=3: %d series", len(a.Data.Series))
	}
	// The forecast's data is the list itself.
	var fc struct {
		Data []struct {
			Labels map[string]string `json:"labels"`
		} `json:"data"`
	}
	if err := json.Unmarshal(askBody("/api/v1/forecast?horizon=10m"), &fc); err != nil {
		t.Fatal(err)
	}
	local, _ := e.Forecast(func(map[string]string) bool { return true }, 10*time.Minute, e.Step(), 0.95)
	var keys []string
	for _, f := range fc.Data {
		keys = append(keys, engine.LabelsKey(f.Labels))
	}
	if len(keys) != len(local) || len(local) == 0 || !slices.IsSorted(keys) || len(slices.Compact(slices.Clone(keys))) != len(keys) {
		t.Errorf("forecast: %d series %v, want the %d series once each, by labels", len(keys), keys, len(local))
	}
	// Asked as a peer, the replica answers for itself only, asking nobody.
	code, body := do(t, "GET", front.URL+"/api/v1/failures?local=true", "")
	if code != 200 || strings.Contains(string(body), "warnings") {
		t.Errorf("local: %d %s", code, body)
	}
}

// BenchmarkMergeFailures merges the /api/v1/failures answers of three
// replicas of 111 entities with three factors each, as a fan-out of a
// 333-host fleet does, and writes the merged answer.
func BenchmarkMergeFailures(b *testing.B) {
	var answers []json.RawMessage
	for r := range 3 {
		risks := benchRisks(111, func(i int) string { return fmt.Sprintf("host-%d", 3*i+r) })
		raw, err := wireJSON.Marshal(failuresData(time.Hour, time.Unix(1e9, 0), risks))
		if err != nil {
			b.Fatal(err)
		}
		answers = append(answers, raw)
	}
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/api/v1/failures", nil), httptest.NewRecorder())
	b.ReportAllocs()
	b.SetBytes(int64(len(answers[0]) * len(answers)))
	for b.Loop() {
		merged, err := mergeAnswers(answers, failuresList, c)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriter(io.Discard)
		if jw, ok := merged.(jsonWriter); ok {
			jw.writeJSON(w)
		} else if err := wireJSON.NewEncoder(w).Encode(merged); err != nil {
			b.Fatal(err)
		}
		w.Flush()
	}
}

// benchRisks returns n entities, named by host, with three factors each.
func benchRisks(n int, host func(i int) string) []engine.EntityRisk {
	var risks []engine.EntityRisk
	for i := range n {
		limit, p10, p50, p90 := 100.0, 3600.0, 7200.0, 14400.0
		e := engine.EntityRisk{Entity: host(i), EntityLabel: "host", FailureProbability: float64(i) / float64(n), Severity: "ok",
			ETASeconds: engine.Quantiles{P10: &p10, P50: &p50, P90: &p90}}
		for _, sig := range []string{"cpu", "memory", "connections"} {
			e.Factors = append(e.Factors, engine.Factor{Signal: sig, Labels: map[string]string{"host": e.Entity, "signal": sig}, Share: 0.3, Value: 42.5, Limit: &limit,
				Band: &engine.Band{Lower: 40, Upper: 45}, AnomalyScore: 0.12, EntityShare: 0.3, CrossingProbability: 0.01, ETASeconds: e.ETASeconds})
		}
		risks = append(risks, e)
	}
	return risks
}
