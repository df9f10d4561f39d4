package engine

import (
	"bytes"
	"log/slog"
	"testing"
	"time"
)

func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	t0 := time.Unix(0, 0)
	p := newProgress(logger, "fitting models", "series", 100)
	p.start, p.last = t0, t0
	for _, step := range []struct {
		at   time.Duration
		done int
	}{
		{10 * time.Second, 5},    // too soon
		{40 * time.Second, 20},   // logged: 20 in 40 s, 80 left at that rate
		{50 * time.Second, 30},   // too soon after the last line
		{80 * time.Second, 50},   // logged
		{200 * time.Second, 100}, // finished: the caller logs the end
	} {
		p.now = func() time.Time { return t0.Add(step.at) }
		p.done(step.done)
	}
	want := `level=INFO msg="fitting models" series=20 of=100 elapsed=40s remaining=2m40s
level=INFO msg="fitting models" series=50 of=100 elapsed=1m20s remaining=1m20s
`
	if got := buf.String(); got != want {
		t.Errorf("logged\n%s\nwant\n%s", got, want)
	}
}
