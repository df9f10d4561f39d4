package config

import (
	"path/filepath"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
)

// TestEntityRelabel reads testdata/full.yml's global and per-signal rules
// and runs them with Prometheus' relabel.Process: the global rule joins
// node_exporter's and postgres_exporter's instance into one host, the
// signal's drops template databases, and both survive --config.print.
func TestEntityRelabel(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "full.yml"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse([]byte(c.String()), "printed.yml")
	if err != nil {
		t.Fatalf("printed config does not parse: %v\n%s", err, c.String())
	}
	for _, cfg := range []*Config{c, again} {
		var conns, cpu *SignalConfig
		for i := range cfg.Signals {
			switch cfg.Signals[i].Name {
			case "connections":
				conns = &cfg.Signals[i]
			case "cpu":
				cpu = &cfg.Signals[i]
			}
		}
		f := func(rules []*relabel.Config, in, want map[string]string) {
			t.Helper()
			got, keep := relabel.Process(labels.FromMap(in), rules...)
			switch {
			case want == nil && keep:
				t.Errorf("%v kept as %v, want it dropped", in, got)
			case want != nil && !keep:
				t.Errorf("%v dropped, want %v", in, want)
			case want != nil && !labels.Equal(got, labels.FromMap(want)):
				t.Errorf("%v relabelled to %v, want %v", in, got, want)
			}
		}
		if n := len(cfg.EntityRelabel(conns)); n != 2 {
			t.Fatalf("connections has %d rules, want the global one then its own", n)
		}
		f(cfg.EntityRelabel(conns), map[string]string{"instance": "db-2:9187", "datname": "app"}, map[string]string{"instance": "db-2:9187", "datname": "app", "host": "db-2"})
		f(cfg.EntityRelabel(conns), map[string]string{"instance": "db-2:9187", "datname": "template1"}, nil)
		f(cfg.EntityRelabel(cpu), map[string]string{"instance": "db-2:9100", "datname": "template1"}, map[string]string{"instance": "db-2:9100", "datname": "template1", "host": "db-2"})
		f(cfg.EntityRelabel(nil), map[string]string{"alertname": "HostOutOfMemory", "instance": "web-1"}, map[string]string{"alertname": "HostOutOfMemory", "instance": "web-1"})
	}
}
