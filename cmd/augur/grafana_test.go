package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dashboard is what the test reads of deploy/grafana's dashboard.
type dashboard struct {
	Annotations struct {
		List []struct {
			Name       string `json:"name"`
			Expr       string `json:"expr"`
			TextFormat string `json:"textFormat"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
		} `json:"list"`
	} `json:"annotations"`
	Templating struct {
		List []dashVar `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Title   string `json:"title"`
		Repeat  string `json:"repeat"`
		Targets []struct {
			Expr         string `json:"expr"`
			LegendFormat string `json:"legendFormat"`
			Instant      bool   `json:"instant"`
		} `json:"targets"`
	} `json:"panels"`
}

type dashVar struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
	Current    struct {
		Value any `json:"value"`
	} `json:"current"`
}

// selection is the value of every variable: its selected values, or All.
type selection map[string][]string

const allValue = "$__all"

// grafanaVarRE is how Grafana's template service finds variables in a
// string: $name, ${name} (with an optional :format) and [[name]].
var grafanaVarRE = regexp.MustCompile(`\$(\w+)|\$\{(\w+)(?::[^}]+)?\}|\[\[(\w+)\]\]`)

// interpolate replaces the variables of s as Grafana's Prometheus data
// source does for a query (interpolateQueryExpr in its datasource.ts and
// the template service): a variable that is neither multi-value nor has
// All is escaped as a string (prometheusRegularEscape); one that is gets
// each value escaped as a regular expression (prometheusSpecialRegexEscape,
// classic behaviour), joined as (a|b) when there are several; All is the
// variable's allValue as it is, or every value when it has none. With
// regex false (a legend), values are joined by commas, unescaped.
func interpolate(s string, vars map[string]*dashVar, values map[string][]string, sel selection, regex bool) string {
	return grafanaVarRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := grafanaVarRE.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		v, ok := vars[name]
		if !ok {
			return m
		}
		picked := sel[name]
		if len(picked) == 1 && picked[0] == allValue {
			if v.AllValue != "" {
				return v.AllValue
			}
			picked = values[name]
		}
		if !regex {
			return strings.Join(picked, ",")
		}
		if !v.Multi && !v.IncludeAll {
			return strings.NewReplacer(`\`, `\\`, `'`, `\\'`).Replace(strings.Join(picked, ","))
		}
		esc := make([]string, len(picked))
		for i, p := range picked {
			esc[i] = regexp.MustCompile(`[$^*{}\[\]+?.()|]`).ReplaceAllString(strings.ReplaceAll(p, `\`, `\\\\`), `\\$0`)
		}
		if len(esc) == 1 {
			return esc[0]
		}
		return "(" + strings.Join(esc, "|") + ")"
	})
}

// TestGrafanaDashboardQueries runs every query of the provisioned
// dashboard against augur the way Grafana's Prometheus data source sends
// it: variables from their options or label values (a chained variable
// after the one it names), each panel's and annotation's expression
// interpolated as Grafana does for three selections of the multi-value
// variables (All, one value, two values), a repeated panel once per value
// of its variable, then sent as form POST instant or range queries. Every
// query must succeed and, where the demo has data, return series, except
// the capacity table's for a selection where no series reaches its limit
// within the horizon (at the demo's start only cache-1's memory does).
func TestGrafanaDashboardQueries(t *testing.T) {
	if testing.Short() {
		t.Skip("runs augur")
	}
	b, err := os.ReadFile("../../deploy/grafana/dashboards/augur.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash dashboard
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	base := startAugur(t)
	waitReady(t, base, 60*time.Second)
	waitEvaluated(t, base)

	post := func(path string, form url.Values) (int, []byte) {
		resp, err := http.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	// The variables' values, in the dashboard's order: a custom
	// variable's from its comma-separated query, a query variable's from
	// label_values(metric, label) (label/<label>/values?match[]=metric),
	// with the variables it names interpolated first.
	vars := map[string]*dashVar{}
	values := map[string][]string{}
	current := selection{}
	labelValues := regexp.MustCompile(`^label_values\((\w+), *(\S+)\)$`)
	resolve := func(v *dashVar, sel selection) []string {
		switch v.Type {
		case "custom":
			var q string
			if err := json.Unmarshal(v.Query, &q); err != nil {
				t.Fatalf("variable %s: query %s", v.Name, v.Query)
			}
			return strings.Split(q, ",")
		case "query":
			m := labelValues.FindStringSubmatch(interpolate(v.Definition, vars, values, sel, true))
			if m == nil {
				t.Fatalf("variable %s: unexpected query %q", v.Name, v.Definition)
			}
			var got []string
			if code := get(t, base+"/api/v1/label/"+m[2]+"/values?match[]="+url.QueryEscape(m[1]), &got); code != 200 {
				t.Fatalf("variable %s: status %d", v.Name, code)
			}
			return got
		}
		t.Fatalf("variable %s: type %q", v.Name, v.Type)
		return nil
	}
	for i := range dash.Templating.List {
		v := &dash.Templating.List[i]
		vars[v.Name] = v
		switch c := v.Current.Value.(type) {
		case string:
			current[v.Name] = []string{c}
		default:
			t.Fatalf("variable %s: current value %v", v.Name, c)
		}
		values[v.Name] = resolve(v, current)
		if v.Multi && v.IncludeAll && (v.AllValue == "" || v.AllValue == ".*") {
			t.Errorf("variable %s: allValue %q; want one that requires the label (.+)", v.Name, v.AllValue)
		}
	}
	for _, name := range []string{"entity_label", "entity", "signal", "capacity_horizon"} {
		if vars[name] == nil {
			t.Fatalf("no variable %s", name)
		}
	}
	if len(values["entity"]) < 2 || len(values["signal"]) < 2 {
		t.Fatalf("entity %v, signal %v: want the demo's hosts and signals", values["entity"], values["signal"])
	}

	now := time.Now()
	n := 0
	var capacity []string // the capacity table's queries with All selected
	check := func(what string, instant bool, expr string, mayBeEmpty bool) {
		t.Helper()
		n++
		form := url.Values{"query": {expr}, "time": {strconv.FormatInt(now.Unix(), 10)}}
		path := "/api/v1/query"
		if !instant {
			path = "/api/v1/query_range"
			form = url.Values{"query": {expr}, "start": {fmt.Sprint(now.Add(-6 * time.Hour).Unix())}, "end": {fmt.Sprint(now.Add(2 * time.Hour).Unix())}, "step": {"60"}}
		}
		code, body := post(path, form)
		var env struct {
			Status string `json:"status"`
			Data   struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil || code != 200 || env.Status != "success" {
			t.Errorf("%s: %s: status %d: %.500s", what, expr, code, body)
			return
		}
		// Incidents and threshold filters may rightly be empty; the rest not.
		if len(env.Data.Result) == 0 && !mayBeEmpty && !strings.Contains(expr, "augur_incident") && !strings.Contains(expr, ">") {
			t.Errorf("%s: %s returned no series", what, expr)
		}
	}
	all, one, two := selection{}, selection{}, selection{}
	for name, v := range vars {
		all[name], one[name], two[name] = current[name], current[name], current[name]
		if v.Multi {
			all[name], one[name], two[name] = []string{allValue}, values[name][:1], values[name][len(values[name])-2:]
		}
	}
	for _, sel := range []selection{all, one, two} {
		label := fmt.Sprint(sel["entity"], sel["signal"])
		for _, p := range dash.Panels {
			// A repeated panel is one panel per selected value, each
			// with the variable set to that value alone.
			reps := []selection{sel}
			if p.Repeat != "" {
				picked := sel[p.Repeat]
				if picked[0] == allValue {
					picked = values[p.Repeat]
				}
				reps = nil
				for _, v := range picked {
					r := selection{}
					for k, x := range sel {
						r[k] = x
					}
					r[p.Repeat] = []string{v}
					reps = append(reps, r)
				}
			}
			for _, r := range reps {
				for _, tg := range p.Targets {
					if legend := interpolate(tg.LegendFormat, vars, values, r, false); strings.Contains(legend, "$") {
						t.Errorf("%s: legend %q keeps a variable", p.Title, legend)
					}
					expr := interpolate(tg.Expr, vars, values, r, true)
					isCapacity := strings.HasPrefix(expr, "augur_capacity_eta_seconds")
					if isCapacity && sel["entity"][0] == allValue {
						capacity = append(capacity, expr)
					}
					check(p.Title+" "+label, tg.Instant, expr, isCapacity && sel["entity"][0] != allValue)
				}
			}
		}
		for _, a := range dash.Annotations.List {
			if a.Expr == "" {
				continue
			}
			if a.Datasource.UID != "augur" {
				t.Errorf("annotation %s: data source %q, want augur", a.Name, a.Datasource.UID)
			}
			if text := interpolate(a.TextFormat, vars, values, sel, false); strings.Contains(text, "$") {
				t.Errorf("annotation %s: text %q keeps a variable", a.Name, text)
			}
			check("annotation "+a.Name+" "+label, false, interpolate(a.Expr, vars, values, sel, true), false)
		}
	}
	if n < 30 {
		t.Errorf("only %d dashboard queries checked", n)
	}
	// The capacity table at the defaults is the query
	// api.TestCapacityETAHoursAhead runs on a host 2.5 h from its limit.
	const capacityAtDefaults = `augur_capacity_eta_seconds{quantile="0.5",horizon="1w",signal=~".+",host=~".+"}`
	if len(capacity) != 1 || capacity[0] != capacityAtDefaults {
		t.Errorf("capacity table at the default variables: %q, want %s", capacity, capacityAtDefaults)
	}
}
