package engine

import (
	"log/slog"
	"time"
)

// progressEvery is how often a long task logs how far it is: a large
// fleet's first start fetches and fits for tens of minutes, and two log
// lines at its start would leave an operator guessing whether it hangs.
const progressEvery = 30 * time.Second

// progress logs the advance of a task of total steps, at most every
// progressEvery, with the time it expects the rest to take at the rate so
// far. A task shorter than progressEvery logs nothing.
type progress struct {
	logger      *slog.Logger
	msg, unit   string
	total       int
	start, last time.Time
	now         func() time.Time
}

func newProgress(logger *slog.Logger, msg, unit string, total int) *progress {
	now := time.Now()
	return &progress{logger: logger, msg: msg, unit: unit, total: total, start: now, last: now, now: time.Now}
}

// done records that done of the total steps are finished.
func (p *progress) done(done int) {
	now := p.now()
	if now.Sub(p.last) < progressEvery || done <= 0 || done >= p.total {
		return
	}
	p.last = now
	elapsed := now.Sub(p.start)
	left := time.Duration(float64(elapsed) * float64(p.total-done) / float64(done))
	p.logger.Info(p.msg, p.unit, done, "of", p.total, "elapsed", elapsed.Round(time.Second), "remaining", left.Round(time.Second))
}
