package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/prometheus/promql"

	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/query"
)

// TestErrorOf: every error the API meets has its status from its kind, in
// one place, wrapped or not.
func TestErrorOf(t *testing.T) {
	f := func(err error, status int, typ errorType) {
		t.Helper()
		for _, e := range []error{err, fmt.Errorf("cannot do it: %w", err)} {
			ae := errorOf(e)
			if ae.status() != status || ae.typ() != typ {
				t.Errorf("%v: %d %s, want %d %s", e, ae.status(), ae.typ(), status, typ)
			}
			if ae.Error() != e.Error() {
				t.Errorf("%v: message %q", e, ae.Error())
			}
		}
	}
	f(badData("invalid parameter %q", "x"), 400, errBadData)
	f(fmt.Errorf("%w: 1000d at step 1m", engine.ErrTooLong), 400, errBadData)
	f(fmt.Errorf("%w: 300 KiB", query.ErrLimit), 400, errBadData)
	f(engine.ErrNotReady, 503, errUnavailable)
	f(promql.ErrQueryTimeout("query timed out in query execution"), 503, errTimeout)
	f(context.DeadlineExceeded, 503, errTimeout)
	f(promql.ErrQueryCanceled("canceled"), 499, errCanceled)
	f(context.Canceled, 499, errCanceled)
	f(promql.ErrStorage{Err: errors.New("disk")}, 500, errInternal)
	f(promql.ErrTooManySamples("query processing would load too many samples into memory"), 422, errExec)
	f(&http.MaxBytesError{Limit: 1024}, 413, errBadData)
	f(errors.New("cannot forecast cpu: no model"), 422, errExec)
	f(&apiError{kind: kindInternal, err: errors.New("store")}, 500, errInternal)
	f(&apiError{kind: kindUnauthorized, err: errors.New("unauthorized")}, 401, errBadData)
	if ae := errorOf(echo.ErrNotFound); ae.status() != 404 || ae.typ() != errNotFound {
		t.Errorf("router's 404: %d %s", ae.status(), ae.typ())
	}
	if ae := errorOf(echo.ErrMethodNotAllowed); ae.status() != 405 || ae.Error() != "Method Not Allowed" {
		t.Errorf("router's 405: %d %q", ae.status(), ae.Error())
	}
}
