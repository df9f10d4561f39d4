package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/augur-sre/augur/internal/testservers"
)

// promAnswer is a Prometheus API answer with its result kept as sent.
type promAnswer struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
	Error    string   `json:"error"`
	Warnings []string `json:"warnings"`
}

// tlsReplicas are shards that serve TLS with basic auth and ask each other
// with --cluster.peer-http-config.file.
type tlsReplicas struct {
	client         *http.Client
	user, password string
	// httpConfig is the client configuration the replicas ask each other
	// with, which promtool reads too.
	httpConfig string
	webConfig  string
	caFile     string
}

func newTLSReplicas(t *testing.T) *tlsReplicas {
	t.Helper()
	files := testservers.NewTLSFiles(t)
	r := &tlsReplicas{user: "augur", password: "fleet-s3cret", caFile: files.CAFile}
	hash, err := bcrypt.GenerateFromPassword([]byte(r.password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r.webConfig, r.httpConfig = filepath.Join(dir, "web.yml"), filepath.Join(dir, "peers.yml")
	for path, text := range map[string]string{
		r.webConfig:  fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  %s: %s\n", files.CertFile, files.KeyFile, r.user, hash),
		r.httpConfig: fmt.Sprintf("basic_auth:\n  username: %s\n  password: %s\ntls_config:\n  ca_file: %s\n", r.user, r.password, files.CAFile),
	} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := os.ReadFile(files.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	r.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return r
}

// ask sends a Prometheus API request (url.Values as a form) and decodes
// the answer; the client sends the replicas' user, or none for a plain
// replica.
func ask(client *http.Client, user, password, base, path string, form url.Values) (int, promAnswer, error) {
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, promAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, promAnswer{}, err
	}
	defer resp.Body.Close()
	var a promAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return resp.StatusCode, a, err
	}
	return resp.StatusCode, a, nil
}

// TestClusterPromQL runs two shards over TLS with basic auth and a single
// unsharded augur on the same demo: PromQL aggregations asked of one
// shard are the fleet's, equal to the unsharded augur's (the shard
// evaluates them over its series and its peer's, read over remote read
// with the peer client configuration), promtool reads a shard as it reads
// Prometheus, and with one shard down the other answers its own part with
// a warning, never an error.
func TestClusterPromQL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three replicas")
	}
	promtool := testservers.Binary(t, "promtool")
	r := newTLSReplicas(t)
	whole, _, _ := startAugurAt(t, freePort(t), clusterArgs...)
	addrs := []string{freePort(t), freePort(t)}
	var shards []string
	var procs []*os.Process
	for i, a := range addrs {
		args := append([]string{fmt.Sprintf("--shard=%d/2", i), "--shard.peer-url=https://" + addrs[1-i],
			"--web.config.file=" + r.webConfig, "--cluster.peer-http-config.file=" + r.httpConfig, "--cluster.fanout-timeout=5s"}, clusterArgs...)
		_, _, p := startAugurAt(t, a, args...)
		shards, procs = append(shards, "https://"+a), append(procs, p)
	}
	// The demo's anchor: every replica's first evaluation, on the same
	// demo data, done once it is ready.
	at := "2026-03-02T12:00:00Z"
	for _, u := range append([]string{whole}, shards...) {
		settle(t, u+" ready", 2*time.Minute, func() string {
			req, _ := http.NewRequest(http.MethodGet, u+"/-/ready", nil)
			client := http.DefaultClient
			if u != whole {
				req.SetBasicAuth(r.user, r.password)
				client = r.client
			}
			resp, err := client.Do(req)
			if err != nil {
				return err.Error()
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return resp.Status
			}
			return ""
		})
	}
	queries := []string{
		`count by (signal) (augur_anomaly_score)`,
		`topk(3, augur_failure_probability)`,
		`avg(augur_anomaly_score)`,
		`count(augur_input)`,
		`range:sum by (host) (augur_anomaly_score)`,
	}
	asked := func(base, q string, local bool) (promAnswer, string) {
		form, path := url.Values{"query": {q}, "time": {at}}, "/api/v1/query"
		if strings.HasPrefix(q, "range:") {
			// The past the first fit wrote, at every step.
			form = url.Values{"query": {strings.TrimPrefix(q, "range:")}, "start": {"2026-03-02T11:50:00Z"}, "end": {at}, "step": {"60"}}
			path = "/api/v1/query_range"
		}
		client, user := r.client, r.user
		if base == whole {
			client, user = http.DefaultClient, ""
		}
		if local {
			form.Set("local", "true")
		}
		code, a, err := ask(client, user, r.password, base, path, form)
		if err != nil || code != http.StatusOK || a.Status != "success" {
			return a, fmt.Sprintf("%s %s: %d %v %s", base, q, code, err, a.Error)
		}
		return a, ""
	}
	for _, q := range queries {
		want, msg := asked(whole, q, false)
		if msg != "" || string(want.Data.Result) == "[]" {
			t.Fatalf("the unsharded augur: %s %s", msg, want.Data.Result)
		}
		for _, s := range shards {
			settle(t, q+" of a shard equals the unsharded augur's", time.Minute, func() string {
				got, msg := asked(s, q, false)
				switch {
				case msg != "":
					return msg
				case len(got.Warnings) > 0:
					return fmt.Sprintf("warnings %q", got.Warnings)
				case string(got.Data.Result) != string(want.Data.Result):
					return fmt.Sprintf("%s answers %s, the unsharded augur %s", s, got.Data.Result, want.Data.Result)
				}
				return ""
			})
		}
	}
	// Each shard's own part is a strict share.
	own := map[string]string{}
	for _, s := range shards {
		a, msg := asked(s, `count(augur_input)`, true)
		all, _ := asked(whole, `count(augur_input)`, false)
		if msg != "" || string(a.Data.Result) == string(all.Data.Result) || string(a.Data.Result) == "[]" {
			t.Errorf("%s with local=true: %s %s, want a strict share of %s", s, msg, a.Data.Result, all.Data.Result)
		}
		own[s] = string(a.Data.Result)
	}

	// The series and label endpoints answer for the fleet too.
	type labelValues struct {
		Data     []string `json:"data"`
		Warnings []string `json:"warnings"`
	}
	var values labelValues
	getJSON(t, r, shards[0]+"/api/v1/label/host/values", &values)
	if !slices.Equal(values.Data, demoHosts) || len(values.Warnings) > 0 {
		t.Errorf("label host values of a shard: %v %q, want every demo host", values.Data, values.Warnings)
	}
	var series struct {
		Data []map[string]string `json:"data"`
	}
	getJSON(t, r, shards[1]+"/api/v1/series?match[]=augur_failure_probability", &series)
	if len(series.Data) != len(demoHosts) {
		t.Errorf("series of a shard: %d augur_failure_probability series, want %d", len(series.Data), len(demoHosts))
	}

	// promtool reads a shard as it reads Prometheus, over TLS with the
	// user (Debian's promtool 2.42 has no --http.config.file: the user in
	// the URL, the CA from SSL_CERT_FILE), and prints what it prints for
	// the unsharded augur.
	q := `topk(3, augur_failure_probability)`
	wantOut, err := exec.Command(promtool, "query", "instant", "--time="+at, whole, q).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool against the unsharded augur: %v\n%s", err, wantOut)
	}
	pt := exec.Command(promtool, "query", "instant", "--time="+at, "https://"+r.user+":"+r.password+"@"+strings.TrimPrefix(shards[0], "https://"), q)
	pt.Env = append(os.Environ(), "SSL_CERT_FILE="+r.caFile)
	out, err := pt.CombinedOutput()
	if err != nil || string(out) != string(wantOut) {
		t.Errorf("promtool query instant against a shard: %v\n%s\nwant, as from the unsharded augur:\n%s", err, out, wantOut)
	}

	// A real Prometheus reads a shard with remote_read: the shard's own
	// series, as it answers the other shards (a read never fans out).
	prom := testservers.StartPrometheus(t, testservers.PrometheusOptions{Config: fmt.Sprintf(`
remote_read:
  - url: %s/api/v1/read
    read_recent: true
    basic_auth: {username: %s, password: %s}
    tls_config: {ca_file: %s}
`, shards[0], r.user, r.password, r.caFile)})
	q = `count by (signal) (augur_anomaly_score)`
	code, viaProm, err := ask(http.DefaultClient, "", "", prom.URL, "/api/v1/query", url.Values{"query": {q}, "time": {at}})
	ownScores, _ := asked(shards[0], q, true)
	if err != nil || code != 200 || len(viaProm.Warnings) > 0 || string(viaProm.Data.Result) != string(ownScores.Data.Result) {
		t.Errorf("Prometheus reading a shard: %d %v %s %q, want the shard's own %s", code, err, viaProm.Data.Result, viaProm.Warnings, ownScores.Data.Result)
	}

	// One shard down: the other answers its own part, with a warning
	// naming the one left out, never an error.
	if err := procs[1].Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = procs[1].Wait()
	a, msg := asked(shards[0], `count(augur_input)`, false)
	if msg != "" || string(a.Data.Result) != own[shards[0]] {
		t.Errorf("with the other shard down: %s %s, want its own part %s", msg, a.Data.Result, own[shards[0]])
	}
	if len(a.Warnings) != 1 || !strings.Contains(a.Warnings[0], shards[1]) || !strings.Contains(a.Warnings[0], "left out") {
		t.Errorf("with the other shard down: warnings %q, want one naming %s", a.Warnings, shards[1])
	}
	values = labelValues{}
	getJSON(t, r, shards[0]+"/api/v1/label/host/values", &values)
	if len(values.Data) == 0 || len(values.Data) == len(demoHosts) || len(values.Warnings) != 1 {
		t.Errorf("label values with the other shard down: %v %q, want the shard's own hosts and a warning", values.Data, values.Warnings)
	}
}

// getJSON GETs a TLS replica's answer into v.
func getJSON(t *testing.T, r *tlsReplicas, u string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(r.user, r.password)
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}
