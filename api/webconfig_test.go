package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestWebAuth checks the web configuration's users and headers, re-read
// per request, and the webhook's own token as the alternative on its path.
func TestWebAuth(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "web.yml")
	writeUsers := func(user, pass string) {
		hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfg, fmt.Appendf(nil, "http_server_config:\n  headers:\n    X-Frame-Options: deny\nbasic_auth_users:\n  %s: %s\n", user, hash), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeUsers("grafana", "s3cret")
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	o := WebhookOptions{BearerToken: "t0ken"}
	h := &webAuth{path: cfg, next: ok, webhook: o.authorized}
	do := func(path string, auth func(*http.Request)) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", path, nil)
		if auth != nil {
			auth(r)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	user := func(u, p string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
	token := func(r *http.Request) { r.Header.Set("Authorization", "Bearer t0ken") }
	f := func(name, path string, auth func(*http.Request), want int) {
		t.Helper()
		w := do(path, auth)
		if w.Code != want {
			t.Errorf("%s: status %d, want %d", name, w.Code, want)
		}
		if w.Header().Get("X-Frame-Options") != "deny" {
			t.Errorf("%s: the configured header is missing", name)
		}
	}
	f("user", "/api/v1/failures", user("grafana", "s3cret"), 204)
	f("user again (cached)", "/api/v1/failures", user("grafana", "s3cret"), 204)
	f("wrong password", "/api/v1/failures", user("grafana", "nope"), 401)
	f("unknown user", "/api/v1/failures", user("root", "s3cret"), 401)
	f("token off the webhook", "/api/v1/failures", token, 401)
	f("token on the webhook", WebhookPath, token, 204)
	f("nothing on the webhook", WebhookPath, nil, 401)
	writeUsers("grafana", "n3w")
	f("old password after the change", "/api/v1/failures", user("grafana", "s3cret"), 401)
	f("new password, no restart", "/api/v1/failures", user("grafana", "n3w"), 204)
}
