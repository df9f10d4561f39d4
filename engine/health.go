package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/model"
)

// Health is a signal's condition as of its last fetch: the closed set of
// DESIGN.md's "Checks and warnings", and warming_up.
type Health string

const (
	// HealthUnknown is a signal not fetched yet.
	HealthUnknown Health = "unknown"
	// HealthUp is a signal whose last fetch found data for every entity
	// with the entity label and, when it has a limit_query, a limit.
	HealthUp Health = "up"
	// HealthSourceDown is a signal whose last fetch failed.
	HealthSourceDown Health = "source_down"
	// HealthNoData is a signal whose query returns no series.
	HealthNoData Health = "no_data"
	// HealthNoEntityLabel is a signal some of whose series (or limit
	// series) lack the entity label: they are left out, never merged into
	// an entity named "".
	HealthNoEntityLabel Health = "no_entity_label"
	// HealthNoLimit is a signal whose limit_query gives no limit for some
	// entities: their crossings are left out of the failure probability.
	HealthNoLimit Health = "no_limit"
	// HealthWarmingUp marks series with no model yet: too few points, or
	// awaiting their first fit.
	// It is informational: a new host is not a fault of the signal, so it
	// never makes a signal's Health, only one of its Problems.
	HealthWarmingUp Health = "warming_up"
)

// Healths are the values a signal's Health takes once fetched, worst
// first: augur_signal_health has one series per signal for each.
var Healths = []Health{HealthSourceDown, HealthNoData, HealthNoEntityLabel, HealthNoLimit, HealthUp}

// Problem is one reason a signal is not fully modelled.
type Problem struct {
	Health Health
	// Message says what is wrong, for warnings and logs (without the
	// signal's name).
	Message string
	// Count is the number of entities (no_limit, warming_up) or series
	// (no_entity_label) concerned; Entities names the first maxNamed of
	// them, and for warming_up Points their finite points.
	Count    int
	Entities []string
	Points   []int
}

// maxNamed bounds the entities a problem names: a broken limit_query on a
// fleet of thousands must not make every warning a page long.
const maxNamed = 10

// fetchReport is what a signal's fetches of one evaluation (or one check)
// found, the input of its data problems. Counting is per series, never
// per point.
type fetchReport struct {
	fetched bool
	err     error
	// series and limitSeries count the series of the query and the
	// limit_query; noEntity and limitNoEntity those of them without the
	// entity label, example the labels of one.
	series, limitSeries     int
	noEntity, limitNoEntity int
	example                 string
}

// merge adds the report of one fetch to the evaluation's: the chunks of a
// long first fetch return the same series again, so counts are the
// largest of one chunk.
func (r *fetchReport) merge(c *fetchReport) {
	r.fetched = true
	r.series, r.limitSeries = max(r.series, c.series), max(r.limitSeries, c.limitSeries)
	r.noEntity, r.limitNoEntity = max(r.noEntity, c.noEntity), max(r.limitNoEntity, c.limitNoEntity)
	if r.example == "" {
		r.example = c.example
	}
}

// entityOf returns the entity of a series of sig from its source labels
// after the signal's relabelling (not its identity, whose job and instance
// are renamed), or records in r that it has none.
func (r *fetchReport) entityOf(sig *Signal, labels map[string]string, limit bool) (string, bool) {
	if limit {
		r.limitSeries++
	} else {
		r.series++
	}
	if e := labels[sig.Entity]; e != "" {
		return e, true
	}
	if limit {
		r.limitNoEntity++
	} else {
		r.noEntity++
	}
	if r.example == "" {
		r.example = LabelsKey(labels)
	}
	return "", false
}

// addLimits records the latest finite value of each limit series in
// limits, by entity.
func (r *fetchReport) addLimits(limits map[string]float64, sig *Signal, series []ingest.Series) {
	for _, ls := range series {
		src, keep := sig.relabel(ls.Labels)
		if !keep {
			continue
		}
		e, ok := r.entityOf(sig, src, true)
		if !ok {
			continue
		}
		if v, ok := lastValue(ls.Samples); ok {
			limits[e] = v
		}
	}
}

// problems returns the data problems of sig that r shows, worst first;
// noLimit are the entities without a limit, sorted, of entities in all.
func (r *fetchReport) problems(sig *Signal, noLimit []string, entities int) []Problem {
	if r.err != nil {
		return []Problem{{Health: HealthSourceDown, Message: fmt.Sprintf("cannot fetch from source %q: %v", sig.SourceName, r.err)}}
	}
	if r.series == 0 {
		return []Problem{{Health: HealthNoData, Message: "the query returns no series"}}
	}
	var out []Problem
	if n := r.noEntity + r.limitNoEntity; n > 0 {
		var what []string
		if r.noEntity > 0 {
			what = append(what, fmt.Sprintf("%d of %d series of the query", r.noEntity, r.series))
		}
		if r.limitNoEntity > 0 {
			what = append(what, fmt.Sprintf("%d of %d series of the limit_query", r.limitNoEntity, r.limitSeries))
		}
		out = append(out, Problem{Health: HealthNoEntityLabel, Count: n, Message: fmt.Sprintf(
			"%s lack the entity label %q and are left out (e.g. %s): keep the label in the query (e.g. by (%s)), derive it with entity_relabel_configs or name another one in \"entity\"",
			strings.Join(what, " and "), sig.Entity, r.example, sig.Entity)})
	}
	if len(noLimit) > 0 {
		why := "gives no limit for"
		if r.limitSeries == 0 {
			why = "returns no series: no limit for"
		}
		out = append(out, Problem{Health: HealthNoLimit, Count: len(noLimit), Entities: named(noLimit), Message: fmt.Sprintf(
			"the limit_query %s %d of %d entities (%s): their crossings are left out of the failure probability",
			why, len(noLimit), entities, listNamed(noLimit, len(noLimit)))})
	}
	return out
}

func named(entities []string) []string { return entities[:min(len(entities), maxNamed)] }

// listNamed lists the first maxNamed of entities, of n in all.
func listNamed(entities []string, n int) string {
	s := strings.Join(named(entities), ", ")
	if n > maxNamed {
		s += fmt.Sprintf(" and %d more", n-maxNamed)
	}
	return s
}

// missingLimits returns, sorted, the entities of sig's series that have no
// limit, of entities in all: none unless the limit comes from a
// limit_query, and none asked while the source is down. It allocates
// only when some entity has no limit.
func missingLimits(sig *signalState) (missing []string, entities int) {
	if sig.LimitQuery == "" || sig.report.err != nil {
		return nil, 0
	}
	for _, s := range sig.series {
		if _, ok := sig.limits[s.entity]; !ok {
			missing = append(missing, s.entity)
		}
	}
	if len(missing) == 0 {
		return nil, 0
	}
	slices.Sort(missing)
	missing = slices.Compact(missing)
	seen := make(map[string]struct{}, len(sig.limits)+len(missing))
	for _, s := range sig.series {
		seen[s.entity] = struct{}{}
	}
	return missing, len(seen)
}

// updateHealth sets the problems of sig from its report of the evaluation
// that ended, and logs each problem once when it starts and once when it
// clears. An evaluation that did not fetch the signal keeps its problems;
// one whose fetch failed keeps the data problems of the last one that did
// not. The caller is the Run goroutine.
func (e *Engine) updateHealth(sig *signalState) {
	r := &sig.report
	if !r.fetched {
		return
	}
	missing, n := missingLimits(sig)
	probs := r.problems(&sig.Signal, missing, n)
	if r.err != nil {
		probs = append(probs, dataProblems(sig.problems)...)
	}
	for _, p := range probs {
		if !hasHealth(sig.problems, p.Health) {
			e.logger.Warn("signal problem", "signal", sig.Name, "health", p.Health, "problem", p.Message)
		}
	}
	for _, p := range sig.problems {
		if !hasHealth(probs, p.Health) {
			e.logger.Info("signal problem cleared", "signal", sig.Name, "health", p.Health)
		}
	}
	e.mu.Lock()
	sig.problems, sig.health = probs, HealthUp
	if len(probs) > 0 {
		sig.health = probs[0].Health
	}
	e.mu.Unlock()
}

func dataProblems(ps []Problem) []Problem {
	return slices.DeleteFunc(slices.Clone(ps), func(p Problem) bool { return p.Health == HealthSourceDown })
}

func hasHealth(ps []Problem, h Health) bool {
	return slices.ContainsFunc(ps, func(p Problem) bool { return p.Health == h })
}

// warmingUp returns the problem of sig's series that have no model yet,
// nil when there are none. It tells the series with too few points from
// those that have enough and await their first fit: on a first start of a
// large fleet most of them wait minutes for the fit, and "too few points"
// next to "(256 points)" would send the user looking at the source. The
// caller holds e.mu.
func (e *Engine) warmingUp(sig *signalState) *Problem {
	type warm struct {
		entity string
		points int
		short  bool
	}
	var ws []warm
	for _, s := range sig.series {
		if s.warmingUp() {
			n := s.win.finite()
			ws = append(ws, warm{s.entity, n, n < model.MinSeriesPoints || errors.Is(s.fitErr, model.ErrShortHistory)})
		}
	}
	if len(ws) == 0 {
		return nil
	}
	slices.SortFunc(ws, func(a, b warm) int { return strings.Compare(a.entity, b.entity) })
	p := &Problem{Health: HealthWarmingUp, Count: len(ws)}
	for _, w := range ws[:min(len(ws), maxNamed)] {
		p.Entities, p.Points = append(p.Entities, w.entity), append(p.Points, w.points)
	}
	// named lists the first series of one kind and counts the rest.
	named := func(short bool) (int, string) {
		var n int
		var parts []string
		for _, w := range ws {
			if w.short != short {
				continue
			}
			if n++; n <= maxNamed {
				parts = append(parts, w.entity+" ("+strconv.Itoa(w.points)+" points)")
			}
		}
		list := strings.Join(parts, ", ")
		if n > maxNamed {
			list += fmt.Sprintf(" and %d more", n-maxNamed)
		}
		return n, list
	}
	var msgs []string
	if n, list := named(true); n > 0 {
		msgs = append(msgs, fmt.Sprintf("%d have too few points for a model yet (it needs %d): %s; each is fitted once it has them",
			n, model.MinSeriesPoints, list))
	}
	if n, list := named(false); n > 0 {
		msgs = append(msgs, fmt.Sprintf("%d have the points and await their first fit: %s", n, list))
	}
	p.Message = fmt.Sprintf("%d series have no model yet: %s", len(ws), strings.Join(msgs, "; "))
	return p
}

// warmingUp reports whether the series has no model for want of points:
// its fit found too few, or it has not had one yet.
func (s *series) warmingUp() bool {
	return s.fc == nil && (s.fitErr == nil || errors.Is(s.fitErr, model.ErrShortHistory))
}

// dueFirstFit reports whether the series should get a first fit before
// the next refit: it never had one, or its last found too few points and
// its window now has enough. Only warming series count their points.
func (s *series) dueFirstFit() bool {
	if s.det != nil || s.pending {
		return false
	}
	return s.fitted.IsZero() || errors.Is(s.fitErr, model.ErrShortHistory) && s.win.finite() >= model.MinSeriesPoints
}

// finite counts the window's finite points.
func (w *window) finite() int {
	n := 0
	for i := range w.n {
		if !math.IsNaN(w.at(i)) {
			n++
		}
	}
	return n
}

// SignalCheck is what a signal's query and limit_query return over a
// range: what `augur check config --sources` prints.
type SignalCheck struct {
	Signal, Source string
	// Series and Entities count what the query returned.
	Series, Entities int
	// NoLimit are the entities without a limit, sorted.
	NoLimit []string
	// Problems are the signal's data problems, the same the engine
	// reports while serving (source_down for a query that fails).
	Problems []Problem
}

// CheckSignal runs sig's query and limit_query over [start, end] at step
// and reports what they return, with the engine's own reading of series,
// entity labels and limits.
func CheckSignal(ctx context.Context, sig Signal, start, end time.Time, step time.Duration) SignalCheck {
	c := SignalCheck{Signal: sig.Name, Source: sig.SourceName}
	r := fetchReport{fetched: true}
	got, err := sig.Source.Range(ctx, sig.Query, start, end, step)
	if err != nil {
		r.err = err // the sources name the query and the server
		c.Problems = r.problems(&sig, nil, 0)
		return c
	}
	entities := map[string]bool{}
	for _, s := range got {
		src, keep := sig.relabel(s.Labels)
		if !keep {
			continue
		}
		if e, ok := r.entityOf(&sig, src, false); ok {
			entities[e] = true
		}
	}
	c.Series, c.Entities = len(got), len(entities)
	if sig.LimitQuery != "" {
		limits, err := sig.Source.Range(ctx, sig.LimitQuery, start, end, step)
		if err != nil {
			r.err = fmt.Errorf("limit_query: %w", err)
			c.Problems = r.problems(&sig, nil, 0)
			return c
		}
		byEntity := map[string]float64{}
		r.addLimits(byEntity, &sig, limits)
		for e := range entities {
			if _, ok := byEntity[e]; !ok {
				c.NoLimit = append(c.NoLimit, e)
			}
		}
		slices.Sort(c.NoLimit)
	}
	c.Problems = r.problems(&sig, c.NoLimit, len(entities))
	return c
}
