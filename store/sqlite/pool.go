package sqlite

import (
	"container/list"
	"context"
	"sync"
)

// pool keeps at most max tenant databases open while idle, closing the least recently used
// one when another is needed, so an appliance with thousands of tenants holds a bounded number
// of files and page caches. Databases in use are never closed under their users: the pool
// may exceed max while more than max are in use and shrinks as they are released.
type pool struct {
	mu      sync.Mutex
	max     int
	entries map[string]*poolEntry
	lru     *list.List // of tenant ids, most recent at the front
}

type poolEntry struct {
	db      *DB
	refs    int
	elem    *list.Element
	ready   chan struct{} // closed once db (or err) is set
	err     error
	doomed  bool // removed from the pool; close when the last user releases it
	removed bool
}

func newPool(max int) *pool {
	return &pool{max: max, entries: map[string]*poolEntry{}, lru: list.New()}
}

// acquire returns the open database of a tenant, opening it with open if needed. Concurrent
// callers for the same tenant share one open.
func (p *pool) acquire(ctx context.Context, id string,
	open func(context.Context) (*DB, error)) (*DB, func(), error) {
	p.mu.Lock()
	e, ok := p.entries[id]
	if ok {
		e.refs++
		p.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			p.release(id, e)
			return nil, nil, ctx.Err()
		}
		if e.err != nil {
			p.release(id, e)
			return nil, nil, e.err
		}
		p.mu.Lock()
		if e.elem != nil {
			p.lru.MoveToFront(e.elem)
		}
		p.mu.Unlock()
		return e.db, func() { p.release(id, e) }, nil
	}
	e = &poolEntry{refs: 1, ready: make(chan struct{})}
	p.entries[id] = e
	p.mu.Unlock()

	db, err := open(ctx)

	p.mu.Lock()
	e.db, e.err = db, err
	if err != nil {
		delete(p.entries, id)
		e.removed = true
	} else {
		e.elem = p.lru.PushFront(id)
	}
	close(e.ready)
	victims := p.evictLocked()
	p.mu.Unlock()
	closeAll(victims)
	if err != nil {
		return nil, nil, err
	}
	return db, func() { p.release(id, e) }, nil
}

func (p *pool) release(id string, e *poolEntry) {
	p.mu.Lock()
	e.refs--
	var victims []*DB
	if e.refs == 0 && e.doomed && e.db != nil {
		victims = append(victims, e.db)
		e.db = nil
	}
	victims = append(victims, p.evictLocked()...)
	p.mu.Unlock()
	closeAll(victims)
}

// evictLocked removes idle entries from the back of the LRU while the pool is over max.
func (p *pool) evictLocked() []*DB {
	var victims []*DB
	for el := p.lru.Back(); el != nil && len(p.entries) > p.max; {
		prev := el.Prev()
		id := el.Value.(string)
		if e := p.entries[id]; e != nil && e.refs == 0 && e.db != nil {
			p.lru.Remove(el)
			delete(p.entries, id)
			e.removed = true
			victims = append(victims, e.db)
			e.db = nil
		}
		el = prev
	}
	return victims
}

// remove takes a tenant out of the pool and closes its database, at once if idle or when its
// last user releases it; it returns after an idle database is closed.
func (p *pool) remove(id string) {
	p.mu.Lock()
	e, ok := p.entries[id]
	if !ok {
		p.mu.Unlock()
		return
	}
	delete(p.entries, id)
	e.removed = true
	if e.elem != nil {
		p.lru.Remove(e.elem)
		e.elem = nil
	}
	var victims []*DB
	if e.refs == 0 && e.db != nil {
		victims = append(victims, e.db)
		e.db = nil
	} else {
		e.doomed = true
	}
	p.mu.Unlock()
	closeAll(victims)
}

// open returns how many tenant databases are open now.
func (p *pool) open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.entries)
}

// closeAll closes every database of the pool; used on shutdown.
func (p *pool) closeAll() {
	p.mu.Lock()
	var victims []*DB
	for id, e := range p.entries {
		if e.db != nil {
			victims = append(victims, e.db)
			e.db = nil
		}
		delete(p.entries, id)
	}
	p.lru.Init()
	p.mu.Unlock()
	closeAll(victims)
}

func closeAll(dbs []*DB) {
	for _, db := range dbs {
		_ = db.Close()
	}
}
