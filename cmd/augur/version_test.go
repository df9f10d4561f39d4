package main

import (
	"strings"
	"testing"
)

// TestVersion: `augur version` and /api/v1/status/buildinfo give the one
// version set at build time (TestMain sets it as a release build does).
func TestVersion(t *testing.T) {
	out, err := execAugur(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "augur, version "+testVersion+" (") {
		t.Errorf("augur version:\n%s\nwant version %s", out, testVersion)
	}
	var info map[string]string
	if code := get(t, startAugur(t)+"/api/v1/status/buildinfo", &info); code != 200 {
		t.Fatalf("buildinfo: %d", code)
	}
	if info["version"] != testVersion || !strings.Contains(out, "revision: "+info["revision"]+")") {
		t.Errorf("buildinfo %v, augur version:\n%s", info, out)
	}
}
