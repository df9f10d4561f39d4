package testservers

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// InfluxDBOptions configures StartInfluxDB.
type InfluxDBOptions struct {
	// Dir holds meta, data and wal; empty means a fresh temporary one.
	Dir string
	// User and Password, when set, turn on authentication with this admin
	// user (clients then use the token "User:Password").
	User, Password string
}

// InfluxDB is a running InfluxDB 1.8 server with Flux enabled on 127.0.0.1.
type InfluxDB struct {
	*server
	// URL is the HTTP API's base URL, e.g. http://127.0.0.1:39211.
	URL  string
	Dir  string
	opts InfluxDBOptions
}

// influxConfig keeps everything on loopback and in dir, and turns off what
// would phone home or write behind the test's back.
const influxConfig = `reporting-disabled = true
bind-address = "127.0.0.1:%[2]d"
[meta]
  dir = "%[1]s/meta"
[data]
  dir = "%[1]s/data"
  wal-dir = "%[1]s/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:%[3]d"
  flux-enabled = true
  log-enabled = false
  auth-enabled = %[4]t
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
`

// StartInfluxDB starts influxd (1.8.10 from .tools/bin, see
// scripts/deps.sh) with its HTTP API and RPC service on free loopback ports,
// and stops it when the test ends.
func StartInfluxDB(tb testing.TB, opts InfluxDBOptions) *InfluxDB {
	tb.Helper()
	bin := Binary(tb, "influxd")
	tmp := tb.TempDir()
	if opts.Dir == "" {
		opts.Dir = filepath.Join(tmp, "influxdb")
	}
	httpPort, rpcPort := FreePort(tb), FreePort(tb)
	cfg := filepath.Join(tmp, "influxdb.conf")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, influxConfig, opts.Dir, rpcPort, httpPort, opts.User != ""), 0o644); err != nil {
		tb.Fatalf("cannot write InfluxDB config: %v", err)
	}
	u := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	s, err := newServer(tb, "influxd", bin, []string{"run", "-config", cfg}, filepath.Join(tmp, "influxd.log"), getOK(&http.Client{Timeout: time.Second}, u+"/ping"))
	if err != nil {
		tb.Fatal(err)
	}
	i := &InfluxDB{server: s, URL: u, Dir: opts.Dir, opts: opts}
	if opts.User != "" {
		// InfluxDB accepts creating the first admin without credentials.
		q := fmt.Sprintf("CREATE USER %q WITH PASSWORD '%s' WITH ALL PRIVILEGES", opts.User, strings.ReplaceAll(opts.Password, "'", `\'`))
		if err := i.post("/query", url.Values{"q": {q}}, nil, "create user "+opts.User); err != nil {
			tb.Fatal(err)
		}
	}
	return i
}

// CreateDatabase creates database db (with its default "autogen" retention
// policy) through InfluxQL.
func (i *InfluxDB) CreateDatabase(db string) error {
	return i.post("/query", url.Values{"q": {"CREATE DATABASE " + strconv.Quote(db)}}, nil, "create database "+db)
}

// Write writes line protocol with second precision into db.
func (i *InfluxDB) Write(db string, lines []byte) error {
	return i.post("/write", url.Values{"precision": {"s"}, "db": {db}}, lines, "write to "+db)
}

func (i *InfluxDB) post(path string, params url.Values, body []byte, what string) error {
	req, err := http.NewRequest(http.MethodPost, i.URL+path+"?"+params.Encode(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("cannot %s: %w", what, err)
	}
	if i.opts.User != "" {
		req.SetBasicAuth(i.opts.User, i.opts.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot %s: %w", what, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("cannot %s: %s: %s", what, resp.Status, strings.TrimSpace(string(msg)))
	}
	// InfluxQL reports statement errors inside a 200 response.
	if bytes.Contains(msg, []byte(`"error"`)) {
		return fmt.Errorf("cannot %s: %s", what, msg)
	}
	return nil
}

// WriteSeries writes series into db as line protocol (see
// WriteLineProtocol), in batches the server accepts comfortably.
func (i *InfluxDB) WriteSeries(db string, series []Series) error {
	var buf bytes.Buffer
	if err := WriteLineProtocol(&buf, series); err != nil {
		return err
	}
	const batch = 4 << 20
	data := buf.Bytes()
	for len(data) > 0 {
		n := min(batch, len(data))
		if n < len(data) {
			n = bytes.LastIndexByte(data[:n], '\n') + 1
		}
		if err := i.Write(db, data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}
