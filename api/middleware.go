package api

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"runtime/debug"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// recoverPanics answers a handler's panic with a 500 and counts it in
// augur_http_panics_total: a panic is a bug, and tests fail on the count.
func (a *API) recoverPanics(panics prometheus.Counter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				r := recover()
				if r == nil {
					return
				}
				if r == http.ErrAbortHandler {
					panic(r)
				}
				panics.Inc()
				a.opts.Logger.Error("recovered a panic in an HTTP handler", "path", c.Request().URL.Path, "panic", r, "stack", string(debug.Stack()))
				err = &apiError{kind: kindInternal, err: fmt.Errorf("internal error: %v", r)}
			}()
			return next(c)
		}
	}
}

// limitBody bounds request bodies, chunked ones too, to limit bytes: a
// body over it is a 413, whether it is JSON read by a handler or a form,
// which it parses here so that no handler reads a truncated form.
func limitBody(limit int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > limit {
				return tooLarge(limit)
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
			var err error
			switch ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct {
			case "application/x-www-form-urlencoded":
				err = r.ParseForm()
			case "multipart/form-data":
				err = r.ParseMultipartForm(limit)
			}
			if err != nil {
				if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
					return tooLarge(limit)
				}
				return badData("cannot parse the form body: %v", err)
			}
			return next(c)
		}
	}
}

func tooLarge(limit int64) error {
	return &apiError{kind: kindTooLarge, err: fmt.Errorf("request body too large: the limit is %d bytes", limit)}
}
