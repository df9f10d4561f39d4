package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/augur-sre/augur/api"
	"github.com/augur-sre/augur/config"
	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/notifier"
	"github.com/augur-sre/augur/rules"
	"github.com/augur-sre/augur/store"
)

// alertingFlags are the flags of the store, the webhook and the alerts out.
type alertingFlags struct {
	externalURL         string
	webhookTokenFile    string
	webhookUser         string
	webhookPasswordFile string
	incidentRetention   model.Duration
}

func (f *alertingFlags) register(c *kingpin.CmdClause) {
	c.Flag("web.external-url", "The URL under which augur is reached by users (the generatorURL of its alerts). Default: http://<hostname>:<port of --web.listen-address>.").StringVar(&f.externalURL)
	c.Flag("webhook.bearer-token-file", "File holding the bearer token Alertmanager must send to /api/v1/alertmanager/webhook (its http_config.authorization.credentials). With basic_auth_users in --web.config.file, the webhook accepts either this token or one of those users; other paths need a user. See also --webhook.basic-auth-username.").StringVar(&f.webhookTokenFile)
	c.Flag("webhook.basic-auth-username", "Basic auth user Alertmanager must send to /api/v1/alertmanager/webhook; the password is in --webhook.basic-auth-password-file.").StringVar(&f.webhookUser)
	c.Flag("webhook.basic-auth-password-file", "File holding the basic auth password of --webhook.basic-auth-username.").StringVar(&f.webhookPasswordFile)
	c.Flag("storage.incidents.retention", "How long the store keeps an incident after it ended (after it started, while it fires); older ones are pruned hourly. It should cover --config.file's history.").Default("90d").SetValue(&f.incidentRetention)
}

// alerting wires issue 7's parts: the durable store, the Alertmanager
// webhook, the notifier and the alert rules.
type alerting struct {
	store    *store.Store
	notifier *notifier.Manager
	rules    *rules.Manager
}

func readSecret(flag, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--%s: %w", flag, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("--%s: %s is empty", flag, path)
	}
	return s, nil
}

// externalURL is --web.external-url or one derived from the listen address.
func externalURL(flag, listen string) string {
	if flag != "" {
		return strings.TrimSuffix(flag, "/")
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://localhost:9477"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if h, err := os.Hostname(); err == nil {
			host = h
		} else {
			host = "localhost"
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

// openStore opens the store under path; it refuses a damaged one.
func openStore(path string, f alertingFlags, reg prometheus.Registerer, logger *slog.Logger) (*store.Store, error) {
	if f.incidentRetention <= 0 {
		return nil, fmt.Errorf("--storage.incidents.retention must be positive, got %s", f.incidentRetention)
	}
	return store.Open(path, store.Options{Timeout: 5 * time.Second, IncidentRetention: time.Duration(f.incidentRetention), Registerer: reg, Logger: logger})
}

// setupAlerting registers the webhook on a and builds the notifier and the
// alert rules of engine.
func setupAlerting(f alertingFlags, listen string, cfg *config.Config, eng *engine.Engine, a *api.API, st *store.Store, reg prometheus.Registerer, opts engine.Options, logger *slog.Logger) (*alerting, error) {
	token, err := readSecret("webhook.bearer-token-file", f.webhookTokenFile)
	if err != nil {
		return nil, err
	}
	password, err := readSecret("webhook.basic-auth-password-file", f.webhookPasswordFile)
	if err != nil {
		return nil, err
	}
	if (f.webhookUser == "") != (password == "") {
		return nil, fmt.Errorf("--webhook.basic-auth-username and --webhook.basic-auth-password-file go together")
	}
	if err := a.RegisterWebhook(api.WebhookOptions{Store: st, BearerToken: token, Username: f.webhookUser, Password: password, Entity: incidentEntity(cfg), Logger: logger}); err != nil {
		return nil, err
	}
	a.ServeIncidents(liveIncidents(opts, st))
	a.ServeIncidentLog(st)
	var urls []string
	for _, am := range cfg.Alerting.Alertmanagers {
		urls = append(urls, am.URL)
	}
	nm, err := notifier.New(notifier.Options{Alertmanagers: urls, Registerer: reg, Logger: logger})
	if err != nil {
		return nil, err
	}
	th := cfg.Alerting.FailureThreshold
	rm, err := rules.NewManager(eng, []rules.Rule{
		rules.FailurePredicted{Threshold: th},
		rules.AnomalyDetected{MinScore: 0.5},
		rules.CapacityExhaustion{Threshold: th},
	}, rules.Options{
		For:         time.Duration(cfg.Alerting.For),
		Interval:    opts.EvaluationInterval,
		ExternalURL: externalURL(f.externalURL, listen),
		Notify:      nm.Send,
		Store:       st,
		Logger:      logger,
	})
	if err != nil {
		return nil, err
	}
	a.ServeRules(rm)
	return &alerting{store: st, notifier: nm, rules: rm}, nil
}

// liveIncidents lists the incidents of the engine's window (the history up
// to the end of the current step) from the sources and the store, not
// from the engine's last refresh: an incident is listed as soon as the
// webhook acknowledged it.
func liveIncidents(opts engine.Options, st *store.Store) api.IncidentsFunc {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return func(ctx context.Context) ([]ingest.Incident, []string, error) {
		end := now().Truncate(opts.Step).Add(opts.Step)
		warnings := st.Warnings()
		if opts.Incidents == nil {
			return nil, warnings, nil
		}
		incs, err := opts.Incidents.Incidents(ctx, end.Add(-opts.History), end)
		if err != nil && incs != nil {
			return incs, append(warnings, err.Error()), nil
		}
		return incs, warnings, err
	}
}

// addTo adds the store's pruning, the notifier and the rules to the run group.
func (al *alerting) addTo(g *run.Group, ctx context.Context, logger *slog.Logger) {
	{
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error { return al.store.Run(ctx) }, func(error) {
			logger.Info("stopping incident pruning")
			cancel()
		})
	}
	{
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error { return al.notifier.Run(ctx) }, func(error) {
			logger.Info("stopping notifier")
			cancel()
		})
	}
	{
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error { return al.rules.Run(ctx) }, func(error) {
			logger.Info("stopping alert rules")
			cancel()
		})
	}
}
