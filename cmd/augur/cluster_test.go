package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/augur-sre/augur/cluster"
	"github.com/augur-sre/augur/internal/testservers"
)

// demoHosts is the embedded demo's fleet (config/demo.yml, entity "host").
var demoHosts = []string{"api-1", "api-2", "batch-1", "cache-1", "db-1", "db-2", "web-1", "web-2"}

// clusterArgs keep the replicas' start light: no calibration replay.
var clusterArgs = []string{"--calibration.replay=0", "--demo.start=2026-03-02T12:00:00Z"}

// metricsEntities returns the entities (values of label) whose failure
// probability a replica exports on /metrics, which Prometheus scraping
// every replica reads.
func metricsEntities(url, label string) []string {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var es []string
	for _, m := range regexp.MustCompile(`(?m)^augur_failure_probability\{[^}]*\b`+label+`="([^"]+)"`).FindAllStringSubmatch(string(b), -1) {
		es = append(es, m[1])
	}
	sort.Strings(es)
	return slices.Compact(es)
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

// servedOnce reports how the replicas' /metrics split the fleet (the
// entities' values of label): "" when each is exported by exactly one
// replica, or what is wrong.
func servedOnce(urls, fleet []string, label string) string {
	return split(owners(urls, func(u string) []string { return metricsEntities(u, label) }), fleet, urls, 1, false)
}

// owners returns, for each entity, the replicas that list it in
// entities(url).
func owners(urls []string, entities func(url string) []string) map[string][]string {
	own := map[string][]string{}
	for _, u := range urls {
		for _, e := range entities(u) {
			own[e] = append(own[e], u)
		}
	}
	return own
}

// split reports how the replicas share fleet: "" when each of its entities
// has rf owners and no other entity has one, and, when balanced, each
// replica owns rf/len(urls) of the fleet within ±30 %; or what is wrong.
func split(own map[string][]string, fleet, urls []string, rf int, balanced bool) string {
	var bad []string
	for _, e := range fleet {
		if len(own[e]) != rf {
			bad = append(bad, fmt.Sprintf("%s on %v", e, own[e]))
		}
	}
	if len(own) != len(fleet) {
		bad = append(bad, fmt.Sprintf("%d entities owned, want %d", len(own), len(fleet)))
	}
	if len(bad) > 5 {
		bad = append(bad[:5], fmt.Sprintf("and %d more", len(bad)-5))
	}
	share := map[string]int{}
	for _, us := range own {
		for _, u := range us {
			share[u]++
		}
	}
	want := float64(rf*len(fleet)) / float64(len(urls))
	for _, u := range urls {
		if balanced && math.Abs(float64(share[u])/want-1) > 0.3 {
			bad = append(bad, fmt.Sprintf("%s owns %d, not within 30 %% of %.0f", u, share[u], want))
		}
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
// entity of fleet (sorted) once, with no replica left out; with fitted,
// also that no warning is left (series awaiting their first fit are
// warned of).
func wholeFleet(url string, fleet []string, fitted bool) string {
	es, warns, err := failureEntities(url, "")
	leftOut := slices.ContainsFunc(warns, func(w string) bool { return strings.Contains(w, "left out") })
	switch {
	case err != nil:
		return err.Error()
	case leftOut || fitted && len(warns) > 0:
		return fmt.Sprintf("warnings %.500q", warns)
	case !slices.Equal(es, fleet):
		return fmt.Sprintf("%s answers %d entities, want the %d of the fleet: %.300v", url, len(es), len(fleet), es)
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
	settle(t, "each host exported by one shard", 90*time.Second, func() string { return servedOnce(urls, demoHosts, "host") })
	for _, u := range urls {
		local, _, err := failureEntities(u, "?local=true")
		if err != nil || len(local) == 0 || len(local) == len(demoHosts) {
			t.Errorf("%s owns %v (%v): want a strict share", u, local, err)
		}
		if msg := wholeFleet(u, demoHosts, false); msg != "" {
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

// TestClusterGossip runs three gossiping replicas on the demo and asks
// each the fleet's failures and PromQL over the ring. (A replica's death
// and return: TestClusterPrometheusFleet.)
func TestClusterGossip(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three replicas")
	}
	gossip := []string{freePort(t), freePort(t), freePort(t)}
	var urls []string
	for i, g := range gossip {
		args := append([]string{"--cluster.listen-address=" + g, fmt.Sprintf("--cluster.instance-id=augur-%d", i),
			"--cluster.heartbeat-interval=1s", "--cluster.heartbeat-timeout=3s"}, clusterArgs...)
		if i > 0 {
			args = append(args, "--cluster.peer="+gossip[0])
		}
		u, _, _ := startAugurAt(t, freePort(t), args...)
		urls = append(urls, u)
	}
	settle(t, "each host exported by one replica", 2*time.Minute, func() string { return servedOnce(urls, demoHosts, "host") })
	for _, u := range urls {
		if msg := wholeFleet(u, demoHosts, false); msg != "" {
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
}

// sumMetric adds the samples of the metric called name on a replica's
// /metrics, whatever their labels.
func sumMetric(t *testing.T, base, name string) float64 {
	var sum float64
	for _, line := range strings.Split(scrape(t, base), "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok && (strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "{")) {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("%s/metrics: %q: %v", base, line, err)
			}
			sum += v
		}
	}
	return sum
}

// promFleet backfills a real Prometheus with two days of memory and disk
// use at 5 m steps up to now for n hosts (instance host-i:9100), and
// returns it and the hosts' instances, sorted.
func promFleet(t *testing.T, n int) (*testservers.Prometheus, []string) {
	t.Helper()
	const step = 5 * time.Minute
	end := time.Now().Truncate(step)
	rng := rand.New(rand.NewPCG(13, 300))
	var series []testservers.Series
	var fleet []string
	for i := range n {
		inst := testservers.Instance(i)
		fleet = append(fleet, inst)
		for _, name := range []string{"node_memory_used_percent", "node_filesystem_used_percent"} {
			s := testservers.Series{Name: name, Labels: map[string]string{"instance": inst, "job": "node"}}
			base := 20 + float64(i%50)
			for tm := end.Add(-2 * day); !tm.After(end); tm = tm.Add(step) {
				s.T = append(s.T, tm.UnixMilli())
				s.V = append(s.V, math.Round(100*(base+5*math.Sin(2*math.Pi*tm.Sub(end).Hours()/24)+rng.NormFloat64()))/100)
			}
			series = append(series, s)
		}
	}
	sort.Strings(fleet)
	dir := t.TempDir()
	testservers.BackfillSeries(t, series, dir)
	return testservers.StartPrometheus(t, testservers.PrometheusOptions{DataDir: dir}), fleet
}

// TestClusterPrometheusFleet runs three gossiping replicas over one real
// Prometheus holding 300 hosts: with replication factor 1 each host has
// one owner, each replica about a third, and any replica answers for the
// fleet; a SIGKILLed replica's hosts are owned and served by the others,
// and given back when it restarts; with replication factor 2 each host
// has two owners.
func TestClusterPrometheusFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Prometheus and three replicas")
	}
	prom, fleet := promFleet(t, 300)
	cfg := filepath.Join(t.TempDir(), "augur.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `global: {step: 5m, history: 2d, evaluation_interval: 10s, horizon: 1h}
sources: [{name: prom, type: prometheus, url: %s}]
signals:
  - {name: memory, query: node_memory_used_percent, entity: instance, limit: 100}
  - {name: disk, query: node_filesystem_used_percent, entity: instance, limit: 100}
`, prom.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	gossip := []string{freePort(t), freePort(t), freePort(t)}
	var procs []*augurProc
	var urls []string
	for i, g := range gossip {
		// The second and third know the first, which knows the second.
		peer := gossip[0]
		if i == 0 {
			peer = gossip[1]
		}
		p := newAugurProc(t, freePort(t), t.TempDir(), "--config.file="+cfg, "--calibration.replay=0", "--cluster.listen-address="+g, "--cluster.peer="+peer,
			fmt.Sprintf("--cluster.instance-id=augur-%d", i), "--cluster.heartbeat-interval=1s", "--cluster.heartbeat-timeout=5s")
		procs, urls = append(procs, p), append(urls, p.base)
	}
	local := func(urls []string) map[string][]string {
		return owners(urls, func(u string) []string { es, _, _ := failureEntities(u, "?local=true"); return es })
	}
	answerFleet := func(urls []string) string {
		for _, u := range urls {
			if msg := wholeFleet(u, fleet, false); msg != "" {
				return msg
			}
		}
		return ""
	}

	// The second and third start before the first, as a StatefulSet's
	// pods may: each sees itself alone until the first is up.
	for _, p := range procs[1:] {
		p.start()
		eventually(t, p.base+" healthy", time.Minute, func() bool { return status(t, p.base+"/-/healthy") == 200 })
	}
	procs[0].start()
	settle(t, "each host owned by one replica, a third each, and exported by it", 3*time.Minute, func() string {
		if msg := split(local(urls), fleet, urls, 1, true); msg != "" {
			return msg
		}
		return servedOnce(urls, fleet, "exported_instance")
	})
	settle(t, "every replica answers for the fleet", 30*time.Second, func() string { return answerFleet(urls) })
	split1 := local(urls)
	perReplica := map[string]int{}
	for _, us := range split1 {
		perReplica[us[0]]++
	}
	t.Logf("hosts per replica: %v", perReplica)
	for _, u := range urls {
		// Had one fetched while it saw itself alone, it would have
		// fitted the whole fleet's series.
		if n := sumMetric(t, u, "augur_fit_duration_seconds_count"); n > 0.75*2*float64(len(fleet)) {
			t.Errorf("%s fitted %g series, of the fleet's %d", u, n, 2*len(fleet))
		}
	}

	procs[2].kill()
	began := time.Now()
	survivors := urls[:2]
	// No goodbye: the survivors forget it after the heartbeat timeout,
	// fetch its hosts' history and serve them, warned of as warming up
	// until fitted.
	settle(t, "the killed replica's hosts owned, exported and served by the others", 2*time.Minute, func() string {
		if msg := split(local(survivors), fleet, survivors, 1, false); msg != "" {
			return msg
		}
		if msg := servedOnce(survivors, fleet, "exported_instance"); msg != "" {
			return "/metrics: " + msg
		}
		return answerFleet(survivors)
	})
	t.Logf("the killed replica's hosts served by the others %s after the kill", time.Since(began).Round(time.Second))
	settle(t, "the killed replica's hosts fitted", 3*time.Minute, func() string { return wholeFleet(survivors[1], fleet, true) })
	t.Logf("and fitted %s after it", time.Since(began).Round(time.Second))

	// Restarted with its tokens, it takes back the same hosts.
	procs[2].start()
	began = time.Now()
	settle(t, "the restarted replica owns its hosts again", 2*time.Minute, func() string {
		if msg := split(local(urls), fleet, urls, 1, true); msg != "" {
			return msg
		}
		if now := local(urls); !maps.EqualFunc(now, split1, slices.Equal) {
			return "ownership differs from before the kill"
		}
		return answerFleet(urls)
	})
	// The survivors count what they gave back at once.
	for _, u := range urls {
		if n, want := sumMetric(t, u, "augur_series"), 2*perReplica[u]; n != float64(want) {
			t.Errorf("%s: augur_series %g, want %d for its %d hosts", u, n, want, perReplica[u])
		}
	}
	t.Logf("rejoined and rebalanced %s after the restart", time.Since(began).Round(time.Second))

	for _, p := range procs {
		p.stop()
	}
	for _, p := range procs {
		p.start("--cluster.replication-factor=2")
	}
	settle(t, "each host owned by two replicas", 3*time.Minute, func() string { return split(local(urls), fleet, urls, 2, true) })
	settle(t, "every replica answers for the fleet, each host once", 30*time.Second, func() string { return answerFleet(urls) })
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

// amNotification is what an Alertmanager webhook receiver gets.
type amNotification struct {
	GroupKey string `json:"groupKey"`
	Status   string `json:"status"`
	Alerts   []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// TestClusterAlertmanagerDedup runs two replicas with replication factor
// 2, both owners of every host, alerting one real Alertmanager, which
// notifies a counting receiver and the first replica's webhook: both
// replicas fire FailurePredicted for the leaking cache-1, Alertmanager
// holds one alert of it and notifies it once, and the incident that
// notification makes at the first replica is listed by the second.
func TestClusterAlertmanagerDedup(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two replicas and Alertmanager for minutes")
	}
	var mu sync.Mutex
	var got []amNotification
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n amNotification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	}))
	defer sink.Close()
	addrs, gossip := []string{freePort(t), freePort(t)}, []string{freePort(t), freePort(t)}
	// A group_interval short enough that a second, differently labelled
	// alert of cache-1 would be notified within the test.
	am := testservers.StartAlertmanager(t, fmt.Sprintf(`
route:
  receiver: sink
  group_by: [alertname, host]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: sink
    webhook_configs:
      - url: %s
      - url: http://%s/api/v1/alertmanager/webhook
`, sink.URL, addrs[0]))
	cfg := demoAlertingConfig(t, t.TempDir(), "augur.yml", am.URL, 0.5)
	var urls []string
	for i := range addrs {
		// Each its own external URL, as replicas behind their own
		// hostnames: generatorURL differs, the labels must not.
		args := []string{"--config.file=" + cfg, "--calibration.replay=0", "--cluster.listen-address=" + gossip[i], fmt.Sprintf("--cluster.instance-id=augur-%d", i),
			"--cluster.replication-factor=2", "--cluster.heartbeat-interval=1s", "--cluster.heartbeat-timeout=3s", fmt.Sprintf("--web.external-url=http://augur-%d:9477", i)}
		if i > 0 {
			args = append(args, "--cluster.peer="+gossip[0])
		}
		u, _, _ := startAugurAt(t, addrs[i], args...)
		urls = append(urls, u)
	}
	settle(t, "both replicas own cache-1", time.Minute, func() string {
		for _, u := range urls {
			if local, _, _ := failureEntities(u, "?local=true"); !slices.Contains(local, "cache-1") {
				return fmt.Sprintf("%s owns %v", u, local)
			}
		}
		return ""
	})
	firing := func(u string) bool {
		var own struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		}
		get(t, u+"/api/v1/alerts", &own)
		return slices.ContainsFunc(own.Alerts, func(a struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		}) bool {
			return a.Labels["alertname"] == "FailurePredicted" && a.Labels["host"] == "cache-1" && a.State == "firing"
		})
	}
	began := time.Now()
	eventually(t, "both replicas fire FailurePredicted for cache-1", 4*time.Minute, func() bool { return firing(urls[0]) && firing(urls[1]) })
	t.Logf("both replicas fire after %s", time.Since(began).Round(time.Second))
	sent := regexp.MustCompile(`(?m)^augur_notifications_sent_total(\{[^}]*\})? [1-9]`)
	for _, u := range urls {
		if !sent.MatchString(scrape(t, u)) {
			t.Errorf("%s sent no alert to Alertmanager", u)
		}
	}
	// Both replicas' alerts reach Alertmanager at once when they fire;
	// three group intervals let a duplicate be notified.
	time.Sleep(15 * time.Second)
	if fp := amtoolAlerts(t, am.URL, "alertname=FailurePredicted", "host=cache-1"); len(fp) != 1 {
		t.Errorf("Alertmanager holds %d FailurePredicted alerts of cache-1, want 1: %+v", len(fp), fp)
	}
	mu.Lock()
	var groups []amNotification
	for _, n := range got {
		for _, a := range n.Alerts {
			if a.Labels["alertname"] == "FailurePredicted" && a.Labels["host"] == "cache-1" {
				groups = append(groups, n)
				break
			}
		}
	}
	mu.Unlock()
	t.Logf("the receiver got %d notifications, %d of FailurePredicted for cache-1", len(got), len(groups))
	if len(groups) != 1 || len(groups[0].Alerts) != 1 || groups[0].Status != "firing" {
		t.Errorf("FailurePredicted of cache-1 notified %d times, want once with one alert: %+v", len(groups), groups)
	}
	settle(t, "the second replica lists the incident posted to the first", 30*time.Second, func() string {
		for _, in := range incidents(t, urls[1]) {
			if in.Name == "FailurePredicted" && in.Entity == "cache-1" && in.Source == "augur" {
				return ""
			}
		}
		return "not listed"
	})
}
