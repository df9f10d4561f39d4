package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/augur-sre/augur/api"
	"github.com/augur-sre/augur/internal/testservers"
)

// TestWebConfigTLSAndBasicAuth serves augur over TLS with basic auth from
// an exporter-toolkit web configuration, as Prometheus' --web.config.file.
func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	files := testservers.NewTLSFiles(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  grafana: %s\n", files.CertFile, files.KeyFile, hash)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	cmd := exec.Command(augurBinary, "serve", "--web.listen-address="+addr, "--storage.path="+t.TempDir(), "--web.config.file="+cfg, "--calibration.replay=0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	ca, err := os.ReadFile(files.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	do := func(user, pass string) int {
		req, _ := http.NewRequest("GET", "https://"+addr+"/-/healthy", nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(30 * time.Second)
	for do("grafana", "s3cret") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("augur did not answer over TLS with basic auth within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := do("", ""); code != http.StatusUnauthorized {
		t.Errorf("without credentials: status %d, want 401", code)
	}
	if code := do("grafana", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong password: status %d, want 401", code)
	}
	if resp, err := http.Get("http://" + addr + "/-/healthy"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200: TLS is not enforced")
		}
	}

	// A real Alertmanager posts to the webhook over TLS with basic auth.
	am := testservers.StartAlertmanager(t, fmt.Sprintf(`
route:
  receiver: augur
  group_by: [alertname]
  group_wait: 1s
receivers:
  - name: augur
    webhook_configs:
      - url: https://%s/api/v1/alertmanager/webhook
        http_config:
          basic_auth: {username: grafana, password: s3cret}
          tls_config: {ca_file: %s}
`, addr, files.CAFile))
	alert := `[{"labels":{"alertname":"NodeDown","host":"db-2"},"annotations":{"summary":"db-2 is down"}}]`
	resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", strings.NewReader(alert))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("posting the alert to Alertmanager: status %d", resp.StatusCode)
	}
	eventually(t, "Alertmanager's webhook over TLS and basic auth stores the incident", time.Minute, func() bool {
		req, _ := http.NewRequest("GET", "https://"+addr+"/api/v1/incidents", nil)
		req.SetBasicAuth("grafana", "s3cret")
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var env struct {
			Data []struct {
				Entity, Name, Source string
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&env) != nil {
			return false
		}
		for _, in := range env.Data {
			if in.Name == "NodeDown" && in.Entity == "db-2" && in.Source == "alertmanager" {
				return true
			}
		}
		return false
	})

	// A broken web configuration stops augur at start with a clear error.
	bad := filepath.Join(t.TempDir(), "bad.yml")
	if err := os.WriteFile(bad, []byte("tls_server_config:\n  cert_file: /nonexistent.pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(augurBinary, "serve", "--web.listen-address="+freePort(t), "--storage.path="+t.TempDir(), "--web.config.file="+bad).CombinedOutput()
	if err == nil {
		t.Fatalf("augur started with a broken --web.config.file:\n%s", out)
	}
	if !strings.Contains(string(out), "web.config.file") {
		t.Errorf("error does not name the flag:\n%s", out)
	}
}

// TestReadTimeoutCutsSlowHeaders holds a request's headers open: with
// --web.read-timeout below the 30 s header default, augur must cut the
// connection after the read timeout.
func TestReadTimeoutCutsSlowHeaders(t *testing.T) {
	base := startAugur(t, "--calibration.replay=0", "--web.read-timeout=2s")
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	began := time.Now()
	if _, err := conn.Write([]byte("GET /-/healthy HTTP/1.1\r\nHost: augur\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = conn.Read(make([]byte, 1024))
	if held := time.Since(began); err == nil || held > 10*time.Second {
		t.Errorf("connection with unfinished headers held %s (read error %v), want it cut after about 2 s", held.Round(time.Millisecond), err)
	}
}

// TestWebhookAcceptsEitherCredential serves augur with basic_auth_users in
// --web.config.file and a --webhook.bearer-token-file: a real Alertmanager
// posts to the webhook with a web user's basic auth through one receiver
// and with the bearer token through another, and both are stored; the
// token opens the webhook only.
func TestWebhookAcceptsEitherCredential(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "web.yml")
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "basic_auth_users:\n  grafana: %s\n", hash), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(token, []byte("t0ken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := startAugur(t, "--calibration.replay=0", "--web.config.file="+cfg, "--webhook.bearer-token-file="+token)

	do := func(method, path string, auth func(*http.Request), body string) int {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != nil {
			auth(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	basic := func(r *http.Request) { r.SetBasicAuth("grafana", "s3cret") }
	bearer := func(scheme string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", scheme+" t0ken") }
	}
	empty := `{"version":"4","alerts":[]}`
	for _, c := range []struct {
		name, method, path string
		auth               func(*http.Request)
		want               int
	}{
		{"webhook, no credentials", "POST", api.WebhookPath, nil, 401},
		{"webhook, web user", "POST", api.WebhookPath, basic, 200},
		{"webhook, token", "POST", api.WebhookPath, bearer("Bearer"), 200},
		{"webhook, token, lower-case scheme", "POST", api.WebhookPath, bearer("bearer"), 200},
		{"webhook, wrong token", "POST", api.WebhookPath, func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401},
		{"API, token", "GET", "/api/v1/incidents", bearer("Bearer"), 401},
		{"API, web user", "GET", "/api/v1/incidents", basic, 200},
	} {
		if got := do(c.method, c.path, c.auth, empty); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}

	am := testservers.StartAlertmanager(t, fmt.Sprintf(`
route:
  receiver: basic
  group_by: [alertname]
  group_wait: 1s
  routes:
    - matchers: [alertname="ViaToken"]
      receiver: token
receivers:
  - name: basic
    webhook_configs:
      - url: %[1]s/api/v1/alertmanager/webhook
        http_config:
          basic_auth: {username: grafana, password: s3cret}
  - name: token
    webhook_configs:
      - url: %[1]s/api/v1/alertmanager/webhook
        http_config:
          authorization: {credentials: t0ken}
`, base))
	alerts := `[{"labels":{"alertname":"ViaBasic","host":"db-1"}},{"labels":{"alertname":"ViaToken","host":"db-2"}}]`
	resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", strings.NewReader(alerts))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("posting the alerts to Alertmanager: status %d", resp.StatusCode)
	}
	eventually(t, "Alertmanager's posts with basic auth and with the token are both stored", time.Minute, func() bool {
		req, _ := http.NewRequest("GET", base+"/api/v1/incidents", nil)
		basic(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var env struct {
			Data []struct{ Name string } `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&env) != nil {
			return false
		}
		seen := map[string]bool{}
		for _, in := range env.Data {
			seen[in.Name] = true
		}
		return seen["ViaBasic"] && seen["ViaToken"]
	})
}
