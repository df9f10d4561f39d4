// Package config loads augur's YAML configuration (--config.file): global
// analysis settings, the sources to read series from, the signals to watch,
// alerting and incident sources. Loading is all or nothing: a Config is
// either complete and valid, or the caller gets every problem found, each as
// FILE:LINE: field.path: reason.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/augur-sre/augur/ingest"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Source types.
const (
	TypePrometheus = "prometheus"
	TypeInfluxDB   = "influxdb"
	TypeCSV        = "csv"
	TypeDemo       = "demo"
)

// Config is augur's whole configuration. A *Config returned by Load, Parse or
// Default has its defaults applied and has been validated; callers own it.
type Config struct {
	Global    GlobalConfig    `yaml:"global"`
	Sources   []SourceConfig  `yaml:"sources"`
	Signals   []SignalConfig  `yaml:"signals"`
	Alerting  AlertingConfig  `yaml:"alerting"`
	Incidents IncidentsConfig `yaml:"incidents,omitempty"`
	// RemoteWrite lists where augur sends the series it derives, in
	// Prometheus' remote_write shape.
	RemoteWrite []RemoteWriteConfig `yaml:"remote_write,omitempty"`
}

// GlobalConfig holds the analysis settings shared by every signal.
type GlobalConfig struct {
	// Step is the resolution of analysis.
	Step Duration `yaml:"step"`
	// History is how much history a fit sees.
	History            Duration `yaml:"history"`
	RefitInterval      Duration `yaml:"refit_interval"`
	EvaluationInterval Duration `yaml:"evaluation_interval"`
	// Horizon is the failure-probability horizon.
	Horizon Duration `yaml:"horizon"`
	// MaxGap is the longest gap that is interpolated; longer gaps stay missing.
	MaxGap            Duration `yaml:"max_gap"`
	MaxExportedSeries int      `yaml:"max_exported_series"`
	// EntityRelabelConfigs rewrite the labels of every signal's series and
	// limit series, and of every incident's alert, before the entity is
	// read from them: how exporters of one host become one entity.
	EntityRelabelConfigs []RelabelConfig `yaml:"entity_relabel_configs,omitempty"`
	// FailureModel chooses what maps an entity's evidence to its failure
	// probability: "calibrated" (the isotonic calibration, the default),
	// "lstm" (the learned sequence classifier once trained on enough
	// incidents) or "auto" (the learned one where it beats the
	// calibration on held-out incidents).
	FailureModel string `yaml:"failure_model,omitempty"`
	// ExternalLabels are added to every series augur remote-writes that
	// does not have the label already, as Prometheus' external_labels are:
	// what tells the series of two replicas or two sites apart in a
	// shared store. Unlike Prometheus' they are not added to alerts: the
	// owners of an entity (replication factor 2) send the same alerts,
	// which Alertmanager deduplicates only when their labels are equal.
	ExternalLabels map[string]string `yaml:"external_labels,omitempty"`
}

// The values of GlobalConfig.FailureModel.
const (
	FailureModelCalibrated = "calibrated"
	FailureModelLSTM       = "lstm"
	FailureModelAuto       = "auto"
)

// SourceConfig is one place series are read from. Which fields apply depends
// on Type; setting a field that does not apply is an error.
type SourceConfig struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`

	// prometheus, influxdb
	URL               string     `yaml:"url,omitempty"`
	Timeout           Duration   `yaml:"timeout,omitempty"`
	TLSConfig         *TLSConfig `yaml:"tls_config,omitempty"`
	MaxPointsPerQuery int        `yaml:"max_points_per_query,omitempty"`
	Concurrency       int        `yaml:"concurrency,omitempty"`

	// prometheus
	BasicAuth       *BasicAuth `yaml:"basic_auth,omitempty"`
	BearerToken     Secret     `yaml:"bearer_token,omitempty"`
	BearerTokenFile string     `yaml:"bearer_token_file,omitempty"`

	// influxdb: token is "user:password" or empty for 1.8.
	Token Secret `yaml:"token,omitempty"`
	Org   string `yaml:"org,omitempty"`

	// csv: a folder of CSV files.
	Path string `yaml:"path,omitempty"`

	// demo: Hosts is the size of the generated fleet (default 8).
	Seed  int64   `yaml:"seed,omitempty"`
	Speed float64 `yaml:"speed,omitempty"`
	Hosts int     `yaml:"hosts,omitempty"`
}

// BasicAuth is HTTP basic authentication, as in Prometheus' http_config.
type BasicAuth struct {
	Username     string `yaml:"username"`
	Password     Secret `yaml:"password,omitempty"`
	PasswordFile string `yaml:"password_file,omitempty"`
}

// TLSConfig configures TLS to a source, as in Prometheus' tls_config.
type TLSConfig struct {
	CAFile             string `yaml:"ca_file,omitempty"`
	CertFile           string `yaml:"cert_file,omitempty"`
	KeyFile            string `yaml:"key_file,omitempty"`
	ServerName         string `yaml:"server_name,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty"`
}

// SignalConfig is a query whose series augur models; each series belongs to
// the entity named by its Entity label. Limit or LimitQuery, if set, is the
// capacity whose crossing is a failure.
type SignalConfig struct {
	Name       string            `yaml:"name"`
	Source     string            `yaml:"source"`
	Query      string            `yaml:"query"`
	Entity     string            `yaml:"entity"`
	Limit      *float64          `yaml:"limit,omitempty"`
	LimitQuery string            `yaml:"limit_query,omitempty"`
	Labels     map[string]string `yaml:"labels,omitempty"`
	// EntityRelabelConfigs apply to this signal's series and limit series
	// after the global ones.
	EntityRelabelConfigs []RelabelConfig `yaml:"entity_relabel_configs,omitempty"`
}

// AlertingConfig says where and when predicted failures are sent.
type AlertingConfig struct {
	Alertmanagers    []AlertmanagerConfig `yaml:"alertmanagers,omitempty"`
	FailureThreshold float64              `yaml:"failure_threshold"`
	For              Duration             `yaml:"for"`
}

// AlertmanagerConfig is one Alertmanager to send alerts to.
type AlertmanagerConfig struct {
	URL string `yaml:"url"`
}

// IncidentsConfig names where known failures come from besides the
// Alertmanager webhook: Prometheus' ALERTS series (Alerts lists the alert
// names) or the demo fleet's scripted incidents.
type IncidentsConfig struct {
	Alerts []string `yaml:"alerts,omitempty"`
	Source string   `yaml:"source,omitempty"`
}

// Duration is a time.Duration written like Prometheus durations: 30s, 5m,
// 1h30m, 14d, 1w.
type Duration time.Duration

// UnmarshalYAML parses a Prometheus duration. A bad value is reported as a
// *yaml.TypeError so that decoding carries on and its line is kept.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: expected a duration like 30s, 5m or 14d", n.Line)}}
	}
	md, err := model.ParseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot parse %q as a duration: %v", n.Line, n.Value, err)}}
	}
	*d = Duration(md)
	return nil
}

// MarshalYAML writes the duration the way UnmarshalYAML reads it.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String formats d like Prometheus, e.g. "14d" or "1h30m".
func (d Duration) String() string { return model.Duration(d).String() }

// Secret is a credential; it prints as <secret> so that --config.print does
// not leak it.
type Secret string

// MarshalYAML hides a non-empty secret.
func (s Secret) MarshalYAML() (any, error) {
	if s == "" {
		return "", nil
	}
	return "<secret>", nil
}

//go:embed demo.yml
var demoYAML []byte

// Default returns the embedded demo configuration (config/demo.yml): one demo
// source and the cpu, memory and connections signals keyed by host.
func Default() *Config {
	c, err := Parse(demoYAML, "demo.yml")
	if err != nil {
		// The file is compiled in and covered by tests: this is a build bug.
		panic("config: embedded demo.yml is invalid: " + err.Error())
	}
	return c
}

// Load reads and parses the configuration file at path. Relative file paths
// in it (csv folders, credential and TLS files) are resolved against the
// file's directory, as Prometheus does.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config file: %w", err)
	}
	c, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	c.resolvePaths(filepath.Dir(path))
	return c, nil
}

// Parse decodes, defaults and validates a configuration; filename is used in
// error messages only. The error, if any, lists every problem found, one per
// line, each reading FILE:LINE: field.path: reason.
func Parse(data []byte, filename string) (*Config, error) {
	c := &Config{
		Global: GlobalConfig{
			Step:               Duration(time.Minute),
			History:            Duration(14 * 24 * time.Hour),
			RefitInterval:      Duration(time.Hour),
			EvaluationInterval: Duration(time.Minute),
			Horizon:            Duration(time.Hour),
			MaxGap:             Duration(5 * time.Minute),
			MaxExportedSeries:  10000,
			FailureModel:       FailureModelCalibrated,
		},
		Alerting: AlertingConfig{
			FailureThreshold: 0.8,
			For:              Duration(5 * time.Minute),
		},
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(c)
	if errors.Is(err, io.EOF) {
		return nil, &Error{File: filename, Msg: "empty configuration: at least one source and one signal are required"}
	}
	// A value of the wrong type (a bad duration, an unknown field) leaves
	// the rest decoded: it is validated too, so that every problem is
	// reported at once.
	var typeErrs []*Error
	if te := (*yaml.TypeError)(nil); errors.As(err, &te) {
		typeErrs = typeErrors(data, filename, te)
	} else if err != nil {
		return nil, decodeError(filename, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &Error{File: filename, Line: extra.Line, Msg: "more than one YAML document"}
	}
	c.applyDefaults()
	v := &validator{file: filename, data: data}
	v.validate(c)
	v.addTypeErrors(typeErrs)
	if err := v.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// String returns the configuration as YAML, secrets hidden (--config.print).
// Parse reads it back to the same Config.
func (c *Config) String() string {
	n, err := encodeNode(reflect.ValueOf(c))
	if err == nil {
		var b []byte
		if b, err = yaml.Marshal(n); err == nil {
			return string(b)
		}
	}
	return fmt.Sprintf("# cannot marshal configuration: %v\n", err)
}

// Source returns the source called name, or nil.
func (c *Config) Source(name string) *SourceConfig {
	for i := range c.Sources {
		if c.Sources[i].Name == name {
			return &c.Sources[i]
		}
	}
	return nil
}

// defaultEntity is the label that names an entity when a signal does not say:
// what each kind of source conventionally labels its hosts with.
var defaultEntity = map[string]string{
	TypePrometheus: "instance",
	TypeInfluxDB:   "host",
	TypeCSV:        "file",
	TypeDemo:       "host",
}

// applyDefaults fills the list elements, which yaml cannot pre-fill; the
// global and alerting defaults are set before decoding so that an explicit
// zero (max_gap: 0s, for: 0s) is kept.
func (c *Config) applyDefaults() {
	for i := range c.Sources {
		s := &c.Sources[i]
		switch s.Type {
		case TypePrometheus, TypeInfluxDB:
			if s.Timeout == 0 {
				s.Timeout = Duration(time.Minute)
			}
			if s.MaxPointsPerQuery == 0 {
				s.MaxPointsPerQuery = 10000
			}
			if s.Concurrency == 0 {
				s.Concurrency = 4
			}
		case TypeDemo:
			if s.Speed == 0 {
				s.Speed = 1
			}
			if s.Hosts == 0 {
				s.Hosts = ingest.DefaultDemoHosts
			}
		}
	}
	for i := range c.Signals {
		sig := &c.Signals[i]
		if sig.Source == "" && len(c.Sources) == 1 {
			sig.Source = c.Sources[0].Name
		}
		if sig.Entity == "" {
			if src := c.Source(sig.Source); src != nil {
				sig.Entity = defaultEntity[src.Type]
			}
		}
	}
	if c.Incidents.Source == "" && len(c.Incidents.Alerts) > 0 {
		for _, s := range c.Sources {
			if s.Type == TypePrometheus {
				c.Incidents.Source = s.Name
				break
			}
		}
	}
}

func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		abs(&s.Path)
		abs(&s.BearerTokenFile)
		if s.BasicAuth != nil {
			abs(&s.BasicAuth.PasswordFile)
		}
		if s.TLSConfig != nil {
			abs(&s.TLSConfig.CAFile)
			abs(&s.TLSConfig.CertFile)
			abs(&s.TLSConfig.KeyFile)
		}
	}
	for i := range c.RemoteWrite {
		c.RemoteWrite[i].SetDirectory(dir)
	}
}

// Error is one configuration problem. Line is 0 when unknown and Path empty
// when the problem is not tied to a field.
type Error struct {
	File string
	Line int
	Path string
	Msg  string
}

// Error formats the problem as FILE:LINE: field.path: reason.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func validURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("missing host")
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
