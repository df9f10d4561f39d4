package main

import (
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRestartResumesFromSnapshot stops augur gracefully once its replay has
// learnt a calibration, starts it again on the same --storage.path, and
// checks it resumes from the snapshot: calibrated as soon as it is ready,
// with the entity channels the replay warmed up scoring every entity,
// without replaying the past again and without fitting a series: their
// models come from the models file.
func TestRestartResumesFromSnapshot(t *testing.T) {
	storage := t.TempDir()
	logs := t.TempDir()
	run := func(name string) (string, *exec.Cmd) {
		addr := freePort(t)
		cmd := exec.Command(augurBinary, "serve", "--web.listen-address="+addr, "--storage.path="+storage, "--demo.start=2026-01-19T03:30:00Z")
		f, err := os.Create(filepath.Join(logs, name))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return "http://" + addr, cmd
	}
	type targets struct {
		Ready       bool `json:"ready"`
		Calibration struct {
			Examples int  `json:"examples"`
			Prior    bool `json:"prior"`
		} `json:"calibration"`
	}
	calibrated := func(base string) (tg targets) {
		get(t, base+"/api/v1/targets", &tg)
		return tg
	}
	waitCalibrated := func(base string, within time.Duration) targets {
		eventually(t, base+" calibrated", within, func() bool { tg := calibrated(base); return tg.Ready && !tg.Calibration.Prior })
		return calibrated(base)
	}

	// scored counts the entities whose multivariate channel scores: a cold
	// one scores 0 for its first 500 evaluations.
	scored := func(base string) int {
		var f struct {
			Entities []struct {
				EntityScore float64 `json:"entity_score"`
			} `json:"entities"`
		}
		get(t, base+"/api/v1/failures", &f)
		n := 0
		for _, e := range f.Entities {
			if e.EntityScore > 0 {
				n++
			}
		}
		return n
	}

	base, first := run("first.log")
	waitReady(t, base, 30*time.Second)
	// The replay of twelve days takes a minute or two on two loaded cores;
	// its speed is not what this test checks.
	before := waitCalibrated(base, 5*time.Minute)
	// The State after the replay's adoption carries its channels.
	eventually(t, base+" entity channels scoring", time.Minute, func() bool { return scored(base) == 8 })
	if err := first.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}

	base, _ = run("second.log")
	waitReady(t, base, 30*time.Second)
	after := waitCalibrated(base, 10*time.Second)
	if n := scored(base); n != 8 {
		t.Errorf("after the restart %d of 8 entities' channels score, want the 8 the snapshot holds", n)
	}
	if after.Calibration.Examples != before.Calibration.Examples {
		t.Errorf("calibration after restart from %d examples, want the %d saved", after.Calibration.Examples, before.Calibration.Examples)
	}
	log, _ := os.ReadFile(filepath.Join(logs, "second.log"))
	if !strings.Contains(string(log), "resuming from snapshot") || strings.Contains(string(log), "replaying the past") {
		t.Errorf("second start did not resume from the snapshot:\n%s", log)
	}
	// Every series' models come from the models file: none is fitted.
	if !regexp.MustCompile(`msg="installing models from the models file".* series=24 to_fit=0\n`).Match(log) {
		t.Errorf("second start did not install the 24 series' models from the models file:\n%s", log)
	}
}

// TestTSDBSurvivesKill checks that what augur wrote to its embedded TSDB,
// the inputs and the past one-step forecasts among them, is there after a
// SIGKILL: a second start on the same --storage.path at the same demo
// present, configured with a history of two hours so that it asks the
// source for no more than that, serves the same six hours of samples: they
// can only come from the TSDB.
func TestTSDBSurvivesKill(t *testing.T) {
	storage := t.TempDir()
	const anchor = "2026-01-19T03:30:00Z"
	present, _ := time.Parse(time.RFC3339, anchor)
	demo, err := exec.Command(augurBinary, "serve", "--config.print").Output()
	if err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(t.TempDir(), "short.yml")
	if err := os.WriteFile(short, []byte(strings.Replace(string(demo), "history: 2w", "history: 2h", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := func(extra ...string) (string, *exec.Cmd) {
		addr := freePort(t)
		args := append([]string{"serve", "--web.listen-address=" + addr, "--storage.path=" + storage, "--demo.start=" + anchor, "--calibration.replay=0"}, extra...)
		cmd := exec.Command(augurBinary, args...)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return "http://" + addr, cmd
	}
	// samples counts the samples of each metric over the six hours before
	// the present for one series.
	samples := func(base string) map[string]int {
		out := map[string]int{}
		for _, m := range []string{"augur_input", "augur_forecast", "augur_forecast_upper", "augur_anomaly_score"} {
			var data struct {
				Result []struct {
					Values [][2]any `json:"values"`
				} `json:"result"`
			}
			q := url.Values{"query": {m + `{host="web-1",signal="cpu"}`}, "start": {fmt.Sprint(present.Add(-6 * time.Hour).Unix())}, "end": {fmt.Sprint(present.Add(-time.Minute).Unix())}, "step": {"60"}}
			if status := get(t, base+"/api/v1/query_range?"+q.Encode(), &data); status != 200 || len(data.Result) != 1 {
				t.Fatalf("%s: status %d, %d series", m, status, len(data.Result))
			}
			out[m] = len(data.Result[0].Values)
		}
		return out
	}
	base, first := start()
	waitReady(t, base, 2*time.Minute)
	before := samples(base)
	for m, n := range before {
		if n < 350 {
			t.Errorf("before the kill: %d samples of %s in six hours, want about 360", n, m)
		}
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	base, _ = start("--config.file=" + short)
	waitReady(t, base, 2*time.Minute)
	if after := samples(base); !maps.Equal(after, before) {
		t.Errorf("after SIGKILL and a restart: %v samples, want the %v written before", after, before)
	}
}
