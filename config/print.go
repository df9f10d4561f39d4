package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// encodeNode builds the YAML tree of v the way yaml.Marshal would (yaml tags,
// omitempty, Marshaler types) but chooses the style of strings itself:
// yaml.v3 writes some multi-line strings (a leading newline or blank, tabs)
// as literal blocks that it cannot read back, and its Node.Encode goes
// through that same text, so a Config with such a query would not survive
// --config.print.
func encodeNode(v reflect.Value) (*yaml.Node, error) {
	if v.Kind() != reflect.Pointer && v.CanInterface() {
		if m, ok := v.Interface().(yaml.Marshaler); ok {
			out, err := m.MarshalYAML()
			if err != nil {
				return nil, err
			}
			return encodeNode(reflect.ValueOf(out))
		}
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
		}
		return encodeNode(v.Elem())
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" || name == "" {
				continue
			}
			fv := v.Field(i)
			if opts == "omitempty" && isEmpty(fv) {
				continue
			}
			val, err := encodeNode(fv)
			if err != nil {
				return nil, fmt.Errorf("cannot encode %s: %w", name, err)
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}, val)
		}
		return n, nil
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for i := 0; i < v.Len(); i++ {
			item, err := encodeNode(v.Index(i))
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, item)
		}
		return n, nil
	case reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			kn, err := encodeNode(k)
			if err != nil {
				return nil, err
			}
			vn, err := encodeNode(v.MapIndex(k))
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, kn, vn)
		}
		return n, nil
	case reflect.String:
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.String()}
		switch {
		case !safeLiteral(n.Value):
			n.Style = yaml.DoubleQuotedStyle
		case strings.Contains(n.Value, "\n"):
			n.Style = yaml.LiteralStyle
		}
		return n, nil
	default:
		// Numbers and booleans: yaml.v3's own formatting, which reads back.
		n := new(yaml.Node)
		if err := n.Encode(v.Interface()); err != nil {
			return nil, err
		}
		return n, nil
	}
}

// isEmpty is yaml's omitempty: the zero value, or an empty slice or map.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return v.IsZero()
}

// safeLiteral reports whether yaml.v3 writes and reads s back unchanged in
// its own style: any single line, or lines of printable characters that do
// not start with a newline or blank.
func safeLiteral(s string) bool {
	if !strings.Contains(s, "\n") {
		return strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
	}
	if s[0] == '\n' || s[0] == ' ' {
		return false
	}
	for _, r := range s {
		if r != '\n' && !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
