package query

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// The fleet's scores split between two replicas by host, and whole.
const (
	ownScores = `
load 1m
	augur_anomaly_score{host="a",signal="cpu"}    0.1+0x10
	augur_anomaly_score{host="a",signal="memory"} 0.9+0x10
	augur_anomaly_score{host="c",signal="cpu"}    0.3+0x10
`
	peerScores = `
load 1m
	augur_anomaly_score{host="b",signal="cpu"}    0.7+0x10
	augur_anomaly_score{host="b",signal="memory"} 0.2+0x10
	augur_anomaly_score{host="d",signal="cpu"}    0.5+0x10
	augur_anomaly_score{host="d",signal="disk"}   0.6+0x10
`
)

// failingPeer is a fault-injecting peer: every read fails.
type failingPeer struct{}

func (failingPeer) Querier(int64, int64) (storage.Querier, error) { return failingQuerier{}, nil }

type failingQuerier struct{}

var errInjected = errors.New("replica http://peer-2 left out: injected fault")

func (failingQuerier) Select(context.Context, bool, *storage.SelectHints, ...*labels.Matcher) storage.SeriesSet {
	return storage.ErrSeriesSet(errInjected)
}

func (failingQuerier) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, errInjected
}

func (failingQuerier) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, errInjected
}

func (failingQuerier) Close() error { return nil }

// TestPeers evaluates aggregations that cannot be merged from per-replica
// results (topk, quantile, avg, count_values) over a replica whose peer
// holds the rest of the fleet: they equal the same queries over the whole
// fleet in one storage. A failing peer leaves its series out with a
// warning, and Local reads the replica's own series only.
func TestPeers(t *testing.T) {
	peer := promqltest.LoadedStorage(t, peerScores)
	whole := newTestEngine(t, Options{Storage: promqltest.LoadedStorage(t, ownScores+strings.TrimPrefix(peerScores, "\nload 1m\n"))})
	fleet := newTestEngine(t, Options{Storage: promqltest.LoadedStorage(t, ownScores), Peers: func() []storage.Queryable { return []storage.Queryable{peer} }})
	for _, q := range []string{
		`topk(3, augur_anomaly_score)`,
		`quantile(0.5, augur_anomaly_score)`,
		`avg by (signal) (augur_anomaly_score)`,
		`count_values("score", augur_anomaly_score)`,
		`count by (signal) (augur_anomaly_score)`,
		`augur_anomaly_score > on (host) group_left max by (host) (augur_anomaly_score) * 0.5`,
	} {
		// Sorted: count_values' order is a map's.
		sorted := func(s string) string { l := strings.Split(s, "\n"); slices.Sort(l); return strings.Join(l, "\n") }
		want := sorted(run(t, q)(whole.NewInstantQuery(context.Background(), q, minutes(5))))
		if got := sorted(run(t, q)(fleet.NewInstantQuery(context.Background(), q, minutes(5)))); got != want {
			t.Errorf("%s over the fleet:\n%s\nwant, over one storage:\n%s", q, got, want)
		}
	}
	q := `count(augur_anomaly_score)`
	if got := run(t, q)(fleet.Local().NewInstantQuery(context.Background(), q, minutes(5))); got != "{} => 3\n" {
		t.Errorf("%s of Local: %s, want this replica's 3", q, got)
	}

	partial := newTestEngine(t, Options{Storage: promqltest.LoadedStorage(t, ownScores), Peers: func() []storage.Queryable { return []storage.Queryable{peer, failingPeer{}} }})
	qry, err := partial.NewInstantQuery(context.Background(), q, minutes(5))
	if err != nil {
		t.Fatal(err)
	}
	defer qry.Close()
	res := qry.Exec(context.Background())
	warns, _ := res.Warnings.AsStrings(q, 10, 10)
	if res.Err != nil || format(res.Value) != "{} => 7\n" || len(warns) != 1 || !strings.Contains(warns[0], errInjected.Error()) {
		t.Errorf("with a failing peer: %v %q, warnings %q: want the other peers' 7 series and its error as a warning", res.Err, format(res.Value), warns)
	}
	lq, err := partial.Queryable().Querier(0, minutes(10).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	hosts, annots, err := lq.LabelValues(context.Background(), "host", nil)
	if err != nil || strings.Join(hosts, ",") != "a,b,c,d" || len(annots) != 1 {
		t.Errorf("host values with a failing peer: %v %v %v: want a,b,c,d and a warning", hosts, annots, err)
	}
}
