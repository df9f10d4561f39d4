package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRestartResumesFromSnapshot stops augur gracefully once its replay has
// learnt a calibration, starts it again on the same --storage.path, and
// checks it resumes from the snapshot: calibrated as soon as it is ready,
// without replaying the past again.
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

	base, first := run("first.log")
	waitReady(t, base, 30*time.Second)
	// The replay of twelve days takes a minute or two on two loaded cores;
	// its speed is not what this test checks.
	before := waitCalibrated(base, 5*time.Minute)
	if err := first.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}

	base, _ = run("second.log")
	waitReady(t, base, 30*time.Second)
	after := waitCalibrated(base, 10*time.Second)
	if after.Calibration.Examples != before.Calibration.Examples {
		t.Errorf("calibration after restart from %d examples, want the %d saved", after.Calibration.Examples, before.Calibration.Examples)
	}
	log, _ := os.ReadFile(filepath.Join(logs, "second.log"))
	if !strings.Contains(string(log), "resuming from snapshot") || strings.Contains(string(log), "replaying the past") {
		t.Errorf("second start did not resume from the snapshot:\n%s", log)
	}
}
