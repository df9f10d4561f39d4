package api

import (
	"time"

	"github.com/augur-sre/augur/engine"
)

// The REST API's response types. The engine's domain types carry no JSON
// tags: this file is the one place that decides the wire form (names,
// omissions), and wireJSON writes a non-finite float as null. A field added
// to a domain type reaches the API once it is mapped here.

type wireQuantiles struct {
	P10 *float64 `json:"p10"`
	P50 *float64 `json:"p50"`
	P90 *float64 `json:"p90"`
}

func toQuantiles(q engine.Quantiles) wireQuantiles { return wireQuantiles(q) }

type wireBand struct {
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
}

func toBand(b *engine.Band) *wireBand {
	if b == nil {
		return nil
	}
	return &wireBand{b.Lower, b.Upper}
}

type wireFactor struct {
	Signal              string            `json:"signal"`
	Labels              map[string]string `json:"labels"`
	Share               float64           `json:"share"`
	Value               float64           `json:"value"`
	Limit               *float64          `json:"limit,omitempty"`
	Band                *wireBand         `json:"band,omitempty"`
	AnomalyScore        float64           `json:"anomaly_score"`
	EntityShare         float64           `json:"entity_share"`
	CrossingProbability float64           `json:"crossing_probability"`
	ETASeconds          wireQuantiles     `json:"eta_seconds"`
}

type wireEntityRisk struct {
	Entity              string        `json:"entity"`
	EntityLabel         string        `json:"entity_label"`
	FailureProbability  float64       `json:"failure_probability"`
	CrossingProbability float64       `json:"crossing_probability"`
	AnomalyEvidence     float64       `json:"anomaly_evidence"`
	EntityScore         float64       `json:"entity_score"`
	Severity            string        `json:"severity"`
	ETASeconds          wireQuantiles `json:"eta_seconds"`
	Factors             []wireFactor  `json:"factors"`
}

func toEntityRisks(rs []engine.EntityRisk) []wireEntityRisk {
	out := make([]wireEntityRisk, len(rs))
	for i, r := range rs {
		fs := make([]wireFactor, len(r.Factors))
		for j, f := range r.Factors {
			fs[j] = wireFactor{f.Signal, f.Labels, f.Share, f.Value, f.Limit, toBand(f.Band), f.AnomalyScore, f.EntityShare, f.CrossingProbability, toQuantiles(f.ETASeconds)}
		}
		out[i] = wireEntityRisk{r.Entity, r.EntityLabel, r.FailureProbability, r.CrossingProbability, r.AnomalyEvidence, r.EntityScore, r.Severity, toQuantiles(r.ETASeconds), fs}
	}
	return out
}

type wirePoint struct {
	Time     time.Time `json:"time"`
	Forecast float64   `json:"forecast"`
	Lower    float64   `json:"lower"`
	Upper    float64   `json:"upper"`
}

func toPoint(p engine.Point) wirePoint { return wirePoint(p) }

type wireSeriesForecast struct {
	Labels map[string]string `json:"labels"`
	Model  string            `json:"model"`
	Level  float64           `json:"level"`
	Points []wirePoint       `json:"points"`
}

func toForecasts(fs []engine.SeriesForecast) []wireSeriesForecast {
	out := make([]wireSeriesForecast, len(fs))
	for i, f := range fs {
		ps := make([]wirePoint, len(f.Points))
		for j, p := range f.Points {
			ps[j] = toPoint(p)
		}
		out[i] = wireSeriesForecast{f.Labels, f.Model, f.Level, ps}
	}
	return out
}

type wireCapacity struct {
	Labels              map[string]string `json:"labels"`
	Threshold           float64           `json:"threshold"`
	Value               float64           `json:"value"`
	ETASeconds          wireQuantiles     `json:"eta_seconds"`
	CrossingProbability float64           `json:"crossing_probability"`
	AtHorizon           wirePoint         `json:"at_horizon"`
	GrowthPerDay        float64           `json:"growth_per_day"`
	Reached             bool              `json:"reached"`
}

func toCapacities(cs []engine.Capacity) []wireCapacity {
	out := make([]wireCapacity, len(cs))
	for i, c := range cs {
		out[i] = wireCapacity{c.Labels, c.Threshold, c.Value, toQuantiles(c.ETASeconds), c.CrossingProbability, toPoint(c.AtHorizon), c.GrowthPerDay, c.Reached}
	}
	return out
}

type wireSelection struct {
	MASE       *float64            `json:"mase"`
	Candidates map[string]*float64 `json:"candidates"`
	Horizon    int                 `json:"horizon_steps"`
}

type wireSeriesTarget struct {
	Labels       map[string]string  `json:"labels"`
	Model        string             `json:"model"`
	Parameters   map[string]float64 `json:"parameters,omitempty"`
	Points       int                `json:"points"`
	LastSample   *time.Time         `json:"last_sample,omitempty"`
	LastFit      *time.Time         `json:"last_fit,omitempty"`
	FitSeconds   float64            `json:"fit_seconds"`
	FitError     string             `json:"fit_error,omitempty"`
	CounterLike  bool               `json:"counter_like,omitempty"`
	Selection    *wireSelection     `json:"selection,omitempty"`
	AnomalyScore float64            `json:"anomaly_score"`
	WarmingUp    bool               `json:"warming_up,omitempty"`
}

type wireProblem struct {
	Health   string   `json:"health"`
	Message  string   `json:"message"`
	Count    int      `json:"count,omitempty"`
	Entities []string `json:"entities,omitempty"`
	Points   []int    `json:"points,omitempty"`
}

type wireSignalTarget struct {
	Signal      string             `json:"signal"`
	Source      string             `json:"source"`
	Query       string             `json:"query"`
	Health      string             `json:"health"`
	Problems    []wireProblem      `json:"problems,omitempty"`
	LastError   string             `json:"last_error,omitempty"`
	LastSuccess *time.Time         `json:"last_success,omitempty"`
	Series      []wireSeriesTarget `json:"series"`
}

func toTargets(ts []engine.SignalTarget) []wireSignalTarget {
	out := make([]wireSignalTarget, len(ts))
	for i, t := range ts {
		ss := make([]wireSeriesTarget, len(t.Series))
		for j, s := range t.Series {
			var sel *wireSelection
			if s.Selection != nil {
				sel = &wireSelection{s.Selection.MASE, s.Selection.Candidates, s.Selection.Horizon}
			}
			ss[j] = wireSeriesTarget{s.Labels, s.Model, s.Parameters, s.Points, s.LastSample, s.LastFit, s.FitSeconds, s.FitError, s.CounterLike, sel, s.AnomalyScore, s.WarmingUp}
		}
		var ps []wireProblem
		for _, p := range t.Problems {
			ps = append(ps, wireProblem{string(p.Health), p.Message, p.Count, p.Entities, p.Points})
		}
		out[i] = wireSignalTarget{t.Signal, t.Source, t.Query, string(t.Health), ps, t.LastError, t.LastSuccess, ss}
	}
	return out
}

type wireCalibration struct {
	Raw        []float64 `json:"raw"`
	Calibrated []float64 `json:"calibrated"`
	Examples   int       `json:"examples"`
	Positives  int       `json:"positives"`
	Prior      bool      `json:"prior"` // true while too few incidents are known
	Note       string    `json:"note,omitempty"`
	// FailureModel is the learned failure model, when one is configured.
	FailureModel *wireFailureModel `json:"failure_model,omitempty"`
}

type wireFailureModel struct {
	Mode              string     `json:"mode"`
	InUse             bool       `json:"in_use"`
	Trained           *time.Time `json:"trained,omitempty"`
	Incidents         int        `json:"incidents"`
	Epochs            []int      `json:"epochs"`
	Alpha             float64    `json:"alpha"`
	LogLoss           *float64   `json:"log_loss,omitempty"`
	CalibratedLogLoss *float64   `json:"calibrated_log_loss,omitempty"`
	FullLogLoss       *float64   `json:"full_log_loss,omitempty"`
	HeldOut           int        `json:"held_out"`
	Brier             *float64   `json:"brier,omitempty"`
	CalibratedBrier   *float64   `json:"calibrated_brier,omitempty"`
	BaseRateBrier     *float64   `json:"base_rate_brier,omitempty"`
	TrainSeconds      float64    `json:"train_seconds"`
	Note              string     `json:"note,omitempty"`
}

func toCalibration(c engine.Calibration) wireCalibration {
	w := wireCalibration{c.Raw, c.Calibrated, c.Examples, c.Positives, c.Prior, c.Note, nil}
	if fm := c.FailureModel; fm != nil {
		f := wireFailureModel(*fm)
		w.FailureModel = &f
	}
	return w
}
