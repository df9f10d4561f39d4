package engine

import "sync"

// publisher runs what each published State is followed by, off the
// evaluation's path: the State's capacity index, then the hooks
// registered with OnPublish. One goroutine at a time runs them, for the
// newest State only: a State published while they run for an older one is
// the next they run for, and any published in between are skipped.
type publisher struct {
	mu      sync.Mutex
	hooks   []func(*State)
	running bool
	next    *State
}

// OnPublish registers f to be called with each State after it is
// published (see publisher): to derive from it what requests would
// otherwise compute, such as an encoded answer. f must not modify the
// State; it may skip States published while it ran. It is safe to call
// at any time.
func (e *Engine) OnPublish(f func(*State)) {
	e.pub.mu.Lock()
	defer e.pub.mu.Unlock()
	e.pub.hooks = append(e.pub.hooks, f)
}

// publish makes st the State readers get, then has the publisher derive
// from it.
func (e *Engine) publish(st *State) {
	e.state.Store(st)
	p := &e.pub
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next = st
	if !p.running {
		p.running = true
		go e.derive()
	}
}

// derive runs the publisher until no State waits for it.
func (e *Engine) derive() {
	p := &e.pub
	g := capacityGrid(e.step, e.horizon)
	for {
		p.mu.Lock()
		st, hooks := p.next, p.hooks
		p.next = nil
		if st == nil {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		if st.Ready && st.plans != nil {
			e.capIndex.Store(newCapacityIndex(st, g))
		}
		for _, f := range hooks {
			f(st)
		}
	}
}
