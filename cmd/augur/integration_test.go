package main

// End-to-end tests of issue 7 with the real programs: promtool against
// augur's Prometheus API, a real Alertmanager receiving augur's alerts and
// posting them back to augur's webhook and durability across SIGKILL (the
// Grafana dashboard's queries are in grafana_test.go).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/augur-sre/augur/internal/testservers"
)

// waitReady polls /-/ready until augur has fitted its models.
func waitReady(t *testing.T, base string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("augur at %s not ready within %s", base, timeout)
}

// eventually polls ok until it holds (testservers.Eventually).
var eventually = testservers.Eventually

func TestPromtool(t *testing.T) {
	if testing.Short() {
		t.Skip("runs augur and promtool")
	}
	promtool := testservers.Binary(t, "promtool")
	base := startAugur(t)
	waitReady(t, base, 60*time.Second)
	waitEvaluated(t, base)
	now := time.Now()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"query", "instant", base, "augur_failure_probability"}, []string{`augur_failure_probability{horizon="1h", host="cache-1"} =>`, `host="batch-1"`}},
		{[]string{"query", "instant", base, "1+1"}, []string{"2 @"}},
		{[]string{"query", "instant", "-o", "json", base, `augur_anomaly_score{host="db-1"}`}, []string{`"signal":"connections"`, `"signal":"cpu"`, `"signal":"memory"`}},
		{[]string{"query", "range", "--start=" + now.Add(-time.Hour).Format(time.RFC3339), "--end=" + now.Add(time.Hour).Format(time.RFC3339), "--step=5m", base, `augur_forecast_upper{host="cache-1",signal="memory"}`},
			[]string{`augur_forecast_upper{host="cache-1", role="cache", signal="memory"} =>`}},
		{[]string{"query", "labels", base, "host"}, []string{"cache-1", "web-2", "batch-1"}},
		{[]string{"query", "series", "--match=augur_failure_probability", base}, []string{`{__name__="augur_failure_probability", horizon="1h", host="cache-1"}`}},
		{[]string{"query", "series", "--match=" + `augur_time_to_limit_seconds{host="cache-1",signal="memory"}`, base}, []string{`quantile="0.5"`}},
		// Real PromQL: functions, aggregations, vector matching, subqueries.
		{[]string{"query", "instant", base, `max by (host) (augur_failure_probability)`}, []string{`{host="cache-1"} =>`, `{host="batch-1"} =>`}},
		{[]string{"query", "instant", base, `topk(1, augur_failure_probability)`}, []string{`augur_failure_probability{horizon="1h", host="cache-1"} =>`}},
		{[]string{"query", "instant", base, `count by (signal) (augur_input > bool augur_baseline_upper)`}, []string{`{signal="cpu"} =>`, `{signal="memory"} =>`}},
		{[]string{"query", "instant", base, `quantile_over_time(0.5, augur_input{host="db-1",signal="cpu"}[1h]) - avg_over_time(augur_forecast{host="db-1",signal="cpu"}[1h])`}, []string{`{host="db-1", role="db", signal="cpu"} =>`}},
		{[]string{"query", "instant", base, `sum(rate(augur_input{signal="cpu"}[10m])) by (role)`}, []string{`{role="cache"} =>`, `{role="web"} =>`}},
		{[]string{"query", "range", "--start=" + now.Add(-time.Hour).Format(time.RFC3339), "--end=" + now.Add(time.Hour).Format(time.RFC3339), "--step=5m", base, `max_over_time(augur_forecast_upper{host="cache-1",signal="memory"}[15m:5m])`},
			[]string{`{host="cache-1", role="cache", signal="memory"} =>`}},
	} {
		out, err := exec.Command(promtool, tc.args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("promtool %s: output lacks %s:\n%.2000s", strings.Join(tc.args, " "), w, out)
			}
		}
	}
	// A syntax error: promtool reports augur's bad_data error.
	out, err := exec.Command(promtool, "query", "instant", base, "sum(augur_input").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "bad_data") {
		t.Errorf("promtool with a syntax error: err %v, output %s; want bad_data", err, out)
	}
}

// augurProc is augur serve on a fixed address and storage folder, so it can
// be killed and started again as the same service.
type augurProc struct {
	t       *testing.T
	args    []string
	base    string
	logPath string
	cmd     *exec.Cmd
}

func newAugurProc(t *testing.T, addr, storage string, args ...string) *augurProc {
	p := &augurProc{t: t, base: "http://" + addr, logPath: filepath.Join(t.TempDir(), "augur.log"),
		args: append([]string{"serve", "--web.listen-address=" + addr, "--storage.path=" + storage}, args...)}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			b, _ := os.ReadFile(p.logPath)
			t.Logf("augur log:\n%s", b)
		}
	})
	return p
}

func (p *augurProc) start(extra ...string) {
	p.t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	p.cmd = exec.Command(augurBinary, append(append([]string(nil), p.args...), extra...)...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); logf.Close() }(p.cmd)
}

func (p *augurProc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		for i := 0; i < 100 && p.cmd.ProcessState == nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		p.cmd = nil
	}
}

func (p *augurProc) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(os.Interrupt)
		for i := 0; i < 500 && p.cmd.ProcessState == nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		p.kill()
	}
}

type incident struct {
	Entity string    `json:"entity"`
	Name   string    `json:"name"`
	Source string    `json:"source"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

func incidents(t *testing.T, base string) []incident {
	var out []incident
	get(t, base+"/api/v1/incidents", &out)
	return out
}

type amAlert struct {
	Labels map[string]string `json:"labels"`
	Status struct {
		State string `json:"state"`
	} `json:"status"`
	GeneratorURL string    `json:"generatorURL"`
	EndsAt       time.Time `json:"endsAt"`
}

// amtoolAlerts lists Alertmanager's alerts with amtool.
func amtoolAlerts(t *testing.T, amURL string, matchers ...string) []amAlert {
	t.Helper()
	args := append([]string{"--alertmanager.url=" + amURL, "-o", "json", "alert", "query"}, matchers...)
	out, err := exec.Command(testservers.Binary(t, "amtool"), args...).Output()
	if err != nil {
		t.Fatalf("amtool %v: %v", args, err)
	}
	var got []amAlert
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("amtool output: %v\n%s", err, out)
	}
	return got
}

// demoAlertingConfig writes to dir/name the demo's configuration with a
// short for, threshold, and the Alertmanager at amURL, and returns its path.
func demoAlertingConfig(t *testing.T, dir, name, amURL string, threshold float64) string {
	t.Helper()
	demo, err := exec.Command(augurBinary, "serve", "--config.print").Output()
	if err != nil {
		t.Fatal(err)
	}
	cfg := regexp.MustCompile(`(?m)^alerting:\n(\s+.*\n)+`).ReplaceAllString(string(demo),
		fmt.Sprintf("alerting:\n  failure_threshold: %v\n  for: 5s\n  alertmanagers:\n    - url: %s\n", threshold, amURL))
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAlertmanagerRoundTrip runs augur with a real Alertmanager that routes
// augur's alerts back to augur's webhook (bearer token), kills augur with
// SIGKILL right after acknowledged webhooks, and checks every acknowledged
// incident survives, then that a cleared condition resolves in Alertmanager.
func TestAlertmanagerRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("runs augur and Alertmanager for minutes")
	}
	dir := t.TempDir()
	addr := freePort(t)
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("am-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	am := testservers.StartAlertmanager(t, fmt.Sprintf(`
route:
  receiver: augur
  group_by: [alertname, host, signal]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: augur
    webhook_configs:
      - url: http://%s/api/v1/alertmanager/webhook
        send_resolved: true
        http_config:
          authorization:
            credentials: am-s3cret
`, addr))

	// The demo with a short for, a threshold the leaking cache-1 exceeds,
	// and the Alertmanager.
	writeConfig := func(name string, threshold float64) string {
		return demoAlertingConfig(t, dir, name, am.URL, threshold)
	}
	firing := writeConfig("firing.yml", 0.5)
	storage := filepath.Join(dir, "data")
	// No calibration replay: the test needs the leak's uncalibrated
	// probability above the threshold, not whatever the replay learns.
	p := newAugurProc(t, addr, storage, "--webhook.bearer-token-file="+token, "--web.external-url=http://augur.test:9477", "--calibration.replay=0")
	p.start("--config.file=" + firing)
	waitReady(t, p.base, 60*time.Second)

	// augur fires FailurePredicted for cache-1; Alertmanager shows it.
	var fp amAlert
	eventually(t, "Alertmanager shows FailurePredicted for cache-1", 3*time.Minute, func() bool {
		got := amtoolAlerts(t, am.URL, "alertname=FailurePredicted", "host=cache-1")
		if len(got) > 0 {
			fp = got[0]
		}
		return len(got) > 0
	})
	if fp.Labels["severity"] == "" || !strings.HasPrefix(fp.GeneratorURL, "http://augur.test:9477/api/v1/query?query=") {
		t.Errorf("alert in Alertmanager: %+v", fp)
	}
	if u, err := url.Parse(fp.GeneratorURL); err == nil {
		var v json.RawMessage
		if code := get(t, p.base+"/api/v1/query?query="+url.QueryEscape(u.Query().Get("query")), &v); code != 200 || !strings.Contains(string(v), "cache-1") {
			t.Errorf("generatorURL's query %q: status %d, %s", u.Query().Get("query"), code, v)
		}
	}
	// augur's own Prometheus-style /api/v1/alerts lists it as firing.
	var own struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	get(t, p.base+"/api/v1/alerts", &own)
	listed := false
	for _, a := range own.Alerts {
		listed = listed || (a.Labels["alertname"] == "FailurePredicted" && a.Labels["host"] == "cache-1" && a.State == "firing")
	}
	if !listed {
		t.Errorf("/api/v1/alerts does not list the firing FailurePredicted for cache-1: %+v", own.Alerts)
	}

	// Alertmanager routes it to augur's webhook: an incident of source augur.
	eventually(t, "augur lists its alert as an incident", 3*time.Minute, func() bool {
		for _, in := range incidents(t, p.base) {
			if in.Name == "FailurePredicted" && in.Entity == "cache-1" && in.Source == "augur" {
				return true
			}
		}
		return false
	})

	// Unauthenticated posts are refused.
	resp, err := http.Post(p.base+"/api/v1/alertmanager/webhook", "application/json", strings.NewReader(`{"alerts":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("webhook without the token: status %d, want 401", resp.StatusCode)
	}

	// Acknowledged webhooks survive SIGKILL.
	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	for i := range 20 {
		body := fmt.Sprintf(`{"version":"4","status":"firing","receiver":"augur","alerts":[{"status":"firing","labels":{"alertname":"DiskFull","host":"db-%d"},"startsAt":%q,"endsAt":"0001-01-01T00:00:00Z","fingerprint":"%016x"}]}`, i, start.Format(time.RFC3339), i+1)
		req, _ := http.NewRequest("POST", p.base+"/api/v1/alertmanager/webhook", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer am-s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"stored":1`)) {
			t.Fatalf("webhook %d: status %d %s", i, resp.StatusCode, b)
		}
	}
	p.kill()

	// Restart with a threshold cache-1 does not reach: the condition has
	// cleared, and the restored firing alert resolves.
	// The condition clears for good: without its memory signal, whose
	// leak raised the alert, cache-1 has nothing near a limit.
	cleared := writeConfig("cleared.yml", 0.9999)
	b, err := os.ReadFile(cleared)
	if err != nil {
		t.Fatal(err)
	}
	noMemory := regexp.MustCompile(`(?m)^(\s*)- name: memory\n(\s+\w+: .*\n)+`).ReplaceAllString(string(b), "")
	if noMemory == string(b) {
		t.Fatalf("cannot drop the memory signal from:\n%s", b)
	}
	if err := os.WriteFile(cleared, []byte(noMemory), 0o644); err != nil {
		t.Fatal(err)
	}
	p.start("--config.file=" + cleared)
	waitReady(t, p.base, 60*time.Second)
	eventually(t, "every acknowledged incident is back after SIGKILL", 2*time.Minute, func() bool {
		n := 0
		for _, in := range incidents(t, p.base) {
			if in.Name == "DiskFull" && in.Source == "alertmanager" {
				n++
			}
		}
		return n == 20
	})
	eventually(t, "FailurePredicted for cache-1 resolves in Alertmanager", 2*time.Minute, func() bool {
		return len(amtoolAlerts(t, am.URL, "alertname=FailurePredicted", "host=cache-1")) == 0
	})
	eventually(t, "the resolved notification ends augur's incident", 2*time.Minute, func() bool {
		for _, in := range incidents(t, p.base) {
			if in.Name == "FailurePredicted" && in.Entity == "cache-1" && !in.End.IsZero() && in.End.Year() > 1 {
				return true
			}
		}
		return false
	})
}
