package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
)

// ExportedLabel is the name the engine's outputs give a source label: a
// Prometheus scraping augur attaches its own job and instance (augur's),
// so a source's job and instance become exported_job and exported_instance,
// as Prometheus itself renames clashing labels with honor_labels: false
// (scrape/target.go). A source label that is already exported_job gains
// another prefix, so that no two source labels share an output name. The
// same names are in the TSDB, the Prometheus API, /metrics and the alerts,
// and they do not depend on how augur is scraped.
func ExportedLabel(name string) string {
	base := name
	for strings.HasPrefix(base, model.ExportedLabelPrefix) {
		base = base[len(model.ExportedLabelPrefix):]
	}
	if base == model.JobLabel || base == model.InstanceLabel {
		return model.ExportedLabelPrefix + name
	}
	return name
}

// relabel applies the signal's Relabel rules to a series' source labels,
// its metric name as __name__ as Prometheus' relabelling sees it. keep is
// false when a rule drops the series. As after Prometheus' target
// relabelling, labels starting with __ other than __name__ are removed,
// so rules can use them as temporary labels. Without rules src is
// returned as it is.
func (sig *Signal) relabel(src map[string]string) (_ map[string]string, keep bool) {
	if len(sig.Relabel) == 0 {
		return src, true
	}
	ls, keep := relabel.Process(labels.FromMap(src), sig.Relabel...)
	if !keep {
		return nil, false
	}
	out := make(map[string]string, ls.Len())
	ls.Range(func(l labels.Label) {
		if l.Name == labels.MetricName || !strings.HasPrefix(l.Name, "__") {
			out[l.Name] = l.Value
		}
	})
	return out, true
}

// seriesLabels returns the identity of a series: its source labels (the
// source's metric name moved to "metric", target labels renamed by
// ExportedLabel), the signal's static labels and "signal".
func seriesLabels(sig *Signal, src map[string]string) map[string]string {
	l := make(map[string]string, len(src)+len(sig.Labels)+1)
	for k, v := range src {
		if k == labels.MetricName {
			k = "metric"
		}
		l[ExportedLabel(k)] = v
	}
	for k, v := range sig.Labels {
		l[ExportedLabel(k)] = v
	}
	l["signal"] = sig.Name
	return l
}

// LabelsKey is the canonical string form of a label set, {a="1", b="2"},
// by which the engine orders series.
func LabelsKey(l map[string]string) string {
	names := make([]string, 0, len(l))
	for k := range l {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", k, l[k])
	}
	b.WriteByte('}')
	return b.String()
}
