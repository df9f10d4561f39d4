package main

import (
	"testing"

	"github.com/augur-sre/augur/config"
)

// TestIncidentEntity checks that alerts map to the entities the signals'
// series do: through the global entity relabelling, by the signals' entity
// label, then by augur's own exported name of it.
func TestIncidentEntity(t *testing.T) {
	parse := func(yml string) *config.Config {
		t.Helper()
		c, err := config.Parse([]byte(yml), "augur.yml")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	joined := parse(`global:
  entity_relabel_configs:
    - {source_labels: [instance], regex: '(.+):\d+', target_label: host}
    - {source_labels: [alertname], regex: Watchdog, action: drop}
sources: [{name: prom, type: prometheus, url: 'http://p:9090'}]
signals: [{name: cpu, query: up, entity: host}]
`)
	byInstance := parse(`sources: [{name: prom, type: prometheus, url: 'http://p:9090'}]
signals: [{name: cpu, query: up}]
`)
	f := func(c *config.Config, l map[string]string, want string) {
		t.Helper()
		if got := incidentEntity(c)(l); got != want {
			t.Errorf("alert %v: entity %q, want %q", l, got, want)
		}
	}
	f(joined, map[string]string{"alertname": "PostgresTooManyConnections", "instance": "db-2:9187"}, "db-2")
	f(joined, map[string]string{"alertname": "FailurePredicted", "host": "db-2"}, "db-2")
	f(joined, map[string]string{"alertname": "Watchdog", "instance": "db-2:9187"}, "")
	f(joined, map[string]string{"alertname": "NodeDown", "pod": "api-7"}, "api-7")
	f(byInstance, map[string]string{"alertname": "HostOutOfMemory", "instance": "db-2:9100"}, "db-2:9100")
	f(byInstance, map[string]string{"alertname": "FailurePredicted", "exported_instance": "db-2:9100"}, "db-2:9100")
	f(byInstance, map[string]string{"alertname": "Other"}, "")
}
