package nab

import (
	"context"
	"runtime"
	"sync"

	"github.com/augur-sre/augur/model"
)

// Run scores every file of c with a fresh model.Detector per file, online:
// the score of row t is the detector's Alarm right after Observe(row t),
// before row t+1 is seen (NAB credits the first detection in a window and
// charges every detection outside one, so it is scored on the suppressed
// alarm, not on the continuous score). Files are spread over GOMAXPROCS
// workers; the result has one slice per file.
func Run(ctx context.Context, c *Corpus, opts model.DetectorOptions) ([][]float64, error) {
	out := make([][]float64, len(c.Files))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range jobs {
				f := &c.Files[i]
				d := model.NewDetector(opts)
				s := make([]float64, len(f.Values))
				for j, y := range f.Values {
					d.Observe(f.Timestamps[j], y)
					s[j] = d.Alarm()
				}
				out[i] = s
			}
		})
	}
	var err error
feed:
	for i := range c.Files {
		select {
		case jobs <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	return out, err
}
