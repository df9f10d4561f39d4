package engine

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/augur-sre/augur/ingest"
)

// exporterSource serves the demo fleet's series labelled as Prometheus
// labels its exporters' targets: node_exporter's series (cpu, memory) at
// instance="<host>:9100", job="node", postgres_exporter's (connections,
// max_connections) at instance="<host>:9187", job="postgres", without the
// demo's own host label. It changes labels only.
type exporterSource struct{ ingest.Source }

func (s exporterSource) Range(ctx context.Context, q string, start, end time.Time, step time.Duration) ([]ingest.Series, error) {
	got, err := s.Source.Range(ctx, q, start, end, step)
	port, job := "9100", "node"
	if strings.Contains(q, "connections") {
		port, job = "9187", "postgres"
	}
	for i, ss := range got {
		l := map[string]string{"instance": ss.Labels["host"] + ":" + port, "job": job}
		if v, ok := ss.Labels["__name__"]; ok {
			l["__name__"] = v
		}
		got[i].Labels = l
	}
	return got, err
}

func exporterEngine(t *testing.T, entity string, rules ...*relabel.Config) *Engine {
	t.Helper()
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Start: demoAnchor, History: 3 * day, Clock: func() time.Time { return demoAnchor }})
	src := exporterSource{demo}
	var sigs []Signal
	for _, name := range []string{"cpu", "memory", "connections"} {
		s := Signal{Name: name, SourceName: "prom", Source: src, Query: name, Entity: entity, Limit: 100, Relabel: rules}
		if name == "connections" {
			s.Limit, s.LimitQuery = math.NaN(), "max_connections"
		}
		sigs = append(sigs, s)
	}
	e, err := New(Options{Signals: sigs, Step: time.Minute, History: 3 * day, Horizon: time.Hour, Now: demo.Now, Tick: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	e.Evaluate(context.Background())
	return e
}

// TestEntityRelabel checks that entity relabelling joins two exporters of
// one host into one entity, limits included, that a drop rule drops
// series, and that the source's job and instance reach the outputs as
// exported_job and exported_instance.
func TestEntityRelabel(t *testing.T) {
	join := &relabel.Config{
		SourceLabels: model.LabelNames{"instance"}, Separator: ";", Regex: relabel.MustNewRegexp(`(.+):\d+`),
		TargetLabel: "host", Replacement: "$1", Action: relabel.Replace, NameValidationScheme: model.LegacyValidation,
	}
	dropWeb := &relabel.Config{
		SourceLabels: model.LabelNames{"host"}, Separator: ";", Regex: relabel.MustNewRegexp(`web-.*`),
		Action: relabel.Drop, NameValidationScheme: model.LegacyValidation,
	}
	t.Run("joined by host", func(t *testing.T) {
		e := exporterEngine(t, "host", join, dropWeb)
		risks, err := e.Failures(0)
		if err != nil {
			t.Fatal(err)
		}
		// The demo's eight hosts, less its web hosts, each with all three signals.
		if len(risks) == 0 || len(risks) >= 8 {
			t.Fatalf("%d entities, want the demo's non-web hosts", len(risks))
		}
		for _, r := range risks {
			if strings.Contains(r.Entity, ":") || strings.HasPrefix(r.Entity, "web-") || r.EntityLabel != "host" || len(r.Factors) != 3 {
				t.Errorf("entity %q (label %q) with %d factors; want a non-web host without port, three signals", r.Entity, r.EntityLabel, len(r.Factors))
			}
			for _, f := range r.Factors {
				if f.Labels["host"] != r.Entity || f.Labels["instance"] != "" || f.Labels["job"] != "" || !strings.HasPrefix(f.Labels["exported_instance"], r.Entity+":") || f.Labels["exported_job"] == "" {
					t.Errorf("%s %s: labels %v; want host, exported_instance and exported_job", r.Entity, f.Signal, f.Labels)
				}
				if f.Signal == "connections" && f.Limit == nil {
					t.Errorf("%s: connections without their limit: the limit series were not joined", r.Entity)
				}
			}
		}
	})
	t.Run("by instance", func(t *testing.T) {
		e := exporterEngine(t, "instance")
		risks, err := e.Failures(0)
		if err != nil {
			t.Fatal(err)
		}
		if len(risks) != 16 {
			t.Fatalf("%d entities, want the two targets of each of the eight hosts", len(risks))
		}
		for _, r := range risks {
			if r.EntityLabel != "exported_instance" {
				t.Errorf("entity %s named by %q, want exported_instance", r.Entity, r.EntityLabel)
			}
		}
	})
}

func TestExportedLabel(t *testing.T) {
	for in, want := range map[string]string{
		"job": "exported_job", "instance": "exported_instance", "exported_instance": "exported_exported_instance",
		"host": "host", "exported_host": "exported_host", "jobs": "jobs", "metric": "metric",
	} {
		if got := ExportedLabel(in); got != want {
			t.Errorf("ExportedLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
