package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// failOnPanics fails t if a handler panicked during it: a recovered panic
// is a bug even when the answer looked fine.
func failOnPanics(t testing.TB, reg prometheus.Gatherer) {
	t.Helper()
	t.Cleanup(func() {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "augur_http_panics_total" {
				if n := mf.GetMetric()[0].GetCounter().GetValue(); n != 0 {
					t.Errorf("augur_http_panics_total = %v: a handler panicked", n)
				}
				return
			}
		}
		t.Error("augur_http_panics_total is not registered")
	})
}

// chunked hides a body's length, so that the client sends it chunked.
func chunked(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }

func TestBodyLimitAndMethods(t *testing.T) {
	srv := newDemoServer(t)                                          // bodies up to 1 KiB
	webhook := newWebhookServer(t, failingStore{}, WebhookOptions{}) // 4 KiB
	big := strings.Repeat("x", 2048)
	form := "horizon=" + big
	for _, c := range []struct {
		name, method, path, ctype string
		body                      io.Reader
		status                    int
	}{
		{"chunked webhook over the limit", "POST", webhook.URL + WebhookPath, "application/json", chunked(`{"alerts":[` + strings.Repeat(" ", 5000) + `]}`), 413},
		{"chunked form over the limit", "POST", "/api/v1/failures", "application/x-www-form-urlencoded", chunked(form), 413},
		{"form over the limit", "POST", "/api/v1/failures", "application/x-www-form-urlencoded", strings.NewReader(form), 413},
		{"chunked query form over the limit", "POST", "/api/v1/query", "application/x-www-form-urlencoded", chunked("query=" + big), 413},
		{"form within the limit", "POST", "/api/v1/failures", "application/x-www-form-urlencoded", chunked("horizon=1h"), 200},
		{"bad form", "POST", "/api/v1/failures", "multipart/form-data; boundary=x", chunked("not multipart"), 400},
		{"HEAD healthy", "HEAD", "/-/healthy", "", nil, 200},
		{"HEAD ready", "HEAD", "/-/ready", "", nil, 200},
		{"HEAD metrics", "HEAD", "/metrics", "", nil, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			url := c.path
			if strings.HasPrefix(url, "/") {
				url = srv.URL + url
			}
			req, _ := http.NewRequest(c.method, url, c.body)
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, c.status, b)
			}
		})
	}
}

func TestPanicsAreCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := New(Options{Engine: idleEngine(t), Registry: reg})
	a.echo.GET("/panic", func(echo.Context) error { panic("a bug") })
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/panic")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", resp.StatusCode)
	}
	var got float64
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "augur_http_panics_total" {
			got = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if got != 1 {
		t.Errorf("augur_http_panics_total = %v, want 1", got)
	}
}
