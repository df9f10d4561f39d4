package ingest

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"testing"
	"time"

	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"
)

func TestFluxPrelude(t *testing.T) {
	g, err := newGrid(time.Date(2024, 3, 1, 0, 0, 30, 0, time.UTC), time.Date(2024, 3, 1, 1, 0, 0, 0, time.UTC), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// The grid is 00:01 to 01:00: its samples are those after 00:00 and
	// up to 01:00, its windows end by 01:01.
	want := "option v = {timeStart: 2024-03-01T00:00:00Z, timeStop: 2024-03-01T01:01:00Z, " +
		"timeRangeStart: 2024-03-01T00:00:00Z, timeRangeStop: 2024-03-01T01:01:00Z, windowPeriod: 60000ms}\n"
	if got := fluxPrelude(g); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestInfluxTransient(t *testing.T) {
	status := func(code int) error { return &influxhttp.Error{StatusCode: code, Code: "x", Message: "y"} }
	transport := func(err error) error {
		return influxhttp.NewError(&url.Error{Op: "Post", URL: "http://127.0.0.1:8086/api/v2/query", Err: err})
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{status(400), false},
		{status(401), false},
		{status(404), false},
		{status(500), false}, // InfluxDB 1.8's answer to any failed Flux query
		{status(429), true},
		{status(502), true},
		{status(503), true},
		{status(504), true},
		{transport(&net.OpError{Op: "dial", Err: errors.New("connection refused")}), true},
		{transport(x509.UnknownAuthorityError{}), false},
		{fmt.Errorf("reading body: %w", io.ErrUnexpectedEOF), true},
		{fmt.Errorf("%w: unexpected EOF,unexpected EOF", errCutOff), true},
		{errors.New("error calling function \"filter\": type error"), false},
	} {
		if got := influxTransient(tc.err); got != tc.want {
			t.Errorf("influxTransient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
