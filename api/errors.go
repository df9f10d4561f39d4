package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/prometheus/promql"

	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/query"
	"github.com/augur-sre/augur/remoteread"
)

// errorKind is the closed set of errors the API answers. Each has one
// Prometheus API error type and one HTTP status, in kinds: handlers never
// choose a status, as Prometheus' handlers do not (getDefaultErrorCode in
// web/api/v1/api.go).
type errorKind uint8

const (
	// kindBadData is a malformed or out-of-range parameter or body.
	kindBadData errorKind = iota
	// kindTooLarge is a body over the limit.
	kindTooLarge
	// kindUnauthorized is a request without the credentials it needs.
	kindUnauthorized
	kindNotFound
	kindMethodNotAllowed
	// kindExec is a valid request that cannot be computed, or would cost
	// more than a limit allows.
	kindExec
	// kindCanceled is a request its client gave up.
	kindCanceled
	// kindTimeout is a request past its deadline.
	kindTimeout
	// kindUnavailable is a request that cannot be answered yet (models
	// not fitted, a store not readable): retry later.
	kindUnavailable
	// kindInternal is a failure of augur's own (a panic, storage).
	kindInternal
)

// errorType is Prometheus' errorType field.
type errorType string

const (
	errBadData     errorType = "bad_data"
	errExec        errorType = "execution"
	errCanceled    errorType = "canceled"
	errTimeout     errorType = "timeout"
	errUnavailable errorType = "unavailable"
	errNotFound    errorType = "not_found"
	errInternal    errorType = "internal"
)

// statusClientClosed is nginx's and Prometheus' status of a request its
// client canceled.
const statusClientClosed = 499

var kinds = [...]struct {
	typ    errorType
	status int
}{
	kindBadData:          {errBadData, http.StatusBadRequest},
	kindTooLarge:         {errBadData, http.StatusRequestEntityTooLarge},
	kindUnauthorized:     {errBadData, http.StatusUnauthorized},
	kindNotFound:         {errNotFound, http.StatusNotFound},
	kindMethodNotAllowed: {errBadData, http.StatusMethodNotAllowed},
	kindExec:             {errExec, http.StatusUnprocessableEntity},
	kindCanceled:         {errCanceled, statusClientClosed},
	kindTimeout:          {errTimeout, http.StatusServiceUnavailable},
	kindUnavailable:      {errUnavailable, http.StatusServiceUnavailable},
	kindInternal:         {errInternal, http.StatusInternalServerError},
}

// apiError is an error of a known kind.
type apiError struct {
	kind errorKind
	err  error
}

func (e *apiError) Error() string { return e.err.Error() }
func (e *apiError) Unwrap() error { return e.err }

func (e *apiError) typ() errorType { return kinds[e.kind].typ }
func (e *apiError) status() int    { return kinds[e.kind].status }

// badData is a bad parameter or body; the message names it.
func badData(format string, args ...any) *apiError {
	return &apiError{kind: kindBadData, err: fmt.Errorf(format, args...)}
}

// errorOf gives any error a kind. Errors of the packages the API calls
// are classified here, once: a horizon or query over a limit of its size
// is bad data (Prometheus answers 400 to too many points per series),
// models not fitted yet are unavailable, a query's cancellation, timeout
// and storage failure are Prometheus' canceled, timeout and internal, a
// body over the limit is too large, and any other failure to compute an
// answer (the sample limit among them) is execution, as Prometheus'
// returnAPIError has it.
func errorOf(err error) *apiError {
	var (
		ae       *apiError
		he       *echo.HTTPError
		tooLarge *http.MaxBytesError
		canceled promql.ErrQueryCanceled
		timeout  promql.ErrQueryTimeout
		storage  promql.ErrStorage
	)
	kind := kindExec
	switch {
	case errors.As(err, &ae):
		kind = ae.kind
	case errors.As(err, &he):
		return &apiError{kind: httpErrorKind(he.Code), err: errors.New(fmt.Sprint(he.Message))}
	case errors.As(err, &tooLarge):
		kind = kindTooLarge
	case errors.Is(err, engine.ErrTooLong), errors.Is(err, query.ErrLimit), errors.Is(err, remoteread.ErrBadRequest):
		kind = kindBadData
	case errors.Is(err, engine.ErrNotReady):
		kind = kindUnavailable
	case errors.As(err, &canceled), errors.Is(err, context.Canceled):
		kind = kindCanceled
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		kind = kindTimeout
	case errors.As(err, &storage):
		kind = kindInternal
	}
	return &apiError{kind: kind, err: err}
}

// httpErrorKind is the kind of the router's own errors.
func httpErrorKind(status int) errorKind {
	switch {
	case status == http.StatusNotFound:
		return kindNotFound
	case status == http.StatusMethodNotAllowed:
		return kindMethodNotAllowed
	case status == http.StatusRequestEntityTooLarge:
		return kindTooLarge
	case status < 500:
		return kindBadData
	}
	return kindInternal
}
