package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func TestDefaultRoundTrip(t *testing.T) {
	c := Default()
	if len(c.Sources) != 1 || c.Sources[0].Type != TypeDemo {
		t.Fatalf("default sources = %+v, want one demo source", c.Sources)
	}
	var names []string
	for _, s := range c.Signals {
		names = append(names, s.Name)
		if s.Entity != "host" || s.Source != "demo" {
			t.Errorf("signal %s: entity %q source %q, want host and demo", s.Name, s.Entity, s.Source)
		}
	}
	if want := []string{"cpu", "memory", "connections"}; !reflect.DeepEqual(names, want) {
		t.Errorf("default signals %v, want %v", names, want)
	}
	if l := c.Signals[0].Limit; l == nil || *l != 100 {
		t.Errorf("cpu limit = %v, want 100", l)
	}
	if q := c.Signals[2].LimitQuery; q != "max_connections" {
		t.Errorf("connections limit_query = %q, want max_connections", q)
	}
	if c.Global.History != Duration(14*24*time.Hour) || c.Global.Step != Duration(time.Minute) {
		t.Errorf("global = %+v", c.Global)
	}

	again, err := Parse([]byte(c.String()), "printed.yml")
	if err != nil {
		t.Fatalf("Default().String() does not parse: %v\n%s", err, c.String())
	}
	if !reflect.DeepEqual(c, again) {
		t.Errorf("round trip changed the config:\n%s\nbecame\n%s", c, again)
	}
	if Default() == c || Default().Signals[0].Limit == c.Signals[0].Limit {
		t.Error("Default shares state between calls")
	}
}

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.yml")
	if err != nil {
		t.Fatal(err)
	}
	g := c.Global
	if g.Step != Duration(30*time.Second) || g.History != Duration(7*24*time.Hour) || g.MaxExportedSeries != 500 {
		t.Errorf("global = %+v", g)
	}
	if g.MaxGap != 0 || c.Alerting.For != 0 {
		t.Errorf("explicit zeros lost: max_gap %s, for %s", g.MaxGap, c.Alerting.For)
	}
	if c.Alerting.FailureThreshold != 0.9 || len(c.Alerting.Alertmanagers) != 1 {
		t.Errorf("alerting = %+v", c.Alerting)
	}
	prom, influx, files := c.Source("prom"), c.Source("influx"), c.Source("files")
	if prom.Timeout != Duration(30*time.Second) || prom.MaxPointsPerQuery != 5000 || prom.Concurrency != 2 {
		t.Errorf("prom = %+v", prom)
	}
	if influx.Timeout != Duration(time.Minute) || influx.MaxPointsPerQuery != 10000 || influx.Concurrency != 4 {
		t.Errorf("influx defaults = %+v", influx)
	}
	if want := filepath.Join("testdata", "data"); files.Path != want {
		t.Errorf("csv path = %q, want %q (relative to the config file)", files.Path, want)
	}
	if want := filepath.Join("testdata", "secrets", "prom-password"); prom.BasicAuth.PasswordFile != want {
		t.Errorf("password_file = %q, want %q", prom.BasicAuth.PasswordFile, want)
	}
	if prom.TLSConfig.CAFile != "/etc/ssl/ca.pem" {
		t.Errorf("absolute ca_file changed to %q", prom.TLSConfig.CAFile)
	}
	entities := map[string]string{}
	for _, s := range c.Signals {
		entities[s.Name] = s.Entity
	}
	if want := map[string]string{"cpu": "instance", "connections": "instance", "memory": "host", "disk": "file"}; !reflect.DeepEqual(entities, want) {
		t.Errorf("entities = %v, want %v", entities, want)
	}
	if c.Incidents.Source != "prom" {
		t.Errorf("incidents.source = %q, want the prometheus source", c.Incidents.Source)
	}

	if len(c.RemoteWrite) != 1 || c.Global.ExternalLabels["replica"] != "a" {
		t.Fatalf("remote_write = %+v, external_labels = %v", c.RemoteWrite, c.Global.ExternalLabels)
	}
	rw := c.RemoteWrite[0]
	for _, r := range rw.WriteRelabelConfigs {
		if r.NameValidationScheme != model.LegacyValidation {
			t.Errorf("write_relabel_configs rule %+v: name validation %v, want the classic one (relabelling panics without)", r, r.NameValidationScheme)
		}
	}
	if rw.Name != "mimir" || rw.URL.String() != "https://mimir.example.org/api/v1/push" || rw.QueueConfig.MaxShards != 4 || len(rw.WriteRelabelConfigs) != 1 {
		t.Errorf("remote_write[0] = %+v", rw.RemoteWriteConfig)
	}
	// Prometheus' defaults fill what the block leaves out, and its
	// decoding turns bearer_token_file into authorization.
	if rw.QueueConfig.Capacity != 10000 || rw.RemoteTimeout != model.Duration(30*time.Second) {
		t.Errorf("remote_write defaults: queue %+v, timeout %s", rw.QueueConfig, rw.RemoteTimeout)
	}
	if a := rw.HTTPClientConfig.Authorization; a == nil || a.CredentialsFile != filepath.Join("testdata", "secrets", "mimir-token") {
		t.Errorf("remote_write authorization = %+v, want the token file relative to the config file", a)
	}
	if ca := rw.HTTPClientConfig.TLSConfig.CAFile; ca != filepath.Join("testdata", "ca.pem") {
		t.Errorf("remote_write ca_file = %q, want it relative to the config file", ca)
	}

	printed := c.String()
	if strings.Contains(printed, "user:password") || !strings.Contains(printed, "token: <secret>") {
		t.Errorf("String() must hide secrets:\n%s", printed)
	}
	if _, err := Parse([]byte(printed), "printed.yml"); err != nil {
		t.Errorf("printed config does not parse: %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yml") {
		t.Errorf("error %v should name the file", err)
	}
}

// minimal is a valid config the error cases below break one piece of.
const minimal = `sources:
  - name: prom
    type: prometheus
    url: http://localhost:9090
signals:
  - name: up
    query: up
`

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // one per reported problem, in order
	}{
		{"empty", ``, []string{`augur.yml: empty configuration: at least one source and one signal are required`}},
		{"syntax", "sources: [\n", []string{`augur.yml:1: did not find expected node content`}},
		{"not a mapping", "- 1\n", []string{"augur.yml:1: cannot unmarshal !!seq into config.Config"}},
		{"two documents", minimal + "---\nglobal: {}\n", []string{`augur.yml:8: more than one YAML document`}},
		{"unknown key", minimal + "    sourse: prom\n", []string{`augur.yml:8: signals[0].sourse: unknown field "sourse"`}},
		{"unknown top-level key", "globals: {}\n" + minimal, []string{`augur.yml:1: globals: unknown field "globals"`}},
		{"duplicate key", minimal + "    query: down\n", []string{`augur.yml:8: signals[0].query: mapping key "query" already defined at line 7`}},
		{"bad duration", "global:\n  step: 5x\n" + minimal, []string{`augur.yml:2: global.step: cannot parse "5x" as a duration: unknown unit "x" in duration "5x"`}},
		{"negative duration", "global:\n  horizon: -1h\n" + minimal, []string{`augur.yml:2: global.horizon: cannot parse "-1h" as a duration: not a valid duration string: "-1h"`}},
		{"duration not a scalar", "global:\n  history: [1d]\n" + minimal, []string{`augur.yml:2: global.history: expected a duration like 30s, 5m or 14d`}},
		{"several decode errors", "global:\n  step: 5x\n  max_exported_series: many\n" + minimal, []string{
			`augur.yml:2: global.step: cannot parse "5x" as a duration`,
			`augur.yml:3: global.max_exported_series: cannot parse "many" as an integer`,
		}},
		{"bad number", minimal + "    limit: lots\n", []string{`augur.yml:8: signals[0].limit: cannot parse "lots" as a number`}},
		{"zero step", "global:\n  step: 0s\n" + minimal, []string{`augur.yml:2: global.step: must be positive, got 0s`}},
		{"unknown failure model", "global:\n  failure_model: neural\n" + minimal, []string{`augur.yml:2: global.failure_model: must be calibrated, lstm or auto, got "neural"`}},
		{"horizon below step", "global:\n  step: 5m\n  horizon: 1m\n" + minimal, []string{`augur.yml:3: global.horizon: must be at least one step (5m), got 1m`}},
		{"history too long", "global:\n  step: 1s\n  history: 30d\n" + minimal, []string{`augur.yml:3: global.history: 30d at step 1s is 2592000 points, more than the limit of 1000000`}},
		{"unknown source type", "sources:\n  - name: x\n    type: graphite\nsignals:\n  - name: a\n    query: a\n", []string{
			`augur.yml:3: sources[0].type: unknown source type "graphite" (one of prometheus, influxdb, csv, demo)`,
		}},
		{"missing source name", "sources:\n  - type: demo\nsignals:\n  - name: cpu\n    query: cpu\n", []string{`augur.yml:2: sources[0].name: missing source name`}},
		{"duplicate source name", "sources:\n  - {name: d, type: demo}\n  - {name: d, type: demo}\nsignals:\n  - {name: cpu, source: d, query: cpu}\n", []string{
			`augur.yml:3: sources[1].name: duplicate source name "d"`,
		}},
		{"duplicate signal name", minimal + "  - name: up\n    query: up\n", []string{`augur.yml:8: signals[1].name: duplicate signal name "up"`}},
		{"unknown signal source", "sources:\n  - {name: a, type: demo}\n  - {name: b, type: demo}\nsignals:\n  - name: cpu\n    query: cpu\n  - name: mem\n    source: promx\n    query: memory\n", []string{
			`augur.yml:5: signals[0].source: missing source (required when there is more than one)`,
			`augur.yml:8: signals[1].source: unknown source "promx"`,
		}},
		{"limit and limit_query", minimal + "    limit: 1\n    limit_query: up\n", []string{`augur.yml:9: signals[0].limit_query: at most one of limit and limit_query may be set`}},
		{"bad PromQL", "sources:\n  - {name: p, type: prometheus, url: 'http://p:9090'}\nsignals:\n  - name: cpu\n    query: rate(x[5m]\n", []string{
			`augur.yml:5: signals[0].query: cannot parse PromQL: 1:11: parse error: unclosed left parenthesis`,
		}},
		{"range vector query", "sources:\n  - {name: p, type: prometheus, url: 'http://p:9090'}\nsignals:\n  - name: cpu\n    query: x[5m]\n", []string{
			`augur.yml:5: signals[0].query: invalid expression type "range vector" for range query, must be Scalar or instant Vector`,
		}},
		{"bad limit_query", minimal + "    limit_query: 'max by (instance'\n", []string{`augur.yml:8: signals[0].limit_query: cannot parse PromQL:`}},
		{"bad demo query", "sources:\n  - {name: d, type: demo}\nsignals:\n  - {name: d, query: disk}\n", []string{
			`augur.yml:4: signals[0].query: unknown demo metric "disk" (one of cpu, memory, connections, max_connections)`,
		}},
		{"unbounded flux", "sources:\n  - {name: i, type: influxdb, url: 'http://i:8086'}\nsignals:\n  - name: mem\n    query: 'from(bucket: \"x\")'\n", []string{
			`augur.yml:5: signals[0].query: flux query must bound time`,
		}},
		{"empty csv column", "sources:\n  - {name: f, type: csv, path: data}\nsignals:\n  - name: mem\n    query: ' '\n", []string{`augur.yml:5: signals[0].query: missing query`}},
		{"threshold zero", minimal + "alerting:\n  failure_threshold: 0\n", []string{`augur.yml:9: alerting.failure_threshold: must be in (0, 1], got 0`}},
		{"threshold above one", minimal + "alerting:\n  failure_threshold: 1.5\n", []string{`augur.yml:9: alerting.failure_threshold: must be in (0, 1], got 1.5`}},
		{"bad alertmanager url", minimal + "alerting:\n  alertmanagers:\n    - url: localhost:9093\n", []string{
			`augur.yml:10: alerting.alertmanagers[0].url: invalid URL "localhost:9093": scheme must be http or https, got "localhost"`,
		}},
		{"missing url", "sources:\n  - name: p\n    type: prometheus\nsignals:\n  - {name: up, query: up}\n", []string{`augur.yml:2: sources[0].url: missing URL of the prometheus server`}},
		{"field of another type", "sources:\n  - name: p\n    type: prometheus\n    url: http://p:9090\n    path: data/\nsignals:\n  - {name: up, query: up}\n", []string{
			`augur.yml:5: sources[0].path: not used by a prometheus source`,
		}},
		{"too many points per query", "sources:\n  - name: p\n    type: prometheus\n    url: http://p:9090\n    max_points_per_query: 20000\nsignals:\n  - {name: up, query: up}\n", []string{
			`augur.yml:5: sources[0].max_points_per_query: must be in [1, 11000], got 20000`,
		}},
		{"two credentials", "sources:\n  - name: p\n    type: prometheus\n    url: http://p:9090\n    bearer_token: a\n    bearer_token_file: b\nsignals:\n  - {name: up, query: up}\n", []string{
			`augur.yml:5: sources[0].bearer_token: at most one of bearer_token and bearer_token_file may be set`,
		}},
		{"basic auth without user", "sources:\n  - name: p\n    type: prometheus\n    url: http://p:9090\n    basic_auth: {password: x}\nsignals:\n  - {name: up, query: up}\n", []string{
			`augur.yml:5: sources[0].basic_auth.username: missing username`,
		}},
		{"demo hosts", "sources:\n  - name: d\n    type: demo\n    hosts: -3\nsignals:\n  - {name: c, query: cpu}\n", []string{`augur.yml:4: sources[0].hosts: must be in [1, 1048576], got -3`}},
		{"demo hosts too many", "sources:\n  - {name: d, type: demo, hosts: 2000000}\nsignals:\n  - {name: c, query: cpu}\n", []string{`augur.yml:2: sources[0].hosts: must be in [1, 1048576], got 2000000`}},
		{"demo hosts not a number", "sources:\n  - name: d\n    type: demo\n    hosts: many\nsignals:\n  - {name: c, query: cpu}\n", []string{`augur.yml:4: sources[0].hosts: cannot parse "many" as an integer`}},
		{"hosts on prometheus", "sources:\n  - name: p\n    type: prometheus\n    url: http://p:9090\n    hosts: 10\nsignals:\n  - {name: up, query: up}\n", []string{`augur.yml:5: sources[0].hosts: not used by a prometheus source`}},
		{"demo speed", "sources:\n  - {name: d, type: demo, speed: -2}\nsignals:\n  - {name: c, query: cpu}\n", []string{`augur.yml:2: sources[0].speed: must be a positive number, got -2`}},
		{"bad label name", minimal + "    labels: {team-name: x}\n", []string{`augur.yml:8: signals[0].labels.team-name: invalid label name "team-name"`}},
		{"bad entity", minimal + "    entity: 'host name'\n", []string{`augur.yml:8: signals[0].entity: invalid label name "host name"`}},
		{"unknown relabel field", minimal + "    entity_relabel_configs:\n      - source_labels: [instance]\n        target: host\n", []string{
			`augur.yml:10: signals[0].entity_relabel_configs[0].target: unknown field "target"`,
		}},
		{"bad relabel action", minimal + "    entity_relabel_configs:\n      - action: replac\n        target_label: host\n", []string{
			`augur.yml:9: signals[0].entity_relabel_configs[0].action: unknown relabel action "replac"`,
		}},
		{"bad relabel regex and rule", "global:\n  entity_relabel_configs:\n    - regex: '(.+'\n      target_label: host\n    - source_labels: [instance]\n" + minimal, []string{
			`augur.yml:3: global.entity_relabel_configs[0].regex: invalid regex "(.+": error parsing regexp: missing closing )`,
		}},
		{"relabel rule without target", "global:\n  entity_relabel_configs:\n    - source_labels: [instance]\n      regex: '(.+):\\d+'\n    - action: labeldrop\n      regex: pod\n      target_label: x\n" + minimal, []string{
			`augur.yml:3: global.entity_relabel_configs[0]: relabel configuration for replace action requires 'target_label' value`,
			`augur.yml:5: global.entity_relabel_configs[1]: labeldrop action requires only 'regex', and no other fields`,
		}},
		{"relabel rule not a mapping", minimal + "    entity_relabel_configs: [instance]\n", []string{
			`augur.yml:8: signals[0].entity_relabel_configs[0]: expected a relabel rule`,
		}},
		{"bad relabel target", minimal + "    entity_relabel_configs:\n      - {source_labels: [a], target_label: 'host name'}\n", []string{
			`augur.yml:9: signals[0].entity_relabel_configs[0]: "host name" is invalid 'target_label' for replace action`,
		}},
		{"unknown remote_write field", minimal + "remote_write:\n  - url: http://p:9090/api/v1/write\n    queue_config:\n      max_shard: 3\n", []string{
			`augur.yml:11: remote_write[0].queue_config.max_shard: unknown field "max_shard"`,
		}},
		{"remote_write bad duration", minimal + "remote_write:\n  - url: http://p:9090/api/v1/write\n    remote_timeout: 5x\n", []string{
			`augur.yml:10: remote_write[0].remote_timeout: cannot parse "5x": unknown unit "x" in duration "5x"`,
		}},
		{"remote_write bad number", minimal + "remote_write:\n  - url: http://p:9090/api/v1/write\n    queue_config: {capacity: lots}\n", []string{
			`augur.yml:10: remote_write[0].queue_config.capacity: cannot parse "lots" as an integer`,
		}},
		{"remote_write two credentials", minimal + "remote_write:\n  - url: http://p:9090/api/v1/write\n    basic_auth: {username: a, password: b}\n    bearer_token_file: /x\n", []string{
			`augur.yml:11: remote_write[0].bearer_token_file: at most one of basic_auth, authorization, oauth2 and bearer_token_file may be set`,
		}},
		{"remote_write tls without key", minimal + "remote_write:\n  - url: http://p:9090/api/v1/write\n    tls_config:\n      cert_file: a.pem\n", []string{
			`augur.yml:10: remote_write[0].tls_config: exactly one of key or key_file must be configured when a client certificate is configured`,
		}},
		{"remote_write bad relabel", minimal + "remote_write:\n  - url: http://p:9090/api/v1/write\n    write_relabel_configs:\n      - action: drp\n      - {source_labels: [a], regex: '(('}\n", []string{
			`augur.yml:11: remote_write[0].write_relabel_configs[0].action: unknown relabel action "drp"`,
			`augur.yml:12: remote_write[0].write_relabel_configs[1].regex: invalid regex "((": error parsing regexp: missing closing )`,
		}},
		{"remote_write queue", minimal + "remote_write:\n  - name: x\n    queue_config: {max_shards: 0, min_backoff: 1s, max_backoff: 10ms}\n", []string{
			`augur.yml:9: remote_write[0].url: missing URL of the remote-write receiver`,
			`augur.yml:10: remote_write[0].queue_config.max_shards: must be at least 1, got 0`,
			`augur.yml:10: remote_write[0].queue_config.max_backoff: must be at least min_backoff (1s), got 10ms`,
		}},
		{"remote_write bad url", minimal + "remote_write:\n  - url: ftp://p\n", []string{
			`augur.yml:9: remote_write[0].url: invalid URL "ftp://p": scheme must be http or https, got "ftp"`,
		}},
		{"remote_write reserved header", minimal + "remote_write:\n  - url: http://p:9090/api/v1/write\n    headers: {X-Prometheus-Remote-Write-Version: x}\n", []string{
			`augur.yml:9: remote_write[0]: X-Prometheus-Remote-Write-Version is a reserved header. It must not be changed`,
		}},
		{"remote_write twice", minimal + "remote_write:\n  - url: http://p:9090/api/v1/write\n  - url: http://p:9090/api/v1/write\n", []string{
			`augur.yml:10: remote_write[1]: the same block as remote_write[0]`,
		}},
		{"remote_write duplicate name", minimal + "remote_write:\n  - {name: a, url: http://p:9090/api/v1/write}\n  - {name: a, url: http://q:9090/api/v1/write}\n", []string{
			`augur.yml:10: remote_write[1].name: duplicate remote_write name "a" (also remote_write[0])`,
		}},
		{"remote_write not a mapping", minimal + "remote_write: [x]\n", []string{
			`augur.yml:8: remote_write[0]: expected a remote_write block`,
		}},
		{"remote_write blocks after a bad one", minimal + "remote_write:\n  - {url: 'http://p:9090/api/v1/write', queue_config: {max_shard: 2}}\n  - {url: 'localhost:9090', remote_timeout: 0s}\n", []string{
			`augur.yml:9: remote_write[0].queue_config.max_shard: unknown field "max_shard"`,
			`augur.yml:10: remote_write[1].url: invalid URL "localhost:9090": scheme must be http or https, got "localhost"`,
			`augur.yml:10: remote_write[1].remote_timeout: must be positive, got 0s`,
		}},
		{"bad external labels", "global:\n  external_labels: {replica: a, 'b-c': x, d: ''}\n" + minimal, []string{
			`augur.yml:2: global.external_labels.b-c: invalid label name "b-c"`,
			`augur.yml:2: global.external_labels.d: empty value: an external label needs one`,
		}},
		{"no signals", "sources:\n  - {name: d, type: demo}\n", []string{`augur.yml:1: signals: at least one signal is required`}},
		// A value that does not decode does not hide the validation's problems.
		{"bad duration and unknown source", "global:\n  step: 1x\nsources:\n  - {name: p, type: prometheus, url: 'http://p:9090'}\nsignals:\n  - {name: up, source: nope, query: up}\n", []string{
			`augur.yml:2: global.step: cannot parse "1x" as a duration`,
			`augur.yml:6: signals[0].source: unknown source "nope"`,
		}},
		{"incidents from csv", "sources:\n  - {name: f, type: csv, path: d}\nsignals:\n  - {name: c, query: cpu}\nincidents:\n  source: f\n", []string{
			`augur.yml:6: incidents.source: source "f" is of type csv: incidents come from a prometheus or demo source`,
		}},
		{"alerts without prometheus", "sources:\n  - {name: d, type: demo}\nsignals:\n  - {name: c, query: cpu}\nincidents:\n  alerts: [NodeDown]\n", []string{
			`augur.yml:5: incidents.source: alerts need a prometheus source to read ALERTS from, and there is none`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml), "augur.yml")
			if err == nil {
				t.Fatalf("no error; parsed %+v", c)
			}
			if c != nil {
				t.Errorf("got a config along with the error")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for i, want := range tc.want {
				if !strings.HasPrefix(lines[i], want) {
					t.Errorf("problem %d:\n got %s\nwant %s", i, lines[i], want)
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, file := range []string{"demo.yml", "testdata/full.yml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(minimal))
	f.Add([]byte("global: {step: 5x}\nsignals: [{name: a, limit: .nan}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yml")
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v: want exactly one", c, err)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yml") {
				t.Fatalf("error does not start with the file name: %v", err)
			}
			return
		}
		printed := c.String()
		again, err := Parse([]byte(printed), "printed.yml")
		if err != nil {
			t.Fatalf("a valid config prints as an invalid one: %v\n%s", err, printed)
		}
		if again.String() != printed {
			t.Fatalf("printing is not stable:\n%s\nthen\n%s", printed, again)
		}
	})
}

func TestExternalLabelSet(t *testing.T) {
	env := map[string]string{"POD_NAME": "augur-1", "REGION": "eu"}
	getenv := func(k string) string { return env[k] }
	g := GlobalConfig{ExternalLabels: map[string]string{"replica": "${POD_NAME}", "site": "$REGION-1", "cost": "$$5"}}
	ls, err := g.ExternalLabelSet(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ls.String(), `{cost="$5", replica="augur-1", site="eu-1"}`; got != want {
		t.Errorf("external labels %s, want %s", got, want)
	}
	g.ExternalLabels["zone"] = "${ZONE}"
	if _, err := g.ExternalLabelSet(getenv); err == nil || !strings.Contains(err.Error(), "global.external_labels.zone: environment variable ZONE is empty or unset") {
		t.Errorf("unset variable: error %v", err)
	}
}
