package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/augur-sre/augur/cluster"
	"github.com/augur-sre/augur/engine"
)

// Cluster is the fleet the API answers for when replicas share it
// (cluster.Ring, cluster.Static).
type Cluster interface {
	// Peers returns the API base URLs of the other healthy replicas.
	Peers() []string
	Status(ctx context.Context) (cluster.Status, error)
}

// localParam asks a replica for its own entities only: fan-outs send it,
// so that a replica asked by another does not ask the others again.
const localParam = "local"

// fleetList describes the list a fan-out merges: the field of the data
// that holds it ("" when the data is the list), the key that identifies an item across replicas (an
// entity with replication factor 2 is answered by both owners: the first
// answer is kept) and the order of the merged list.
type fleetList struct {
	field string
	key   func(item *fleetFields) string
	less  func(c echo.Context) func(a, b fleetItem) bool
	// limit is the request's bound on the merged list, 0 for none.
	limit func(c echo.Context) int
}

type fleetItem struct {
	key  string
	raw  json.RawMessage
	sort fleetFields
}

// fleetFields are the fields the merged lists identify and sort their
// items by, decoded in one pass.
type fleetFields struct {
	Entity             string            `json:"entity"`
	Labels             map[string]string `json:"labels"`
	FailureProbability *float64          `json:"failure_probability"`
	ETASeconds         struct {
		P50 *float64 `json:"p50"`
	} `json:"eta_seconds"`
}

// fleet answers h for the whole fleet when replicas share it: this
// replica's answer merged with the other healthy replicas' (asked with
// local=true, in parallel, each within FanoutTimeout), as Thanos Query
// merges its stores. A replica that fails or times out leaves its
// entities out and a warning in the answer.
func (a *API) fleet(h handler, list fleetList) handler {
	return func(c echo.Context) result {
		r := h(c)
		if a.opts.Cluster == nil || r.err != nil || formValue(c, localParam) == "true" {
			return r
		}
		peers := a.opts.Cluster.Peers()
		if len(peers) == 0 {
			return r
		}
		own, err := json.RawMessage(nil), error(nil)
		if raw, ok := r.data.(rawJSON); ok {
			own = json.RawMessage(raw)
		} else {
			own, err = wireJSON.Marshal(r.data)
		}
		if err != nil {
			return result{err: &apiError{kind: kindInternal, err: fmt.Errorf("cannot encode the answer: %w", err)}}
		}
		answers := make([]json.RawMessage, len(peers)+1)
		warnings := make([][]string, len(peers)+1)
		answers[0], warnings[0] = own, r.warnings
		ctx, cancel := context.WithTimeout(c.Request().Context(), a.opts.FanoutTimeout)
		defer cancel()
		var wg sync.WaitGroup
		for i, p := range peers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				data, warns, err := a.askPeer(ctx, p, c)
				if err != nil {
					warnings[i+1] = []string{fmt.Sprintf("replica %s left out: %v", p, err)}
					return
				}
				answers[i+1], warnings[i+1] = data, warns
			}()
		}
		wg.Wait()
		data, err := mergeAnswers(answers, list, c)
		if err != nil {
			return result{err: &apiError{kind: kindInternal, err: err}}
		}
		return result{data: data, warnings: slices.Concat(warnings...)}
	}
}

// askPeer asks one replica for its own part of the request.
func (a *API) askPeer(ctx context.Context, peer string, c echo.Context) (json.RawMessage, []string, error) {
	q := url.Values{}
	for k, vs := range c.QueryParams() {
		q[k] = vs
	}
	if form, err := c.FormParams(); err == nil {
		for k, vs := range form {
			q[k] = vs
		}
	}
	q.Set(localParam, "true")
	data, warnings, err := getPeer(ctx, a.opts.FanoutClient, strings.TrimSuffix(peer, "/")+c.Request().URL.Path+"?"+q.Encode(), a.opts.MaxBodyBytes*64)
	for i, w := range warnings {
		warnings[i] = peer + ": " + w
	}
	return data, warnings, err
}

// getPeer GETs url from another replica with client and returns the
// data and warnings of its answer, read up to maxBytes.
func getPeer(ctx context.Context, client *http.Client, url string, maxBytes int64) (json.RawMessage, []string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read the answer: %w", err)
	}
	var env struct {
		Status   string          `json:"status"`
		Data     json.RawMessage `json:"data"`
		Error    string          `json:"error"`
		Warnings []string        `json:"warnings"`
	}
	if err := wireJSON.Unmarshal(body, &env); err != nil {
		return nil, nil, fmt.Errorf("cannot decode the answer (HTTP %d): %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || env.Status != statusOK {
		return nil, nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, env.Error)
	}
	return env.Data, env.Warnings, nil
}

// mergeAnswers merges the replicas' data objects: the first answer's
// fields, with list.field the union of every answer's list. The answers
// are decoded with jsoniter, each item once, and the merged answer writes
// the items as they came: encoding/json, which decoded the lists twice,
// each item twice more and validated it again when encoding, merged a
// 333-host fleet's answers at 11 MB/s (BenchmarkMergeFailures).
func mergeAnswers(answers []json.RawMessage, list fleetList, c echo.Context) (any, error) {
	m := &mergedAnswer{field: list.field}
	seen := map[string]bool{}
	for i, ans := range answers {
		if ans == nil {
			continue
		}
		raw := ans
		if list.field != "" {
			var data map[string]json.RawMessage
			if err := wireJSON.Unmarshal(ans, &data); err != nil {
				return nil, fmt.Errorf("cannot merge answer %d: %w", i, err)
			}
			if m.fields == nil {
				m.fields = data
			}
			raw = data[list.field]
		}
		var raws []json.RawMessage
		if err := wireJSON.Unmarshal(raw, &raws); err != nil {
			return nil, fmt.Errorf("cannot merge answer %d: %q: %w", i, list.field, err)
		}
		for _, raw := range raws {
			it := fleetItem{raw: raw}
			if err := wireJSON.Unmarshal(raw, &it.sort); err != nil {
				return nil, fmt.Errorf("cannot merge answer %d: %w", i, err)
			}
			it.key = list.key(&it.sort)
			if seen[it.key] {
				continue
			}
			seen[it.key] = true
			m.items = append(m.items, it)
		}
	}
	less := list.less(c)
	sort.SliceStable(m.items, func(i, j int) bool { return less(m.items[i], m.items[j]) })
	if n := list.limit(c); n > 0 && len(m.items) > n {
		m.items = m.items[:n]
	}
	return m, nil
}

// mergedAnswer is the data of a fan-out: fields (the first answer's, by
// name) with field the merged items, or the items alone when field is "".
type mergedAnswer struct {
	fields map[string]json.RawMessage
	field  string
	items  []fleetItem
}

func (m *mergedAnswer) writeJSON(w *bufio.Writer) {
	if m.field == "" {
		m.writeItems(w)
		return
	}
	names := slices.Sorted(maps.Keys(m.fields))
	if _, ok := m.fields[m.field]; !ok {
		names = append(names, m.field)
		slices.Sort(names)
	}
	_ = w.WriteByte('{')
	for i, name := range names {
		if i > 0 {
			_ = w.WriteByte(',')
		}
		b, _ := wireJSON.Marshal(name) // a string always marshals
		_, _ = w.Write(b)
		_ = w.WriteByte(':')
		if name == m.field {
			m.writeItems(w)
		} else {
			_, _ = w.Write(m.fields[name])
		}
	}
	_ = w.WriteByte('}')
}

func (m *mergedAnswer) writeItems(w *bufio.Writer) {
	_ = w.WriteByte('[')
	for i, it := range m.items {
		if i > 0 {
			_ = w.WriteByte(',')
		}
		_, _ = w.Write(it.raw)
	}
	_ = w.WriteByte(']')
}

// failuresList merges /api/v1/failures: entities, most likely to fail
// first, as the engine orders them.
var failuresList = fleetList{
	field: "entities",
	key:   func(f *fleetFields) string { return f.Entity },
	less: func(echo.Context) func(a, b fleetItem) bool {
		return func(a, b fleetItem) bool {
			pa, pb := a.sort.FailureProbability, b.sort.FailureProbability
			if pa != nil && pb != nil && *pa != *pb {
				return *pa > *pb
			}
			if (pa == nil) != (pb == nil) {
				return pa != nil
			}
			return a.key < b.key
		}
	},
	limit: func(echo.Context) int { return 0 },
}

// labelsKey identifies a series of the merged lists by its labels.
func labelsKey(f *fleetFields) string { return engine.LabelsKey(f.Labels) }

// forecastList merges /api/v1/forecast: series by their label set.
var forecastList = fleetList{
	key:   labelsKey,
	less:  func(echo.Context) func(a, b fleetItem) bool { return byKey },
	limit: func(echo.Context) int { return 0 },
}

func byKey(a, b fleetItem) bool { return a.key < b.key }

// capacityList merges /api/v1/capacity: series by their label set, as the
// engine orders them, or soonest to their threshold first with sort=eta;
// then limit.
var capacityList = fleetList{
	field: "series",
	key:   labelsKey,
	less: func(c echo.Context) func(a, b fleetItem) bool {
		if formValue(c, "sort") == "eta" {
			return func(a, b fleetItem) bool { return engine.CompareETA(a.sort.ETASeconds.P50, b.sort.ETASeconds.P50) < 0 }
		}
		return byKey
	},
	limit: func(c echo.Context) int {
		n, _ := parseLimitValue(formValue(c, "limit"))
		return n
	},
}

// wireMember is a replica in /api/v1/status/cluster.
type wireMember struct {
	ID            string    `json:"id"`
	URL           string    `json:"url,omitempty"`
	State         string    `json:"state"`
	Healthy       bool      `json:"healthy"`
	LastHeartbeat time.Time `json:"last_heartbeat,omitzero"`
	Self          bool      `json:"self,omitempty"`
	Entities      int       `json:"entities"`
}

type wireClusterStatus struct {
	Mode              string       `json:"mode"`
	Self              string       `json:"self"`
	ReplicationFactor int          `json:"replication_factor"`
	Entities          int          `json:"entities"`
	Members           []wireMember `json:"members"`
}

func toClusterStatus(s cluster.Status) wireClusterStatus {
	ms := make([]wireMember, len(s.Members))
	for i, m := range s.Members {
		ms[i] = wireMember(m)
	}
	return wireClusterStatus{s.Mode, s.Self, s.ReplicationFactor, s.Entities, ms}
}

// clusterStatus serves /api/v1/status/cluster: the members this replica
// sees, their state and how many entities each owns. A single replica is
// a cluster of one.
func (a *API) clusterStatus(c echo.Context) result {
	st, err := a.fleetStatus(c.Request().Context())
	if err != nil {
		return result{err: &apiError{kind: kindUnavailable, err: err}}
	}
	return result{data: st}
}

func (a *API) fleetStatus(ctx context.Context) (wireClusterStatus, error) {
	if a.opts.Cluster == nil {
		return wireClusterStatus{Mode: "single", ReplicationFactor: 1, Members: []wireMember{{ID: "self", State: "ACTIVE", Healthy: true, Self: true}}}, nil
	}
	st, err := a.opts.Cluster.Status(ctx)
	return toClusterStatus(st), err
}

// wireClusterSummary is the cluster's line in /api/v1/targets.
type wireClusterSummary struct {
	Mode           string `json:"mode"`
	Self           string `json:"self"`
	Members        int    `json:"members"`
	HealthyMembers int    `json:"healthy_members"`
	EntitiesOwned  int    `json:"entities_owned"`
}

func toClusterSummary(st wireClusterStatus) wireClusterSummary {
	s := wireClusterSummary{Mode: st.Mode, Self: st.Self, Members: len(st.Members)}
	for _, m := range st.Members {
		if m.Healthy {
			s.HealthyMembers++
		}
		if m.Self {
			s.EntitiesOwned = m.Entities
		}
	}
	return s
}
