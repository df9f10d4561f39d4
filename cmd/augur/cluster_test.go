package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/augur-sre/augur/cluster"
)

// demoHosts is the embedded demo's fleet (config/demo.yml, entity "host").
var demoHosts = []string{"api-1", "api-2", "batch-1", "cache-1", "db-1", "db-2", "web-1", "web-2"}

// clusterArgs keep the replicas' start light: no calibration replay.
var clusterArgs = []string{"--calibration.replay=0", "--demo.start=2026-03-02T12:00:00Z"}

// metricsEntities returns the hosts whose failure probability a replica
// exports on /metrics, which Prometheus scraping every replica reads.
func metricsEntities(t *testing.T, url string) []string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var hosts []string
	for _, m := range regexp.MustCompile(`(?m)^augur_failure_probability\{[^}]*host="([^"]+)"`).FindAllStringSubmatch(string(b), -1) {
		hosts = append(hosts, m[1])
	}
	sort.Strings(hosts)
	return slices.Compact(hosts)
}

type failuresAnswer struct {
	Status string `json:"status"`
	Data   struct {
		Entities []struct {
			Entity string `json:"entity"`
		} `json:"entities"`
	} `json:"data"`
	Warnings []string `json:"warnings"`
}

// failureEntities returns the entities of a replica's /api/v1/failures
// (query is e.g. "?local=true"), sorted, and its warnings.
func failureEntities(url, query string) ([]string, []string, error) {
	resp, err := http.Get(url + "/api/v1/failures" + query)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var a failuresAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return nil, nil, err
	}
	if a.Status != "success" {
		return nil, nil, fmt.Errorf("status %s", a.Status)
	}
	var es []string
	for _, e := range a.Data.Entities {
		es = append(es, e.Entity)
	}
	sort.Strings(es)
	return es, a.Warnings, nil
}

// servedOnce reports how the replicas' /metrics split the fleet: "" when
// every demo host is exported by exactly one, or what is wrong.
func servedOnce(t *testing.T, urls []string) string {
	owners := map[string][]string{}
	for _, u := range urls {
		for _, h := range metricsEntities(t, u) {
			owners[h] = append(owners[h], u)
		}
	}
	var bad []string
	for _, h := range demoHosts {
		if len(owners[h]) != 1 {
			bad = append(bad, fmt.Sprintf("%s on %v", h, owners[h]))
		}
	}
	if len(owners) != len(demoHosts) {
		bad = append(bad, fmt.Sprintf("%d hosts exported, want %d", len(owners), len(demoHosts)))
	}
	return strings.Join(bad, "; ")
}

// settle waits until f answers "" (nothing wrong); if it never does, the
// test fails and logs f's last answer.
func settle(t *testing.T, what string, within time.Duration, f func() string) {
	t.Helper()
	var last string
	t.Cleanup(func() {
		if t.Failed() && last != "" {
			t.Logf("%s: last seen: %s", what, last)
		}
	})
	eventually(t, what, within, func() bool { last = f(); return last == "" })
}

// wholeFleet checks that a replica's /api/v1/failures answers for every
// demo host, with no replica left out; with fitted, also that no warning
// is left (series awaiting their first fit are warned of).
func wholeFleet(url string, fitted bool) string {
	es, warns, err := failureEntities(url, "")
	leftOut := slices.ContainsFunc(warns, func(w string) bool { return strings.Contains(w, "left out") })
	switch {
	case err != nil:
		return err.Error()
	case leftOut || fitted && len(warns) > 0:
		return fmt.Sprintf("warnings %q", warns)
	case !slices.Equal(es, demoHosts):
		return fmt.Sprintf("%s answers %v", url, es)
	}
	return ""
}

func TestClusterStaticShards(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two replicas")
	}
	addrs := []string{freePort(t), freePort(t)}
	var urls []string
	for i, a := range addrs {
		args := append([]string{fmt.Sprintf("--shard=%d/2", i), "--shard.peer-url=http://" + addrs[1-i]}, clusterArgs...)
		u, _, _ := startAugurAt(t, a, args...)
		urls = append(urls, u)
	}
	settle(t, "each host exported by one shard", 90*time.Second, func() string { return servedOnce(t, urls) })
	for _, u := range urls {
		local, _, err := failureEntities(u, "?local=true")
		if err != nil || len(local) == 0 || len(local) == len(demoHosts) {
			t.Errorf("%s owns %v (%v): want a strict share", u, local, err)
		}
		if msg := wholeFleet(u, false); msg != "" {
			t.Errorf("fan-out: %s", msg)
		}
	}
	var st struct {
		Mode    string `json:"mode"`
		Members []struct {
			Entities int  `json:"entities"`
			Self     bool `json:"self"`
		} `json:"members"`
	}
	if code := get(t, urls[0]+"/api/v1/status/cluster", &st); code != 200 || st.Mode != "static" || len(st.Members) != 2 ||
		st.Members[0].Entities+st.Members[1].Entities != len(demoHosts) || !st.Members[0].Self {
		t.Errorf("status/cluster: %d %+v", code, st)
	}
}

func TestClusterGossipTakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three replicas")
	}
	const timeout = 3 * time.Second
	gossip := []string{freePort(t), freePort(t), freePort(t)}
	var urls []string
	var procs []interface{ Kill() error }
	for i, g := range gossip {
		args := append([]string{"--cluster.listen-address=" + g, fmt.Sprintf("--cluster.instance-id=augur-%d", i),
			"--cluster.heartbeat-interval=1s", "--cluster.heartbeat-timeout=" + timeout.String()}, clusterArgs...)
		if i > 0 {
			args = append(args, "--cluster.peer="+gossip[0])
		}
		u, _, p := startAugurAt(t, freePort(t), args...)
		urls, procs = append(urls, u), append(procs, p)
	}
	settle(t, "each host exported by one replica", 2*time.Minute, func() string { return servedOnce(t, urls) })
	for _, u := range urls {
		if msg := wholeFleet(u, false); msg != "" {
			t.Errorf("fan-out: %s", msg)
		}
		// PromQL over the ring: every host's series once, though the
		// first replica, alone at its start, wrote the anchor's outputs
		// of hosts the others own now.
		code, a, err := ask(http.DefaultClient, "", "", u, "/api/v1/query", url.Values{"query": {`count(count by (host) (augur_failure_probability))`}, "time": {"2026-03-02T12:00:00Z"}})
		if want := fmt.Sprintf(`[{"metric":{},"value":[1772452800,"%d"]}]`, len(demoHosts)); err != nil || code != 200 || string(a.Data.Result) != want || len(a.Warnings) > 0 {
			t.Errorf("%s: hosts with a failure probability: %d %v %s %q, want %s", u, code, err, a.Data.Result, a.Warnings, want)
		}
		code, a, err = ask(http.DefaultClient, "", "", u, "/api/v1/query", url.Values{"query": {`count(augur_failure_probability)`}, "time": {"2026-03-02T12:00:00Z"}})
		if want := fmt.Sprintf(`[{"metric":{},"value":[1772452800,"%d"]}]`, len(demoHosts)); err != nil || code != 200 || string(a.Data.Result) != want {
			t.Errorf("%s: failure probability series: %d %v %s, want %s (each once)", u, code, err, a.Data.Result, want)
		}
	}

	// SIGKILL: no goodbye; the survivors forget it after the heartbeat
	// timeout, fetch its hosts' history and fit them.
	killed, _, _ := failureEntities(urls[2], "?local=true")
	if err := procs[2].Kill(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	survivors := urls[:2]
	settle(t, "the killed replica's hosts exported by a survivor", time.Minute, func() string { return servedOnce(t, survivors) })
	t.Logf("the %d hosts of the killed replica (%v) served again after %s", len(killed), killed, time.Since(began).Round(time.Second))
	settle(t, "fan-out after the kill", 10*time.Second, func() string { return wholeFleet(survivors[0], false) })
	settle(t, "the killed replica's hosts fitted", 4*time.Minute, func() string { return wholeFleet(survivors[1], true) })
	t.Logf("and fitted after %s", time.Since(began).Round(time.Second))
}

// TestClusterIncidents posts Alertmanager's notifications to the shard
// that does not own their entity: the owner lists them, also one posted
// while it was down and its receiver restarted in between.
func TestClusterIncidents(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two replicas")
	}
	addrs := []string{freePort(t), freePort(t)}
	var procs []*augurProc
	for i, a := range addrs {
		// A retention that keeps the demo's anchored past from pruning.
		p := newAugurProc(t, a, t.TempDir(), append([]string{fmt.Sprintf("--shard=%d/2", i), "--shard.peer-url=http://" + addrs[1-i], "--storage.incidents.retention=3650d"}, clusterArgs...)...)
		p.start()
		procs = append(procs, p)
	}
	receiver, owner := procs[0], procs[1]
	var host string // a host shard 1 owns
	for _, h := range demoHosts {
		if cluster.HashMod(h, 2) == 1 {
			host = h
		}
	}
	notify := func(fp string) {
		t.Helper()
		body := fmt.Sprintf(`{"version":"4","status":"firing","receiver":"augur","alerts":[{"status":"firing","labels":{"alertname":"DiskFull","host":%q,"fp":%q},"startsAt":"2026-03-02T11:00:00Z","fingerprint":%q}]}`, host, fp, fp)
		var resp *http.Response
		eventually(t, "the receiving shard acknowledges", 30*time.Second, func() bool {
			var err error
			resp, err = http.Post(receiver.base+"/api/v1/alertmanager/webhook", "application/json", strings.NewReader(body))
			return err == nil
		})
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook: status %d", resp.StatusCode)
		}
	}
	// listed is "" when base lists the DiskFull incidents of host once each,
	// want of them.
	listed := func(base string, want int) string {
		n := 0
		for _, in := range incidents(t, base) {
			if in.Name == "DiskFull" && in.Entity == host && in.Source == "alertmanager" {
				n++
			}
		}
		if n != want {
			return fmt.Sprintf("%s lists %d DiskFull incidents of %s, want %d", base, n, host, want)
		}
		return ""
	}
	posted := time.Now()
	notify("0000000000000001")
	settle(t, "the owner lists the incident", 30*time.Second, func() string { return listed(owner.base, 1) })
	t.Logf("posted to shard 0, listed by shard 1 (%s's owner) after %s", host, time.Since(posted).Round(100*time.Millisecond))

	// Posted while the owner is down, the receiver killed and restarted:
	// the owner reads it when it is back.
	owner.stop()
	notify("0000000000000002")
	receiver.kill()
	receiver.start()
	time.Sleep(incidentSyncInterval)
	owner.start()
	restarted := time.Now()
	settle(t, "the owner lists the incident posted while it was down", 30*time.Second, func() string { return listed(owner.base, 2) })
	t.Logf("the incident posted while the owner was down listed %s after its restart", time.Since(restarted).Round(100*time.Millisecond))
	if msg := listed(receiver.base, 2); msg != "" {
		t.Error(msg)
	}
}
