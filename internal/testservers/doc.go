// Package testservers starts real Prometheus and InfluxDB servers for
// integration tests (free loopback ports, temporary data directories,
// stop/pause/restart for fault tests) and generates the node_exporter-like
// history they are loaded with. Binaries come from PATH or the repository's
// .tools/bin, as installed by scripts/deps.sh; a missing one fails the test.
// Linux only: servers are tied to the test process with Pdeathsig.
package testservers
