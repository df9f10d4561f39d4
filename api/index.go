package api

import (
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/common/version"
)

// buildInfo is augur's version, as /api/v1/status/buildinfo and the index
// page show it: Prometheus' build variables, which `augur version` prints.
func buildInfo() map[string]string {
	return map[string]string{
		"application": "augur",
		"version":     version.Version,
		"revision":    version.GetRevision(),
		"branch":      version.Branch,
		"buildUser":   version.BuildUser,
		"buildDate":   version.BuildDate,
		"goVersion":   version.GoVersion,
	}
}

// indexLinks are the endpoints the index page lists.
var indexLinks = []struct{ Path, What string }{
	{"/api/v1/failures", "every entity's failure probability, severity, time to failure and factors"},
	{"/api/v1/forecast", "forecasts with intervals (match, horizon, step, level)"},
	{"/api/v1/capacity", "time until a threshold, P(cross within horizon) (match, threshold, horizon)"},
	{"/api/v1/targets", "signals, series, models, last fits, errors"},
	{"/api/v1/incidents", "stored incidents"},
	{"/api/v1/alerts", "pending and firing alerts"},
	{"/api/v1/label/__name__/values", "the metrics of the Prometheus API (query, query_range, series, labels)"},
	{"/metrics", "augur's own metrics and the current scores"},
	{"/debug/pprof/", "Go profiles (go tool pprof http://HOST/debug/pprof/heap)"},
	{"/-/healthy", "liveness"},
	{"/-/ready", "readiness"},
}

var indexPage = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>augur</title></head>
<body>
<h1>augur</h1>
<p>Version {{.Build.version}} (revision {{.Build.revision}}, {{.Build.goVersion}}).
{{if .Ready}}Ready.{{else}}Not ready: models are being fitted.{{end}}</p>
<ul>
{{range .Links}}<li><a href="{{.Path}}">{{.Path}}</a>: {{.What}}</li>
{{end}}</ul>
<p>Grafana and promtool read augur as a Prometheus server at this address.</p>
</body>
</html>
`))

// index serves GET / : what augur serves, its version and health, as
// Prometheus and Alertmanager answer / with their UI.
func (a *API) index(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(http.StatusOK)
	return indexPage.Execute(c.Response(), struct {
		Build map[string]string
		Ready bool
		Links any
	}{buildInfo(), a.ready(), indexLinks})
}
