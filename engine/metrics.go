package engine

import "github.com/prometheus/client_golang/prometheus"

// engineMetrics instruments the engine itself; the scores are exported by
// api's collector at scrape time.
type engineMetrics struct {
	fitDuration prometheus.Histogram
	series      *prometheus.GaugeVec
	errors      *prometheus.CounterVec
	sourceUp    *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec

	refitDuration  prometheus.Gauge
	evalDuration   prometheus.Histogram
	appended       prometheus.Counter
	appendDuration prometheus.Histogram
}

func newEngineMetrics(reg prometheus.Registerer) *engineMetrics {
	m := &engineMetrics{
		fitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "augur_fit_duration_seconds",
			Help:    "Time taken to fit the models of one series.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}),
		series: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "augur_series",
			Help: "Number of series modelled, per signal.",
		}, []string{"signal"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "augur_errors_total",
			Help: "Errors, by component (ingest, fit, tsdb).",
		}, []string{"component"}),
		sourceUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "augur_source_up",
			Help: "Whether the last query to the source succeeded (1) or not (0).",
		}, []string{"source"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "augur_signal_last_success_timestamp_seconds",
			Help: "Unix time of the last successful fetch of the signal.",
		}, []string{"signal"}),
		evalDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "augur_evaluation_duration_seconds",
			Help:    "Time taken by one evaluation: fetch, update, score, failure probabilities, TSDB appends and the State.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		refitDuration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "augur_refit_duration_seconds",
			Help: "Wall time of the last batch of refits of every series.",
		}),
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "augur_tsdb_appended_samples_total",
			Help: "Samples the engine appended to its embedded TSDB.",
		}),
		appendDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "augur_tsdb_append_duration_seconds",
			Help:    "Time taken to append an evaluation's times to limit and failure probabilities to the embedded TSDB.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
	}
	m.errors.WithLabelValues("tsdb")
	m.errors.WithLabelValues("ingest")
	m.errors.WithLabelValues("fit")
	if reg != nil {
		reg.MustRegister(m.fitDuration, m.series, m.errors, m.sourceUp, m.lastSuccess, m.evalDuration, m.refitDuration, m.appended, m.appendDuration)
	}
	return m
}
