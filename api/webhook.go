package api

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/common/model"

	"github.com/augur-sre/augur/rules"
	"github.com/augur-sre/augur/store"
)

// WebhookPath is where Alertmanager posts notifications (webhook_configs url).
const WebhookPath = "/api/v1/alertmanager/webhook"

// IncidentStore durably stores the incidents the webhook receives;
// *store.Store implements it. AddIncidents must return only once the
// incidents are durable, and be idempotent on fingerprint, start and status.
type IncidentStore interface {
	AddIncidents([]store.Incident) (added int, err error)
}

// WebhookOptions configures the Alertmanager webhook receiver.
type WebhookOptions struct {
	Store IncidentStore
	// BearerToken, when set, is accepted as "Authorization: Bearer <token>".
	BearerToken string
	// Username and Password, when Username is set, are accepted as basic auth.
	// With neither a token nor a username the webhook accepts any poster:
	// protect it with --web.config.file then.
	Username, Password string
	// Entity names the failed entity from an alert's labels, "" for none;
	// default the first of instance, host, entity, node, pod that is set.
	Entity func(labels map[string]string) string
	Logger *slog.Logger
	// Now is the clock of ReceivedAt; default time.Now.
	Now func() time.Time
}

// The webhook's size limits, checked before anything is stored, so that a
// notification is stored whole or answered 400 with the field named (and
// Alertmanager, which retries only 5xx, does not retry it). They are far
// above what Alertmanager sends (16 hex digits of fingerprint) and keep a
// stored key within bbolt's 32 KiB.
const (
	maxWebhookAlerts     = 10000
	maxFingerprintBytes  = 256
	maxLabels            = 256
	maxLabelNameBytes    = 1 << 10
	maxLabelValueBytes   = 16 << 10
	maxAnnotationBytes   = 64 << 10
	maxWebhookFieldBytes = 4 << 10 // receiver, generatorURL
)

// webhookMessage is Alertmanager's webhook payload (version 4). Unknown
// fields are ignored, so newer Alertmanagers are understood.
type webhookMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []webhookAlert    `json:"alerts"`
}

type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// RegisterWebhook serves POST /api/v1/alertmanager/webhook: Alertmanager's
// notifications become incidents, stored durably before the 2xx, so that
// Alertmanager retries (on 5xx) whatever was not stored.
func (a *API) RegisterWebhook(o WebhookOptions) error {
	if o.Store == nil {
		return errors.New("cannot serve the Alertmanager webhook: no store")
	}
	if o.Logger == nil {
		o.Logger = a.opts.Logger
	}
	o.Logger = o.Logger.With("component", "webhook")
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Entity == nil {
		o.Entity = func(l map[string]string) string {
			for _, name := range []string{"instance", "host", "entity", "node", "pod"} {
				if v := l[name]; v != "" {
					return v
				}
			}
			return ""
		}
	}
	if o.BearerToken != "" || o.Username != "" {
		a.webhookAuth = o.authorized
	}
	a.echo.POST(WebhookPath, wrap(func(c echo.Context) result { return webhook(c, o) }))
	return nil
}

// authorized checks the request's credentials against the configured ones
// in constant time. A request Run let in with a user of --web.config.file's
// basic_auth_users needs no more: either credential opens the webhook.
func (o *WebhookOptions) authorized(r *http.Request) bool {
	if o.BearerToken == "" && o.Username == "" {
		return true
	}
	if _, ok := r.Context().Value(webConfigUser{}).(string); ok {
		return true
	}
	if o.BearerToken != "" {
		// RFC 7235: the scheme is case-insensitive.
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(o.BearerToken)) == 1 {
			return true
		}
	}
	if o.Username != "" {
		if u, p, ok := r.BasicAuth(); ok {
			uok := subtle.ConstantTimeCompare([]byte(u), []byte(o.Username))
			pok := subtle.ConstantTimeCompare([]byte(p), []byte(o.Password))
			return uok&pok == 1
		}
	}
	return false
}

func webhook(c echo.Context, o WebhookOptions) result {
	r := c.Request()
	if !o.authorized(r) {
		scheme := "Bearer"
		if o.Username != "" {
			scheme = `Basic realm="augur"`
		}
		c.Response().Header().Set("WWW-Authenticate", scheme)
		return result{err: &apiError{kind: kindUnauthorized, err: errors.New("unauthorized: the webhook needs the configured bearer token or basic auth")}}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return result{err: fmt.Errorf("request body too large: %w", err)}
		}
		return result{err: badData("cannot read body: %v", err)}
	}
	var msg webhookMessage
	if err := json.Unmarshal(body, &msg); err != nil {
		return result{err: badData("cannot decode Alertmanager webhook payload: %v", err)}
	}
	if msg.Version != "" && msg.Version != "4" {
		o.Logger.Warn("unexpected webhook payload version, decoding it as version 4", "version", msg.Version)
	}
	if err := msg.validate(); err != nil {
		return result{err: err}
	}
	now := o.Now().UTC()
	incs := make([]store.Incident, 0, len(msg.Alerts))
	for _, al := range msg.Alerts {
		fp := al.Fingerprint
		if fp == "" {
			fp = labelSet(al.Labels).Fingerprint().String()
		}
		in := store.Incident{
			Fingerprint: fp, Status: al.Status, Name: al.Labels["alertname"], Signal: al.Labels["signal"],
			Labels: al.Labels, Annotations: al.Annotations, StartsAt: al.StartsAt.UTC(),
			GeneratorURL: al.GeneratorURL, Receiver: msg.Receiver, ReceivedAt: now,
			Source: "alertmanager",
		}
		if ownAlert(al) {
			in.Source = "augur"
		}
		if al.Status == "resolved" {
			in.EndsAt = al.EndsAt.UTC()
		}
		in.Entity = o.Entity(al.Labels)
		incs = append(incs, in)
	}
	added, err := o.Store.AddIncidents(incs)
	if err != nil {
		// The notification is valid: a 5xx, which Alertmanager retries.
		o.Logger.Error("cannot store incidents: Alertmanager will retry", "err", err)
		return result{err: &apiError{kind: kindInternal, err: err}}
	}
	if added > 0 {
		o.Logger.Info("stored incidents", "received", len(incs), "new", added, "group_key", msg.GroupKey, "receiver", msg.Receiver)
	}
	return result{data: map[string]int{"received": len(incs), "stored": added}}
}

// validate checks the whole notification, so that it is stored all or
// none: the first problem is a 400 naming its field.
func (m *webhookMessage) validate() *apiError {
	if len(m.Alerts) > maxWebhookAlerts {
		return badData("alerts: %d alerts, at most %d in one notification (set max_alerts in the webhook_config)", len(m.Alerts), maxWebhookAlerts)
	}
	if len(m.Receiver) > maxWebhookFieldBytes {
		return badData("receiver: %d bytes, at most %d", len(m.Receiver), maxWebhookFieldBytes)
	}
	for i, al := range m.Alerts {
		switch {
		case al.Status != "firing" && al.Status != "resolved":
			return badData("alerts[%d].status: %q is neither firing nor resolved", i, al.Status)
		case len(al.Labels) == 0:
			return badData("alerts[%d].labels: no labels", i)
		case len(al.Labels) > maxLabels:
			return badData("alerts[%d].labels: %d labels, at most %d", i, len(al.Labels), maxLabels)
		case al.StartsAt.IsZero():
			return badData("alerts[%d].startsAt: no startsAt", i)
		case len(al.Fingerprint) > maxFingerprintBytes:
			return badData("alerts[%d].fingerprint: %d bytes, at most %d", i, len(al.Fingerprint), maxFingerprintBytes)
		case len(al.GeneratorURL) > maxWebhookFieldBytes:
			return badData("alerts[%d].generatorURL: %d bytes, at most %d", i, len(al.GeneratorURL), maxWebhookFieldBytes)
		}
		if err := checkSizes(al.Labels, fmt.Sprintf("alerts[%d].labels", i), maxLabelValueBytes); err != nil {
			return err
		}
		if err := checkSizes(al.Annotations, fmt.Sprintf("alerts[%d].annotations", i), maxAnnotationBytes); err != nil {
			return err
		}
	}
	return nil
}

// checkSizes bounds the names and values of a label or annotation set.
func checkSizes(m map[string]string, field string, maxValue int) *apiError {
	for k, v := range m {
		if len(k) > maxLabelNameBytes {
			return badData("%s: a name of %d bytes (%.20q…), at most %d", field, len(k), k, maxLabelNameBytes)
		}
		if len(v) > maxValue {
			return badData("%s.%.64s: value of %d bytes, at most %d", field, k, len(v), maxValue)
		}
	}
	return nil
}

func labelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

// ownAlert tells augur's own alerts, routed back by Alertmanager, from
// failures: their generatorURL queries augur's virtual metrics.
func ownAlert(al webhookAlert) bool {
	return slices.Contains(rules.Names, al.Labels[model.AlertNameLabel]) && strings.Contains(al.GeneratorURL, "/api/v1/query?query=augur_")
}
