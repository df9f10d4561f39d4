package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	yamlv2 "go.yaml.in/yaml/v2"
	"gopkg.in/yaml.v3"
)

// RemoteWriteConfig is one entry of remote_write: Prometheus' own
// remote_write block (github.com/prometheus/prometheus/config), with its
// fields (url, basic_auth, authorization, bearer_token_file, tls_config,
// write_relabel_configs, queue_config, ...), its defaults and its
// validation, so that a block copied from a prometheus.yml works as it is.
// It is read so that an unknown field or a value that does not parse is
// reported at its own line, like any other problem of the file, rather
// than ending the decoding.
type RemoteWriteConfig struct {
	promconfig.RemoteWriteConfig
	// problem is Prometheus' objection to the block as a whole (two kinds
	// of credentials, a reserved header), which the validator reports at
	// the block.
	problem string
	// decodeErrs are the block's unknown fields and values that do not
	// parse, as yaml.TypeError lines. They are kept rather than returned,
	// which would drop the block from the list and shift the index of the
	// blocks after it in the validator's paths.
	decodeErrs []string
}

// UnmarshalYAML checks the block's keys and values, each at its line,
// then decodes it with Prometheus' own decoding: its defaults and checks.
func (c *RemoteWriteConfig) UnmarshalYAML(n *yaml.Node) error {
	*c = RemoteWriteConfig{}
	if n.Kind != yaml.MappingNode {
		c.decodeErrs = []string{fmt.Sprintf("line %d: expected a remote_write block (a mapping of url, basic_auth, queue_config...), got %q", n.Line, n.Value)}
		return nil
	}
	if c.decodeErrs = checkFields(n, reflect.TypeFor[promconfig.RemoteWriteConfig]()); len(c.decodeErrs) > 0 {
		return nil
	}
	err := n.Decode(&c.RemoteWriteConfig)
	if err == nil {
		// As Prometheus' Config does after decoding: the rules' name
		// validation (without which relabelling a label panics), the
		// classic one as everywhere in augur's configuration.
		err = c.Validate(model.LegacyValidation)
	}
	var te *yaml.TypeError
	switch {
	case errors.As(err, &te):
		c.decodeErrs = te.Errors
	case err != nil:
		c.problem = err.Error()
	}
	return nil
}

// MarshalYAML writes the block as Prometheus writes it, secrets hidden.
func (c RemoteWriteConfig) MarshalYAML() (any, error) {
	b, err := yamlv2.Marshal(c.RemoteWriteConfig)
	if err != nil {
		return nil, fmt.Errorf("cannot marshal remote_write: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("cannot marshal remote_write: %w", err)
	}
	return m, nil
}

var (
	relabelType     = reflect.TypeFor[relabel.Config]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	// The yaml.v2 interface, which Prometheus' types implement and yaml.v3
	// still calls.
	unmarshalerV2Type = reflect.TypeFor[interface {
		UnmarshalYAML(func(any) error) error
	}]()
)

// checkNode returns, as yaml.TypeError lines, the problems of n as a
// value of type t: those checkFields finds, then whether n decodes on its
// own when it is a leaf or a type with its own decoding and checks (a URL,
// a duration, a TLS configuration). A value of a mapping is reported at
// the line of its key as "field KEY: reason", so that the problem names
// its field; line and key are those of the key n is the value of, key
// empty for a list item.
func checkNode(n *yaml.Node, t reflect.Type, line int, key string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == relabelType {
		// Checked by RelabelConfig, as entity_relabel_configs are.
		var r RelabelConfig
		var te *yaml.TypeError
		if err := n.Decode(&r); errors.As(err, &te) {
			return te.Errors
		} else if err != nil {
			return []string{fmt.Sprintf("line %d: %v", n.Line, err)}
		}
		if err := (*relabel.Config)(&r).Validate(model.LegacyValidation); err != nil {
			return []string{fmt.Sprintf("line %d: %v", n.Line, err)}
		}
		return nil
	}
	if errs := checkFields(n, t); len(errs) > 0 {
		return errs
	}
	pt := reflect.PointerTo(t)
	if n.Kind != yaml.ScalarNode && !pt.Implements(unmarshalerType) && !pt.Implements(unmarshalerV2Type) {
		return nil
	}
	err := n.Decode(reflect.New(t).Interface())
	var te *yaml.TypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		return te.Errors
	case key == "":
		return []string{fmt.Sprintf("line %d: cannot parse %q: %v", n.Line, n.Value, err)}
	case n.Kind == yaml.ScalarNode:
		return []string{fmt.Sprintf("line %d: field %s: cannot parse %q: %v", line, key, n.Value, err)}
	default:
		return []string{fmt.Sprintf("line %d: field %s: %v", line, key, err)}
	}
}

// checkFields returns the problems of the keys and values inside n, a
// mapping or list of type t: keys that struct t has no field for, and
// each value's own (checkNode).
func checkFields(n *yaml.Node, t reflect.Type) []string {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	var errs []string
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				errs = append(errs, fmt.Sprintf("line %d: field %s not found in type %s", k.Line, k.Value, t))
				continue
			}
			errs = append(errs, checkNode(v, ft, k.Line, k.Value)...)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, checkNode(n.Content[i+1], t.Elem(), n.Content[i].Line, n.Content[i].Value)...)
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for _, item := range n.Content {
			errs = append(errs, checkNode(item, t.Elem(), item.Line, "")...)
		}
	}
	return errs
}

// yamlFields maps the YAML keys of struct t to their fields' types, those
// of inline structs included.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case slices.Contains(strings.Split(opts, ","), "inline"):
			for k, v := range yamlFields(f.Type) {
				m[k] = v
			}
		case name == "":
			m[strings.ToLower(f.Name)] = f.Type
		default:
			m[name] = f.Type
		}
	}
	return m
}

// RemoteWriteConfigs returns the remote_write blocks as Prometheus'
// storage/remote takes them.
func (c *Config) RemoteWriteConfigs() []*promconfig.RemoteWriteConfig {
	out := make([]*promconfig.RemoteWriteConfig, len(c.RemoteWrite))
	for i := range c.RemoteWrite {
		out[i] = &c.RemoteWrite[i].RemoteWriteConfig
	}
	return out
}

// ExternalLabelSet returns global.external_labels with ${VAR} and $VAR in
// their values replaced by getenv's value ($$ is a $), as Prometheus'
// expand-external-labels feature does, so that one file gives each
// replica its own label (replica: ${POD_NAME}). A variable that is unset
// or empty is an error: an empty value would drop the label and make the
// replicas' series collide.
func (g *GlobalConfig) ExternalLabelSet(getenv func(string) string) (labels.Labels, error) {
	b := labels.NewScratchBuilder(len(g.ExternalLabels))
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(g.ExternalLabels)) {
		v := os.Expand(g.ExternalLabels[k], func(name string) string {
			if name == "$" {
				return "$"
			}
			e := getenv(name)
			if e == "" {
				errs = append(errs, fmt.Errorf("global.external_labels.%s: environment variable %s is empty or unset", k, name))
			}
			return e
		})
		b.Add(k, v)
	}
	return b.Labels(), errors.Join(errs...)
}

// remoteWrite reports a remote_write block's problems: those of its
// decoding, or else those augur checks at their fields, then Prometheus'
// own objection to the block, if any.
func (v *validator) remoteWrite(p string, c *RemoteWriteConfig, all []RemoteWriteConfig, i int) {
	if len(c.decodeErrs) > 0 {
		// The rest of the block is not decoded: only these are known.
		v.errs = append(v.errs, typeErrors(v.data, v.file, &yaml.TypeError{Errors: c.decodeErrs})...)
		return
	}
	n := len(v.errs)
	if c.URL == nil {
		v.errorf(p+".url", "missing URL of the remote-write receiver")
	} else if err := validURL(c.URL.String()); err != nil {
		v.errorf(p+".url", "invalid URL %q: %v", c.URL.Redacted(), err)
	}
	if c.RemoteTimeout <= 0 {
		v.errorf(p+".remote_timeout", "must be positive, got %s", c.RemoteTimeout)
	}
	q := c.QueueConfig
	qp := p + ".queue_config"
	for _, f := range []struct {
		name string
		v    int
	}{{"capacity", q.Capacity}, {"max_shards", q.MaxShards}, {"max_samples_per_send", q.MaxSamplesPerSend}} {
		if f.v < 1 {
			v.errorf(qp+"."+f.name, "must be at least 1, got %d", f.v)
		}
	}
	if q.MinShards < 1 || q.MinShards > q.MaxShards && q.MaxShards >= 1 {
		v.errorf(qp+".min_shards", "must be in [1, max_shards (%d)], got %d", q.MaxShards, q.MinShards)
	}
	for _, f := range []struct {
		name string
		d    model.Duration
	}{{"batch_send_deadline", q.BatchSendDeadline}, {"min_backoff", q.MinBackoff}, {"max_backoff", q.MaxBackoff}} {
		if f.d <= 0 {
			v.errorf(qp+"."+f.name, "must be positive, got %s", f.d)
		}
	}
	if q.MinBackoff > 0 && q.MaxBackoff > 0 && q.MaxBackoff < q.MinBackoff {
		v.errorf(qp+".max_backoff", "must be at least min_backoff (%s), got %s", q.MinBackoff, q.MaxBackoff)
	}
	if q.SampleAgeLimit < 0 {
		v.errorf(qp+".sample_age_limit", "must not be negative, got %s", q.SampleAgeLimit)
	}
	for j := range i {
		switch {
		case c.Name != "" && all[j].Name == c.Name:
			v.errorf(p+".name", "duplicate remote_write name %q (also remote_write[%d])", c.Name, j)
		case reflect.DeepEqual(all[j].RemoteWriteConfig, c.RemoteWriteConfig):
			v.errorf(p, "the same block as remote_write[%d]: Prometheus' remote write refuses duplicates", j)
		}
	}
	if h := c.HTTPClientConfig; h.BasicAuth != nil || h.OAuth2 != nil || h.Authorization != nil {
		for _, f := range []struct {
			name string
			set  bool
		}{{"bearer_token", h.BearerToken != ""}, {"bearer_token_file", h.BearerTokenFile != ""}} {
			if f.set {
				v.errorf(p+"."+f.name, "at most one of basic_auth, authorization, oauth2 and %s may be set", f.name)
			}
		}
	}
	if len(v.errs) == n && c.problem != "" {
		v.errorf(p, "%s", c.problem)
	}
}

// externalLabels reports the problems of global.external_labels.
func (v *validator) externalLabels(ls map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(ls)) {
		p := "global.external_labels." + k
		switch {
		case !labelNameRE().MatchString(k):
			v.errorf(p, "invalid label name %q", k)
		case strings.HasPrefix(k, "__"):
			v.errorf(p, "label names starting with __ are reserved")
		case ls[k] == "":
			v.errorf(p, "empty value: an external label needs one")
		}
	}
}
