package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
	yamlv2 "go.yaml.in/yaml/v2"
	"gopkg.in/yaml.v3"
)

// RelabelConfig is one rule of an entity_relabel_configs list: Prometheus'
// relabel_config (github.com/prometheus/prometheus/model/relabel), with
// its fields, defaults and semantics. It is read so that an unknown field,
// a bad action or a bad regex is reported at its own line like any other
// problem of the file, instead of ending the decoding.
type RelabelConfig relabel.Config

// relabelFields are the YAML keys of relabel.Config, found on first use
// (see lazyRegexp).
var relabelFields = sync.OnceValue(func() map[string]bool {
	t := reflect.TypeFor[relabel.Config]()
	m := map[string]bool{}
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			m[name] = true
		}
	}
	return m
})

// UnmarshalYAML checks the rule's keys, its action and its regex, each at
// its line, then decodes it with relabel.Config's own defaults. Names are
// validated as Prometheus' classic label names, as everywhere else in
// augur's configuration.
func (c *RelabelConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: expected a relabel rule (a mapping of source_labels, regex, target_label, replacement, action...), got %q", n.Line, n.Value)}}
	}
	var errs []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var err error
		switch {
		case !relabelFields()[k.Value]:
			errs = append(errs, fmt.Sprintf("line %d: field %s not found in type relabel.Config", k.Line, k.Value))
		case k.Value == "action":
			var a relabel.Action
			err = v.Decode(&a)
		case k.Value == "regex":
			var re relabel.Regexp
			if err = v.Decode(&re); err != nil && v.Kind == yaml.ScalarNode {
				err = fmt.Errorf("invalid regex %q: %w", v.Value, err)
			}
		}
		var te *yaml.TypeError
		switch {
		case errors.As(err, &te):
			errs = append(errs, te.Errors...)
		case err != nil:
			errs = append(errs, fmt.Sprintf("line %d: %v", v.Line, err))
		}
	}
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	if err := n.Decode((*relabel.Config)(c)); err != nil {
		return err
	}
	c.NameValidationScheme = model.LegacyValidation
	return nil
}

// MarshalYAML writes the rule as Prometheus writes it.
func (c RelabelConfig) MarshalYAML() (any, error) {
	b, err := yamlv2.Marshal(relabel.Config(c))
	if err != nil {
		return nil, fmt.Errorf("cannot marshal relabel rule: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("cannot marshal relabel rule: %w", err)
	}
	return m, nil
}

// EntityRelabel returns the entity relabelling of sig's series: the global
// rules, then the signal's own. With a nil sig it returns the global rules
// alone, those of incidents, which belong to no signal.
func (c *Config) EntityRelabel(sig *SignalConfig) []*relabel.Config {
	rules := c.Global.EntityRelabelConfigs
	if sig != nil {
		rules = append(rules[:len(rules):len(rules)], sig.EntityRelabelConfigs...)
	}
	out := make([]*relabel.Config, len(rules))
	for i := range rules {
		out[i] = (*relabel.Config)(&rules[i])
	}
	return out
}

// relabelRules reports the rules' problems that only the whole rule shows
// (an action without the fields it needs), at the rule.
func (v *validator) relabelRules(p string, rules []RelabelConfig) {
	for i := range rules {
		if err := (*relabel.Config)(&rules[i]).Validate(model.LegacyValidation); err != nil {
			v.errorf(fmt.Sprintf("%s[%d]", p, i), "%v", err)
		}
	}
}
