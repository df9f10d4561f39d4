package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/augur-sre/augur/ingest"
)

// maxHistoryPoints bounds history/step: a fit needs the whole window in memory
// for every series.
const maxHistoryPoints = 1_000_000

// maxPrometheusPoints is Prometheus' own limit of points per series per query.
const maxPrometheusPoints = 11000

// validator collects every problem, with the line found from the YAML tree,
// which is only parsed when there is something to report.
type validator struct {
	file string
	data []byte
	root *yaml.Node
	errs []*Error
}

func (v *validator) errorf(path, format string, args ...any) {
	if v.root == nil {
		v.root = new(yaml.Node)
		// The data decoded once already, so this cannot fail.
		_ = yaml.Unmarshal(v.data, v.root)
	}
	v.errs = append(v.errs, &Error{File: v.file, Line: locate(v.root, path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error {
	return joinErrors(v.errs)
}

func joinErrors(errs []*Error) error {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}

func (v *validator) validate(c *Config) {
	v.global(&c.Global)
	if len(c.Sources) == 0 {
		v.errorf("sources", "at least one source is required")
	}
	seen := map[string]bool{}
	for i := range c.Sources {
		s := &c.Sources[i]
		p := fmt.Sprintf("sources[%d]", i)
		switch {
		case s.Name == "":
			v.errorf(p+".name", "missing source name")
		case seen[s.Name]:
			v.errorf(p+".name", "duplicate source name %q", s.Name)
		}
		seen[s.Name] = true
		v.source(p, s)
	}
	if len(c.Signals) == 0 {
		v.errorf("signals", "at least one signal is required")
	}
	seen = map[string]bool{}
	for i := range c.Signals {
		sig := &c.Signals[i]
		p := fmt.Sprintf("signals[%d]", i)
		switch {
		case sig.Name == "":
			v.errorf(p+".name", "missing signal name")
		case seen[sig.Name]:
			v.errorf(p+".name", "duplicate signal name %q", sig.Name)
		}
		seen[sig.Name] = true
		v.signal(p, sig, c)
	}
	v.alerting(&c.Alerting)
	v.incidents(&c.Incidents, c)
	for i := range c.RemoteWrite {
		v.remoteWrite(fmt.Sprintf("remote_write[%d]", i), &c.RemoteWrite[i], c.RemoteWrite, i)
	}
}

func (v *validator) global(g *GlobalConfig) {
	positive := func(name string, d Duration) {
		if d <= 0 {
			v.errorf("global."+name, "must be positive, got %s", d)
		}
	}
	positive("step", g.Step)
	positive("history", g.History)
	positive("refit_interval", g.RefitInterval)
	positive("evaluation_interval", g.EvaluationInterval)
	positive("horizon", g.Horizon)
	if g.Step > 0 && g.History > 0 {
		n := time.Duration(g.History) / time.Duration(g.Step)
		if n < 2 {
			v.errorf("global.history", "must cover at least two steps of %s, got %s", g.Step, g.History)
		} else if n > maxHistoryPoints {
			v.errorf("global.history", "%s at step %s is %d points, more than the limit of %d", g.History, g.Step, n, maxHistoryPoints)
		}
	}
	if g.Step > 0 && g.Horizon > 0 && g.Horizon < g.Step {
		v.errorf("global.horizon", "must be at least one step (%s), got %s", g.Step, g.Horizon)
	}
	if g.MaxExportedSeries <= 0 {
		v.errorf("global.max_exported_series", "must be positive, got %d", g.MaxExportedSeries)
	}
	v.relabelRules("global.entity_relabel_configs", g.EntityRelabelConfigs)
	v.externalLabels(g.ExternalLabels)
	switch g.FailureModel {
	case FailureModelCalibrated, FailureModelLSTM, FailureModelAuto:
	default:
		v.errorf("global.failure_model", "must be %s, %s or %s, got %q", FailureModelCalibrated, FailureModelLSTM, FailureModelAuto, g.FailureModel)
	}
}

func (v *validator) source(p string, s *SourceConfig) {
	// Fields that only some types use: setting one elsewhere is a mistake
	// worth reporting (e.g. path on a prometheus source).
	used := map[string]bool{
		"url":                  s.URL != "",
		"timeout":              s.Timeout != 0,
		"tls_config":           s.TLSConfig != nil,
		"max_points_per_query": s.MaxPointsPerQuery != 0,
		"concurrency":          s.Concurrency != 0,
		"basic_auth":           s.BasicAuth != nil,
		"bearer_token":         s.BearerToken != "",
		"bearer_token_file":    s.BearerTokenFile != "",
		"token":                s.Token != "",
		"org":                  s.Org != "",
		"path":                 s.Path != "",
		"seed":                 s.Seed != 0,
		"speed":                s.Speed != 0,
		"hosts":                s.Hosts != 0,
	}
	var allowed []string
	switch s.Type {
	case TypePrometheus:
		allowed = []string{"url", "timeout", "tls_config", "max_points_per_query", "concurrency", "basic_auth", "bearer_token", "bearer_token_file"}
	case TypeInfluxDB:
		allowed = []string{"url", "timeout", "tls_config", "max_points_per_query", "concurrency", "token", "org"}
	case TypeCSV:
		allowed = []string{"path"}
	case TypeDemo:
		allowed = []string{"seed", "speed", "hosts"}
	case "":
		v.errorf(p+".type", "missing source type (one of prometheus, influxdb, csv, demo)")
		return
	default:
		v.errorf(p+".type", "unknown source type %q (one of prometheus, influxdb, csv, demo)", s.Type)
		return
	}
	names := make([]string, 0, len(used))
	for name := range used {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if used[name] && !slices.Contains(allowed, name) {
			v.errorf(p+"."+name, "not used by a %s source", s.Type)
		}
	}

	switch s.Type {
	case TypePrometheus, TypeInfluxDB:
		if s.URL == "" {
			v.errorf(p+".url", "missing URL of the %s server", s.Type)
		} else if err := validURL(s.URL); err != nil {
			v.errorf(p+".url", "invalid URL %q: %v", s.URL, err)
		}
		if s.Timeout <= 0 {
			v.errorf(p+".timeout", "must be positive, got %s", s.Timeout)
		}
		if s.Concurrency <= 0 {
			v.errorf(p+".concurrency", "must be positive, got %d", s.Concurrency)
		}
		if s.MaxPointsPerQuery <= 0 || (s.Type == TypePrometheus && s.MaxPointsPerQuery > maxPrometheusPoints) {
			v.errorf(p+".max_points_per_query", "must be in [1, %d], got %d", maxPrometheusPoints, s.MaxPointsPerQuery)
		}
		if t := s.TLSConfig; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
			v.errorf(p+".tls_config", "cert_file and key_file must be set together")
		}
	case TypeCSV:
		if strings.TrimSpace(s.Path) == "" {
			v.errorf(p+".path", "missing path of the folder of CSV files")
		}
	case TypeDemo:
		if !(s.Speed > 0) || !finite(s.Speed) {
			v.errorf(p+".speed", "must be a positive number, got %v", s.Speed)
		}
		if s.Hosts < 1 || s.Hosts > ingest.MaxDemoHosts {
			v.errorf(p+".hosts", "must be in [1, %d], got %d", ingest.MaxDemoHosts, s.Hosts)
		}
	}
	if a := s.BasicAuth; a != nil {
		if a.Username == "" {
			v.errorf(p+".basic_auth.username", "missing username")
		}
		if a.Password != "" && a.PasswordFile != "" {
			v.errorf(p+".basic_auth", "at most one of password and password_file may be set")
		}
		if s.BearerToken != "" || s.BearerTokenFile != "" {
			v.errorf(p+".basic_auth", "at most one of basic_auth and bearer_token/bearer_token_file may be set")
		}
	}
	if s.BearerToken != "" && s.BearerTokenFile != "" {
		v.errorf(p+".bearer_token", "at most one of bearer_token and bearer_token_file may be set")
	}
}

func (v *validator) signal(p string, sig *SignalConfig, c *Config) {
	var src *SourceConfig
	switch {
	case sig.Source == "":
		// With one source, the source's own missing name is the error.
		if len(c.Sources) != 1 {
			v.errorf(p+".source", "missing source (required when there is more than one)")
		}
	default:
		if src = c.Source(sig.Source); src == nil {
			v.errorf(p+".source", "unknown source %q", sig.Source)
		}
	}
	if strings.TrimSpace(sig.Query) == "" {
		v.errorf(p+".query", "missing query")
	} else if src != nil {
		if err := checkQuery(src.Type, sig.Query); err != nil {
			v.errorf(p+".query", "%v", err)
		}
	}
	// An empty entity was defaulted from the source type, or the source is
	// already reported.
	if sig.Entity != "" && !labelNameRE().MatchString(sig.Entity) {
		v.errorf(p+".entity", "invalid label name %q", sig.Entity)
	}
	if sig.Limit != nil && sig.LimitQuery != "" {
		v.errorf(p+".limit_query", "at most one of limit and limit_query may be set")
	}
	if sig.Limit != nil && !finite(*sig.Limit) {
		v.errorf(p+".limit", "must be a finite number, got %v", *sig.Limit)
	}
	if sig.LimitQuery != "" && src != nil {
		if err := checkQuery(src.Type, sig.LimitQuery); err != nil {
			v.errorf(p+".limit_query", "%v", err)
		}
	}
	v.relabelRules(p+".entity_relabel_configs", sig.EntityRelabelConfigs)
	keys := make([]string, 0, len(sig.Labels))
	for k := range sig.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case !labelNameRE().MatchString(k):
			v.errorf(p+".labels."+k, "invalid label name %q", k)
		case strings.HasPrefix(k, "__"):
			v.errorf(p+".labels."+k, "label names starting with __ are reserved")
		case k == "signal":
			v.errorf(p+".labels."+k, "label signal is set by augur")
		}
	}
}

// checkQuery reports whether a source of type typ can run q, with the
// source's own wording where there is one (PromQL's parser).
func checkQuery(typ, q string) error {
	switch typ {
	case TypePrometheus:
		expr, err := parser.ParseExpr(q)
		if err != nil {
			return fmt.Errorf("cannot parse PromQL: %w", err)
		}
		if t := expr.Type(); t != parser.ValueTypeVector && t != parser.ValueTypeScalar {
			return fmt.Errorf("invalid expression type %q for range query, must be Scalar or instant Vector", parser.DocumentedType(t))
		}
	case TypeInfluxDB:
		if !strings.Contains(q, "v.timeStart") && !strings.Contains(q, "range(") {
			return errors.New("flux query must bound time, e.g. |> range(start: v.timeStart, stop: v.timeStop)")
		}
	case TypeDemo:
		if !slices.Contains(ingest.DemoMetrics(), strings.TrimSpace(q)) {
			return fmt.Errorf("unknown demo metric %q (one of %s)", q, strings.Join(ingest.DemoMetrics(), ", "))
		}
	}
	return nil
}

func (v *validator) alerting(a *AlertingConfig) {
	for i, am := range a.Alertmanagers {
		p := fmt.Sprintf("alerting.alertmanagers[%d].url", i)
		if am.URL == "" {
			v.errorf(p, "missing URL")
		} else if err := validURL(am.URL); err != nil {
			v.errorf(p, "invalid URL %q: %v", am.URL, err)
		}
	}
	if !(a.FailureThreshold > 0 && a.FailureThreshold <= 1) {
		v.errorf("alerting.failure_threshold", "must be in (0, 1], got %v", a.FailureThreshold)
	}
}

func (v *validator) incidents(in *IncidentsConfig, c *Config) {
	if in.Source == "" {
		if len(in.Alerts) > 0 {
			v.errorf("incidents.source", "alerts need a prometheus source to read ALERTS from, and there is none")
		}
		return
	}
	src := c.Source(in.Source)
	switch {
	case src == nil:
		v.errorf("incidents.source", "unknown source %q", in.Source)
	case src.Type == TypeDemo:
		if len(in.Alerts) > 0 {
			v.errorf("incidents.alerts", "the demo source has scripted incidents, not alerts")
		}
	case src.Type != TypePrometheus:
		v.errorf("incidents.source", "source %q is of type %s: incidents come from a prometheus or demo source", in.Source, src.Type)
	}
	for i, a := range in.Alerts {
		if !metricNameRE().MatchString(a) {
			v.errorf(fmt.Sprintf("incidents.alerts[%d]", i), "invalid alert name %q", a)
		}
	}
}

// locate returns the line of the node at path (e.g. "signals[1].source"),
// or of its deepest existing ancestor when the field is missing.
func locate(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, seg := range splitPath(path) {
		if idx, err := strconv.Atoi(seg); err == nil {
			if n.Kind != yaml.SequenceNode || idx < 0 || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
			continue
		}
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				line = n.Content[i].Line
				n = n.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}

// splitPath turns "signals[1].source" into "signals", "1", "source".
func splitPath(path string) []string {
	if path == "" {
		return nil
	}
	return strings.FieldsFunc(path, func(r rune) bool { return r == '.' || r == '[' || r == ']' })
}

// Label and alert names as Prometheus' classic (pre-UTF-8) rules have them,
// which is what alert rules and PromQL without quoting accept.
var (
	labelNameRE  = lazyRegexp(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	metricNameRE = lazyRegexp(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
)

var (
	lineRE         = lazyRegexp(`^line (\d+): (.*)$`)
	syntaxRE       = lazyRegexp(`^yaml: line (\d+): (.*)$`)
	unknownFieldRE = lazyRegexp(`^field (\S+) not found in type \S+$`)
	fieldErrorRE   = lazyRegexp(`^field ([^\s:]+): (.*)$`)
	quotedValueRE  = lazyRegexp("`([^`]*)`|\"([^\"]*)\"")
	unmarshalRE    = lazyRegexp("^cannot unmarshal !!\\w+ `(.*)` into (\\S+)$")
)

// lazyRegexp compiles expr on first use rather than at package
// initialisation: every augur command links this package, and most
// (forecast, detect, version) never read a configuration file, so the
// start of the process should not pay for its regexps.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// kindOf names a Go type the way a YAML author thinks of it.
func kindOf(goType string) string {
	t := strings.TrimPrefix(goType, "*")
	switch {
	case strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "int"):
		return "an integer"
	case t == "bool":
		return "a boolean"
	case t == "string" || t == "config.Secret":
		return "a string"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	default:
		return "a mapping"
	}
}

// decodeError turns yaml.v3's "line N: reason" messages into Errors with the
// field path of the offending key.
func decodeError(file string, err error) error {
	msg := err.Error()
	if m := syntaxRE().FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: m[2]}
	}
	return &Error{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// addTypeErrors adds the decoding's type errors to the validation's,
// whose own about the same fields or their parents (left at their defaults
// or zero, or partly decoded) they replace; one without a field (the
// document is not a mapping) replaces them all.
func (v *validator) addTypeErrors(errs []*Error) {
	covers := func(te, e *Error) bool {
		return te.Path == "" || e.Path == te.Path || strings.HasPrefix(te.Path, e.Path+".") || strings.HasPrefix(te.Path, e.Path+"[")
	}
	v.errs = slices.DeleteFunc(v.errs, func(e *Error) bool {
		return slices.ContainsFunc(errs, func(te *Error) bool { return covers(te, e) })
	})
	v.errs = append(v.errs, errs...)
}

// typeErrors turns yaml's type errors into errors naming line and field.
func typeErrors(data []byte, file string, te *yaml.TypeError) []*Error {
	var root yaml.Node
	// Decoding got as far as type errors, so the syntax is valid.
	_ = yaml.Unmarshal(data, &root)
	errs := make([]*Error, 0, len(te.Errors))
	for _, s := range te.Errors {
		m := lineRE().FindStringSubmatch(s)
		if m == nil {
			errs = append(errs, &Error{File: file, Msg: s})
			continue
		}
		line, _ := strconv.Atoi(m[1])
		msg := m[2]
		key, value := "", ""
		if u := unknownFieldRE().FindStringSubmatch(msg); u != nil {
			key = u[1]
			msg = fmt.Sprintf("unknown field %q", key)
		} else if u := fieldErrorRE().FindStringSubmatch(msg); u != nil {
			key, msg = u[1], u[2]
		} else if u := unmarshalRE().FindStringSubmatch(msg); u != nil {
			value = u[1]
			msg = fmt.Sprintf("cannot parse %q as %s", value, kindOf(u[2]))
		} else if q := quotedValueRE().FindStringSubmatch(msg); q != nil {
			value = q[1] + q[2]
		}
		errs = append(errs, &Error{File: file, Line: line, Path: pathAt(&root, line, key, value), Msg: msg})
	}
	return errs
}

// pathAt finds the field path of the key on line whose name is key (if
// given) or whose scalar value is value (if given); otherwise the first key on
// that line. It returns "" when nothing matches.
func pathAt(root *yaml.Node, line int, key, value string) string {
	var first, best string
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if c.Line == line && c.Kind == yaml.ScalarNode && best == "" && value != "" && c.Value == value {
					best = p
				}
				walk(c, p)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, val := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if k.Line == line {
					if first == "" {
						first = p
					}
					if best == "" && ((key != "" && k.Value == key) || (value != "" && val.Kind == yaml.ScalarNode && val.Value == value)) {
						best = p
					}
				}
				walk(val, p)
			}
		}
	}
	walk(root, "")
	if best != "" {
		return best
	}
	return first
}
