package remoteread

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/storage"

	"github.com/augur-sre/augur/query"
)

// BenchmarkFleetQuery is a Grafana panel over a day at a one-minute step
// on 200 series (1,440 samples each), asked of one replica: all of them
// in its own TSDB ("local"), or half in its TSDB and half read from a peer
// over remote read on loopback ("fleet"), the cost of the fan-out.
func BenchmarkFleetQuery(b *testing.B) {
	series := func(from, to int) string {
		var s strings.Builder
		s.WriteString("load 1m\n")
		for i := from; i < to; i++ {
			fmt.Fprintf(&s, "\taugur_anomaly_score{host=\"h%d\",signal=\"cpu\"} 0+0.001x1440\n", i)
		}
		return s.String()
	}
	peer := promqltest.LoadedStorage(b, series(100, 200))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := Read(r, peer, 0)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		_ = WriteResponse(w, resp)
	}))
	defer srv.Close()
	remote := &Queryable{URL: srv.URL, Client: srv.Client(), Timeout: time.Minute, MaxBytes: 1 << 30}
	engines := []struct {
		name string
		e    *query.Engine
	}{
		{"local", query.New(query.Options{Storage: promqltest.LoadedStorage(b, series(0, 200))})},
		{"fleet", query.New(query.Options{Storage: promqltest.LoadedStorage(b, series(0, 100)), Peers: func() []storage.Queryable { return []storage.Queryable{remote} }})},
	}
	end := time.Unix(0, 0).Add(24 * time.Hour)
	for _, q := range []string{`topk(3, augur_anomaly_score)`, `quantile(0.9, augur_anomaly_score)`} {
		for _, e := range engines {
			b.Run(q+"/"+e.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					qry, err := e.e.NewRangeQuery(context.Background(), q, time.Unix(0, 0), end, time.Minute)
					if err != nil {
						b.Fatal(err)
					}
					if r := qry.Exec(context.Background()); r.Err != nil || len(r.Warnings) > 0 {
						b.Fatal(r.Err, r.Warnings)
					}
					qry.Close()
				}
			})
		}
	}
}
