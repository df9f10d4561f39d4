package engine

import (
	"runtime"
	"sync"
)

// minShard is the fewest series a goroutine of forShards takes: a smaller
// share costs more in scheduling than it saves.
const minShard = 128

// forShards splits [0, n) into contiguous shards, one per CPU the runtime
// may use (GOMAXPROCS) but at least minShard indexes each, calls fn on every
// shard on a goroutine of its own (the first on the caller's) and returns
// when all are done. The series of an evaluation are independent once
// fetched: their assessments and their TSDB appends run in parallel.
func forShards(n int, fn func(lo, hi int)) {
	w := min(runtime.GOMAXPROCS(0), (n+minShard-1)/minShard)
	if w <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 1; i < w; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i*n/w, (i+1)*n/w)
		}()
	}
	fn(0, n/w)
	wg.Wait()
}
