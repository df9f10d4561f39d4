package remotewrite

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/augur-sre/augur/history"
	"github.com/augur-sre/augur/internal/testservers"
)

// TestWriterSendsTSDBSamples appends samples to a TSDB after starting a
// Writer on it and checks that a real Prometheus receives them with the
// external label, but not those of an excluded metric.
func TestWriterSendsTSDBSamples(t *testing.T) {
	prom := testservers.StartPrometheus(t, testservers.PrometheusOptions{Args: []string{"--web.enable-remote-write-receiver"}})
	db, err := history.Open(t.TempDir(), history.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := url.Parse(prom.URL + "/api/v1/write")
	if err != nil {
		t.Fatal(err)
	}
	cfg := promconfig.DefaultRemoteWriteConfig
	cfg.URL = &commoncfg.URL{URL: u}
	w, err := New(Options{
		TSDBDir: db.Dir(), Configs: []*promconfig.RemoteWriteConfig{&cfg},
		ExternalLabels: labels.FromStrings("replica", "a"), Exclude: []string{"augur_input"},
		FlushDeadline: 10 * time.Second, Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	db.SetWriteNotified(w)

	// Newer than the queue's start, which sends nothing older.
	start := time.Now().Add(time.Second).UnixMilli()
	app := db.Appender(context.Background())
	for i := range int64(10) {
		for _, name := range []string{"augur_forecast", "augur_input"} {
			if _, err := app.Append(0, labels.FromStrings(labels.MetricName, name, "host", "a"), start+i*1000, float64(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	count := func(q string) string {
		resp, err := http.Get(prom.URL + "/api/v1/query?" + url.Values{"query": {q}, "time": {time.UnixMilli(start + 60_000).Format(time.RFC3339)}}.Encode())
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Result) != 1 {
			return ""
		}
		return r.Data.Result[0].Value[1].(string)
	}
	testservers.Eventually(t, "ten samples received", 30*time.Second, func() bool {
		return count(`count_over_time(augur_forecast{host="a",replica="a"}[2m])`) == "10"
	})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := count(`count_over_time({__name__=~"augur_.+",__name__!="augur_forecast"}[2m])`); n != "" {
		t.Errorf("the receiver has %s samples of other metrics: augur_input is excluded", n)
	}
}
