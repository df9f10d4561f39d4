package api

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"
	"golang.org/x/crypto/bcrypt"
)

// Run serves on l until ctx is done, then shuts down gracefully.
// webConfigFile, when set, is an exporter-toolkit web configuration (TLS,
// basic auth, headers), as Prometheus' --web.config.file, re-read for
// every connection (TLS) and request (users, headers) as the toolkit does.
//
// augur applies it itself rather than through web.Serve for one reason:
// on the webhook path it accepts either a user of basic_auth_users or the
// webhook's own credentials (WebhookOptions), so that an Alertmanager can
// post with either; every other path needs a user when users are set.
func (a *API) Run(ctx context.Context, srv *http.Server, l net.Listener, webConfigFile string) error {
	srv.Handler = a.echo
	var tlsConfig *tls.Config
	if webConfigFile != "" {
		c, err := loadWebConfig(webConfigFile)
		if err != nil {
			return fmt.Errorf("cannot load --web.config.file: %w", err)
		}
		srv.Handler = &webAuth{path: webConfigFile, next: a.echo, webhook: a.webhookAuth, logger: a.opts.Logger}
		if hasTLS(c) {
			if tlsConfig, err = web.ConfigToTLSConfig(&c.TLSConfig); err != nil {
				return fmt.Errorf("cannot load --web.config.file: %w", err)
			}
			if !c.HTTPConfig.HTTP2 {
				srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
			}
			srv.TLSConfig = tlsConfig
			// New connections see a renewed certificate, as with web.Serve.
			srv.TLSConfig.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
				c, err := loadWebConfig(webConfigFile)
				if err != nil {
					return nil, err
				}
				cfg, err := web.ConfigToTLSConfig(&c.TLSConfig)
				if err != nil {
					return nil, err
				}
				cfg.NextProtos = tlsConfig.NextProtos
				return cfg, nil
			}
		}
	}
	a.opts.Logger.Info("serving", "component", "web", "address", l.Addr().String(), "tls", tlsConfig != nil)
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(l, "", "")
			return
		}
		errc <- srv.Serve(l)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("cannot serve on %s: %w", l.Addr(), err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// loadWebConfig reads a web configuration with the toolkit's defaults.
func loadWebConfig(path string) (*web.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := &web.Config{
		TLSConfig:  web.TLSConfig{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13, PreferServerCipherSuites: true},
		HTTPConfig: web.HTTPConfig{HTTP2: true},
	}
	if err := yaml.UnmarshalStrict(b, c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.TLSConfig.SetDirectory(filepath.Dir(path))
	return c, nil
}

// ServesTLS reports whether the web configuration at path ("" for none)
// serves TLS, so that the other replicas are told to ask with https.
func ServesTLS(path string) (bool, error) {
	if path == "" {
		return false, nil
	}
	c, err := loadWebConfig(path)
	if err != nil {
		return false, err
	}
	return hasTLS(c), nil
}

func hasTLS(c *web.Config) bool {
	t := c.TLSConfig
	return t.TLSCertPath != "" || t.TLSCert != "" || t.TLSKeyPath != "" || t.TLSKey != ""
}

// webAuth applies a web configuration's headers and basic_auth_users.
type webAuth struct {
	path string
	next http.Handler
	// webhook, when set, checks the webhook's own credentials; a request to
	// WebhookPath that passes it needs no user.
	webhook func(*http.Request) bool
	logger  *slog.Logger
	// checked caches bcrypt's verdicts, which cost tens of milliseconds,
	// by a digest of user, hash and password.
	mu      sync.Mutex
	checked map[[sha256.Size]byte]bool
}

// fakeHash is compared against for an unknown user, so that timing does
// not tell users apart (the toolkit's hash of "fakepassword").
const fakeHash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"

// webConfigUser marks a request authenticated by basic_auth_users.
type webConfigUser struct{}

func (h *webAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := loadWebConfig(h.path)
	if err != nil {
		h.logger.Error("cannot read --web.config.file", "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	for k, v := range c.HTTPConfig.Header {
		w.Header().Set(k, v)
	}
	if len(c.Users) == 0 {
		h.next.ServeHTTP(w, r)
		return
	}
	if user, pass, ok := r.BasicAuth(); ok && h.valid(c, user, pass) {
		h.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), webConfigUser{}, user)))
		return
	}
	if r.URL.Path == WebhookPath && h.webhook != nil && h.webhook(r) {
		h.next.ServeHTTP(w, r)
		return
	}
	w.Header().Set("WWW-Authenticate", "Basic")
	http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
}

func (h *webAuth) valid(c *web.Config, user, pass string) bool {
	hash, known := c.Users[user]
	if !known {
		hash = fakeHash
	}
	key := sha256.Sum256([]byte(fmt.Sprintf("%x:%x:%x", user, hash, pass)))
	h.mu.Lock()
	defer h.mu.Unlock()
	ok, cached := h.checked[key]
	if !cached {
		// One comparison at a time: bcrypt is built to be CPU-heavy.
		ok = bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass)) == nil
		if h.checked == nil || len(h.checked) >= 1024 {
			h.checked = map[[sha256.Size]byte]bool{}
		}
		h.checked[key] = ok
	}
	return ok && known
}
