package testservers

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Alertmanager is a running Alertmanager on 127.0.0.1.
type Alertmanager struct {
	*server
	// URL is the server's base URL, e.g. http://127.0.0.1:39213.
	URL string
}

// StartAlertmanager starts the Debian `prometheus-alertmanager` binary on a
// free loopback port with config as alertmanager.yml, clustering off, and
// stops it when the test ends.
func StartAlertmanager(tb testing.TB, config string) *Alertmanager {
	tb.Helper()
	bin := Binary(tb, "prometheus-alertmanager")
	dir := tb.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		tb.Fatalf("cannot write Alertmanager config: %v", err)
	}
	port := FreePort(tb)
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	args := []string{
		"--config.file=" + cfg,
		"--storage.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:" + strconv.Itoa(port),
		"--web.external-url=" + url,
		"--cluster.listen-address=",
		"--log.level=info",
	}
	s, err := newServer(tb, "alertmanager", bin, args, filepath.Join(dir, "alertmanager.log"), getOK(&http.Client{Timeout: time.Second}, url+"/-/ready"))
	if err != nil {
		tb.Fatalf("cannot start Alertmanager: %v", err)
	}
	return &Alertmanager{server: s, URL: url}
}
