package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/augur-sre/augur/history"
	"github.com/augur-sre/augur/internal/testservers"
)

// remoteWriteConfig is the demo fleet at a 5 s step, its series labelled
// job and instance by entity relabelling as a Prometheus source's are, so
// that augur's outputs carry exported_job and exported_instance, and
// remote-written to url with an external label.
const remoteWriteConfig = `global:
  step: 5s
  history: 1d
  evaluation_interval: 5s
  horizon: 10m
  external_labels: {replica: a}
  entity_relabel_configs:
    - {source_labels: [host], target_label: instance, replacement: '$1:9100'}
    - {target_label: job, replacement: node}
sources:
  - {name: demo, type: demo, hosts: 2}
signals:
  - {name: cpu, query: cpu, entity: host, limit: 100}
  - {name: memory, query: memory, entity: host, limit: 100}
remote_write:
  - url: %s/api/v1/write
    queue_config: {max_backoff: 1s}
    write_relabel_configs:   # a replace rule that changes nothing
      - {source_labels: [signal], target_label: signal}
`

// TestRemoteWrite runs augur with remote_write to a real Prometheus with
// its remote-write receiver on, restarts augur on the same storage, stops
// the receiver for two minutes (skipped under -short), and compares at the
// end every sample the receiver holds with augur's own TSDB, opened once
// augur has stopped: the same series (with replica="a", exported_job and
// exported_instance, and no augur_input), the same values, none the
// receiver refused, and every sample newer than augur's first start but
// those of the restart's gap (which a queue, as Prometheus', does not send:
// it sends what is newer than its start).
func TestRemoteWrite(t *testing.T) {
	prom := testservers.StartPrometheus(t, testservers.PrometheusOptions{Args: []string{"--web.enable-remote-write-receiver"}})
	cfg := filepath.Join(t.TempDir(), "augur.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(remoteWriteConfig, prom.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	storage := t.TempDir()
	// run starts augur and returns when it answers: its queues start
	// before its web server, so a sample newer than that is newer than
	// the queue's start.
	run := func() (base string, proc *os.Process, started time.Time) {
		base, _, proc = startAugurAt(t, freePort(t), "--config.file="+cfg, "--storage.path="+storage, "--calibration.replay=0")
		return base, proc, time.Now()
	}
	// stop stops augur gracefully and waits until it has exited.
	stop := func(proc *os.Process) {
		t.Helper()
		if err := proc.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		eventually(t, "augur stopped", time.Minute, func() bool { return proc.Signal(syscall.Signal(0)) != nil })
	}
	// newest is the time of the newest sample of an augur or receiver.
	newest := func(t *testing.T, base string) time.Time {
		t.Helper()
		var v struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		}
		get(t, base+"/api/v1/query?"+url.Values{"query": {`max(timestamp(augur_anomaly_score))`}}.Encode(), &v)
		if len(v.Result) != 1 {
			return time.Time{}
		}
		ts, _ := strconv.ParseFloat(v.Result[0].Value[1].(string), 64)
		return time.UnixMilli(int64(math.Round(ts * 1000)))
	}
	// received waits until the receiver holds a sample newer than after.
	received := func(what string, after time.Time) {
		t.Helper()
		// The demo's samples come a minute at a time.
		eventually(t, what, 3*time.Minute, func() bool { return newest(t, prom.URL).After(after) })
	}
	// sendCounters checks augur's queue failed, dropped nothing.
	sendCounters := func(base string) map[string]float64 {
		t.Helper()
		m := remoteStorageCounters(t, base+"/metrics", "prometheus_remote_storage_")
		for _, name := range []string{"prometheus_remote_storage_samples_failed_total", "prometheus_remote_storage_samples_dropped_total"} {
			if m[name] != 0 {
				t.Errorf("%s = %v, want 0", name, m[name])
			}
		}
		return m
	}
	// writeRequests checks the receiver refused no request (a 4xx: an
	// out-of-order or duplicate sample; a 503 while it starts is retried)
	// and returns how many it took.
	writeRequests := func() float64 {
		t.Helper()
		m := remoteStorageCounters(t, prom.URL+"/metrics", "prometheus_http_requests_total")
		for k, v := range m {
			if strings.Contains(k, `handler="/api/v1/write"`) && strings.Contains(k, `code="4`) && v > 0 {
				t.Errorf("receiver: %s = %v: it refused samples augur sent", k, v)
			}
		}
		return m[`prometheus_http_requests_total{code="204",handler="/api/v1/write"}`]
	}

	base, first, s1 := run()
	received("first samples", s1)
	sendCounters(base)
	// The demo's next minute is most of a minute away: what the first
	// augur has written when it stops is what it has written now.
	lastWritten := newest(t, base)
	stop(first)
	base, second, s2 := run()
	received("samples after the restart", s2)
	sendCounters(base)
	if writeRequests() == 0 {
		t.Fatal("the receiver took no write request")
	}

	var outage [2]time.Time
	t.Run("receiver outage", func(t *testing.T) {
		if testing.Short() {
			t.Skip("a two-minute outage")
		}
		if err := prom.Stop(); err != nil {
			t.Fatal(err)
		}
		outage[0] = time.Now()
		time.Sleep(2 * time.Minute)
		if err := prom.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		outage[1] = time.Now()
		received("samples after the outage", outage[1])
		if m := sendCounters(base); m["prometheus_remote_storage_samples_retried_total"] == 0 {
			t.Errorf("no sample retried across a two-minute outage of the receiver: %v", m)
		}
	})
	// What augur wrote in its last moments is sent at its graceful stop.
	writeRequests()
	stopped := time.Now()
	stop(second)
	time.Sleep(time.Second)

	got := receiverSamples(t, prom.URL, time.Since(s1)+time.Minute)
	want := tsdbSamples(t, storage, s1, stopped)
	// The restart's gap: samples for after the first augur's newest and
	// up to the second's start, which the second writes but its queue,
	// started after them, does not send.
	gapFrom, gapTo := lastWritten.UnixMilli(), s2.UnixMilli()
	var sent, missing, gap, duringOutage int
	for key, ws := range want {
		gs, ok := got[key]
		delete(got, key)
		if !ok {
			t.Errorf("series %s not in the receiver", key)
			continue
		}
		for ts, v := range ws {
			g, ok := gs[ts]
			switch {
			case ok && g != v && !(math.IsNaN(g) && math.IsNaN(v)):
				t.Errorf("%s at %s: the receiver has %v, augur wrote %v", key, time.UnixMilli(ts).UTC().Format(time.RFC3339), g, v)
			case ok:
				sent++
				if ts >= outage[0].UnixMilli() && ts <= outage[1].UnixMilli() {
					duringOutage++
				}
			case ts > gapFrom && ts <= gapTo:
				gap++
			default:
				missing++
				if missing <= 5 {
					t.Errorf("%s at %s: augur wrote %v, the receiver has nothing", key, time.UnixMilli(ts).UTC().Format(time.RFC3339), v)
				}
			}
			delete(gs, ts)
		}
		for ts, v := range gs {
			if ts > s1.UnixMilli() {
				t.Errorf("%s at %s: the receiver has %v, augur wrote nothing", key, time.UnixMilli(ts).UTC().Format(time.RFC3339), v)
			}
		}
	}
	for key := range got {
		t.Errorf("series %s in the receiver is not augur's", key)
	}
	t.Logf("%d series, %d samples sent and received (%d of them for the receiver's outage, %s to %s), %d missing, %d in the restart's gap",
		len(want), sent, duringOutage, outage[0].Format(time.TimeOnly), outage[1].Format(time.TimeOnly), missing, gap)
	if !outage[0].IsZero() && duringOutage == 0 {
		t.Error("no sample for the receiver's outage to compare")
	}
	if missing > 0 {
		t.Errorf("%d samples augur wrote are not in the receiver", missing)
	}
	if len(want) == 0 || sent == 0 {
		t.Fatalf("nothing to compare: %d series, %d samples", len(want), sent)
	}
}

// samples are the samples of series, by labels (the replica label left
// out) and timestamp.
type samples map[string]map[int64]float64

// receiverSamples returns every augur_ sample of the last span in the
// receiver, checking each series' labels: the external label, exported_job
// and exported_instance rather than job and instance, no augur_input.
func receiverSamples(t *testing.T, base string, span time.Duration) samples {
	t.Helper()
	var m struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	}
	q := fmt.Sprintf(`{__name__=~"augur_.+"}[%ds]`, int(span.Seconds()))
	if status := get(t, base+"/api/v1/query?"+url.Values{"query": {q}}.Encode(), &m); status != http.StatusOK {
		t.Fatalf("receiver: %s: status %d", q, status)
	}
	out := samples{}
	for _, s := range m.Result {
		l := s.Metric
		// A series' outputs carry its source labels, an entity's its
		// entity label alone.
		source := l["signal"] == "" || l["exported_job"] == "node" && l["exported_instance"] == l["host"]+":9100"
		if l["replica"] != "a" || !source || l["job"] != "" || l["instance"] != "" || l["__name__"] == "augur_input" || l["host"] == "" {
			t.Errorf("receiver: series %v: want replica=a and host, exported_job and exported_instance on a signal's series, no job, instance or augur_input", l)
		}
		delete(l, "replica")
		vs := map[int64]float64{}
		for _, p := range s.Values {
			ts := int64(math.Round(p[0].(float64) * 1000))
			v, err := strconv.ParseFloat(p[1].(string), 64)
			if err != nil {
				t.Fatal(err)
			}
			vs[ts] = v
		}
		out[labels.FromMap(l).String()] = vs
	}
	return out
}

// tsdbSamples returns the samples of augur's TSDB in (from, to] but those
// of augur_input, which augur does not send.
func tsdbSamples(t *testing.T, storage string, from, to time.Time) samples {
	t.Helper()
	db, err := history.Open(storage, history.Options{OutOfOrderWindow: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := db.Querier(from.UnixMilli()+1, to.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, "augur_.+"), labels.MustNewMatcher(labels.MatchNotEqual, labels.MetricName, "augur_input"))
	out := samples{}
	for set.Next() {
		s := set.At()
		vs := map[int64]float64{}
		it := s.Iterator(nil)
		for it.Next() != 0 {
			ts, v := it.At()
			vs[ts] = v
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		if len(vs) > 0 {
			out[s.Labels().String()] = vs
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var metricLineRE = regexp.MustCompile(`^(\S+) (\S+)$`)

// remoteStorageCounters returns the samples of the metrics at url whose
// names start with prefix, by series.
func remoteStorageCounters(t *testing.T, url, prefix string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		if s := metricLineRE.FindStringSubmatch(line); s != nil {
			v, _ := strconv.ParseFloat(s[2], 64)
			// A queue's metrics carry its remote_name and url: the
			// test runs one queue.
			name := s[1]
			if i := strings.Index(name, `{remote_name=`); i >= 0 {
				name = name[:i]
			}
			m[name] += v
		}
	}
	return m
}

// TestREADMERemoteWriteExample runs augur check config on the README's
// remote-write example, and on it broken the two ways the README shows.
func TestREADMERemoteWriteExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "**Remote write.**")
	_, block, ok2 := strings.Cut(section, "```yaml\n")
	example, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("no yaml block after **Remote write.** in the README")
	}
	check := func(yml, want string) {
		t.Helper()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "augur.yml"), []byte(yml), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := checkConfigOutput(t, dir, "--config.file=augur.yml")
		if !strings.Contains(out, want) {
			t.Errorf("augur check config (exit %v):\n%s\nwant %q", err, out, want)
		}
		if strings.HasPrefix(want, "augur.yml:") && !strings.Contains(string(readme), "`"+want+"`") {
			t.Errorf("the README does not show the problem as augur check config does: %s", want)
		}
	}
	check(example, "SUCCESS: 1 source, 1 signal, 3 remote_write endpoints")
	check(strings.Replace(example, "max_shards: 10", "max_shard: 10", 1), `augur.yml:17: remote_write[1].queue_config.max_shard: unknown field "max_shard"`)
	withToken := regexp.MustCompile(`(?m)^(    basic_auth: .*\n)`).ReplaceAllString(example, "${1}    bearer_token_file: /etc/augur/token\n")
	check(withToken, "augur.yml:17: remote_write[1].bearer_token_file: at most one of basic_auth, authorization, oauth2 and bearer_token_file may be set")
}
