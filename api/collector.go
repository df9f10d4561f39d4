package api

import (
	"slices"
	"sort"
	"strconv"

	"github.com/augur-sre/augur/engine"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// scoreCollector exports the scores of the engine's published State at
// scrape time, so no label set outlives its series. It computes nothing:
// a scrape reads the State the last evaluation left, and caps the number
// of exported series.
type scoreCollector struct {
	engine  Engine
	max     int
	dropped prometheus.Gauge
}

func newScoreCollector(e Engine, max int) *scoreCollector {
	return &scoreCollector{engine: e, max: max, dropped: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "augur_exported_series_dropped",
		Help: "Score series left out of the last scrape by the max_exported_series cap.",
	})}
}

// Describe sends nothing: the label sets follow the data (an unchecked collector).
func (c *scoreCollector) Describe(chan<- *prometheus.Desc) {}

func (c *scoreCollector) Collect(ch chan<- prometheus.Metric) {
	n, dropped := 0, 0
	emit := func(name, help string, l map[string]string, v float64) {
		if n >= c.max {
			dropped++
			return
		}
		n++
		names := make([]string, 0, len(l))
		for k := range l {
			names = append(names, k)
		}
		sort.Strings(names)
		values := make([]string, len(names))
		for i, k := range names {
			values[i] = l[k]
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, names, nil), prometheus.GaugeValue, v, values...)
	}
	st := c.engine.State()
	c.signalHealth(ch, st.Signals)
	if st.Ready {
		horizon := model.Duration(st.Horizon).String()
		top := topFactorFits(st.Entities, st.Series, c.max)
		for _, r := range st.Entities {
			l := map[string]string{r.EntityLabel: r.Entity, "horizon": horizon}
			if top && len(r.Factors) > 0 && r.Factors[0].Share > 0 {
				l["top_factor"] = r.Factors[0].Signal
			}
			emit("augur_failure_probability", "Probability that the entity fails within the horizon.", l, r.FailureProbability)
		}
		for _, s := range st.Series {
			emit("augur_anomaly_score", "Degree to which the newest points are unexplained by the model, in [0,1].", s.Labels, s.AnomalyScore)
			for q, v := range map[float64]*float64{0.1: s.ETASeconds.P10, 0.5: s.ETASeconds.P50, 0.9: s.ETASeconds.P90} {
				if v == nil {
					continue
				}
				l := make(map[string]string, len(s.Labels)+1)
				for k, x := range s.Labels {
					l[k] = x
				}
				l["quantile"] = strconv.FormatFloat(q, 'f', -1, 64)
				emit("augur_time_to_limit_seconds", "Time until the series reaches its limit, by quantile: its capacity plan within a week, as /api/v1/capacity answers by default.", l, *v)
			}
		}
	}
	c.dropped.Set(float64(dropped))
	ch <- c.dropped
}

var signalHealthDesc = prometheus.NewDesc("augur_signal_health",
	"Whether the signal is in the given health (1) or not (0): up, or each of its problems (source_down, no_data, no_entity_label, no_limit); see /api/v1/targets.",
	[]string{"signal", "health"}, nil)

// signalHealth exports one series per signal and health, outside the cap:
// their number is fixed by the configuration.
func (c *scoreCollector) signalHealth(ch chan<- prometheus.Metric, signals []engine.SignalTarget) {
	for _, sig := range signals {
		for _, h := range engine.Healths {
			v := 0.0
			if sig.Health == h || slices.ContainsFunc(sig.Problems, func(p engine.Problem) bool { return p.Health == h }) {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(signalHealthDesc, prometheus.GaugeValue, v, sig.Signal, string(h))
		}
	}
}

// topFactorFits reports whether augur_failure_probability may carry the
// entity's top factor as a label. Each signal the top factor moves to
// starts a new series in Prometheus, so over time an entity may export one
// per signal; the label is added only while that worst case, with every
// score and ETA series, fits in the cap.
func topFactorFits(risks []engine.EntityRisk, scores []engine.SeriesState, limit int) bool {
	signals := map[string]bool{}
	n := 0
	for _, s := range scores {
		signals[s.Labels["signal"]] = true
		n++
		for _, q := range []*float64{s.ETASeconds.P10, s.ETASeconds.P50, s.ETASeconds.P90} {
			if q != nil {
				n++
			}
		}
	}
	return n+len(risks)*max(len(signals), 1) <= limit
}
