package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Group commit. With synchronous=FULL every commit waits for an fsync of
// the WAL, which costs far more than the statements of a write: one
// transaction per write caps a store at a few hundred to a couple of
// thousand writes a second. So every write transaction goes through one
// goroutine, the writer, which takes the requests that queued while its
// previous transaction ran (up to maxBatch) and runs them in one
// transaction with one COMMIT, each inside its own SAVEPOINT: a request
// whose function fails is rolled back alone and answered with its error,
// the others commit. A caller is answered after the COMMIT of its batch,
// so a write is durable when its method returns; if the COMMIT fails,
// every request of the batch gets that error.
//
// A request runs to its end once started: its statements get its
// context's values but not its cancellation, since an interrupted SQLite
// statement may roll back the whole transaction, and so the other
// requests of the batch. A caller whose context ends while its request
// waits in the queue gets ctx.Err() and nothing of it is written; once
// started, its outcome is that of the batch.
//
// The callers' callbacks (UpdateOrder's mutate, AppendMessage's allow,
// RelayPending's publish) run on the writer: a slow one delays its whole
// batch, and one calling a write method of the store would wait for
// itself, as it did on the single connection before.
const (
	// maxBatch bounds a transaction, and so how long its first request
	// waits for its commit behind the others.
	maxBatch = 128
	// queueSize bounds the requests waiting for the writer; more callers
	// wait (with their context) to queue.
	queueSize = 1024
	// maxStmts bounds the statements the writer keeps prepared across
	// transactions (the write methods use a few dozen), and the ones it
	// saw prepared once (keepPrepared).
	maxStmts = 64
)

var errClosed = errors.New("store closed")

// request states: queued until the writer starts it or the caller gives up.
const (
	queued int32 = iota
	started
	abandoned
)

type request struct {
	ctx context.Context
	fn  func(ctx context.Context, tx *wtx) error
	// keepsOrders: fn tells the writer of every order it changes
	// (writerorders.go).
	keepsOrders bool
	state       atomic.Int32
	done        chan result // buffered: the writer never waits for the caller
}

// result is a request's outcome; panicked carries a panic of fn back to
// the caller's goroutine.
type result struct {
	err      error
	panicked any
}

// writer owns the write pool's connection: nothing else writes.
type writer struct {
	db     *sql.DB
	queue  chan *request
	stop   chan struct{} // closed by close
	exited chan struct{} // closed when run returns
	once   sync.Once
	// stmts are prepared on db's one connection and reused by every
	// transaction (wtx.stmt), uses counts their uses and seen holds the
	// statements prepared by one transaction so far (keepPrepared); only
	// the writer's goroutine uses them.
	stmts map[string]*keptStmt
	uses  uint64
	seen  map[string]struct{}
	// orders as the committed transactions left them (writerorders.go),
	// valid as of dataVersion read on the connection that was the opens-th
	// db opened (connOpens); only the writer's goroutine uses them.
	orders      map[delivery.ID]delivery.Order
	dataVersion int64
	opens       *atomic.Int64
	connOpens   int64
}

// startWriter starts the writer of db; opens counts the connections db
// opened (countingConnector).
func startWriter(db *sql.DB, opens *atomic.Int64) *writer {
	w := &writer{db: db, queue: make(chan *request, queueSize), stop: make(chan struct{}), exited: make(chan struct{}),
		stmts: map[string]*keptStmt{}, seen: map[string]struct{}{}, orders: map[delivery.ID]delivery.Order{}, opens: opens}
	go w.run()
	return w
}

// close ends the writer after its current batch; requests still queued
// are answered errClosed by their callers.
func (w *writer) close() {
	w.once.Do(func() { close(w.stop) })
	<-w.exited
}

// do runs fn in a write transaction of the writer and returns once that
// transaction committed (or fn failed). keepsOrders tells that fn keeps
// the writer's orders right (see inOrderTx).
func (w *writer) do(ctx context.Context, keepsOrders bool, fn func(ctx context.Context, tx *wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{ctx: ctx, fn: fn, keepsOrders: keepsOrders, done: make(chan result, 1)}
	select {
	case w.queue <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.stop:
		return errClosed
	}
	var res result
	select {
	case res = <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err()
		}
		res = <-r.done
	case <-w.exited:
		if r.state.CompareAndSwap(queued, abandoned) {
			return errClosed
		}
		res = <-r.done
	}
	if res.panicked != nil {
		panic(res.panicked)
	}
	return res.err
}

func (w *writer) run() {
	defer close(w.exited)
	defer func() {
		for _, k := range w.stmts {
			_ = k.st.Close()
		}
	}()
	batch := make([]*request, 0, maxBatch)
	for {
		select {
		case r := <-w.queue:
			batch = append(batch[:0], r)
		case <-w.stop:
			return
		}
	collect:
		for len(batch) < maxBatch {
			select {
			case r := <-w.queue:
				batch = append(batch, r)
			default:
				break collect
			}
		}
		for len(batch) > 0 {
			batch = w.commit(batch)
		}
	}
}

// commit runs batch in one transaction and answers its requests. It
// returns the requests it did not start because the transaction broke
// (SQLite rolls back the whole transaction on some errors, such as a full
// disk), for a transaction of their own.
func (w *writer) commit(batch []*request) []*request {
	ctx := context.Background()
	sqlTx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		err = fmt.Errorf("begin: %w", err)
		for _, r := range batch {
			if r.state.CompareAndSwap(queued, started) {
				r.done <- result{err: err}
			}
		}
		return nil
	}
	tx := &wtx{Tx: sqlTx, w: w, stmts: map[string]*sql.Stmt{}}
	defer func() { w.keepPrepared(tx.fresh) }()
	if err := tx.beginOrders(ctx); err != nil {
		// Not knowing what others committed, use no order of the copy.
		w.forgetOrders()
		w.dataVersion = -1
		tx.staleOrders = true
	}
	var ran []*request // run without error, answered after the COMMIT
	for i, r := range batch {
		if !r.state.CompareAndSwap(queued, started) {
			continue // its caller gave up
		}
		if err := r.ctx.Err(); err != nil {
			r.done <- result{err: err}
			continue
		}
		res, broken := runSavepoint(tx, r)
		if res.err == nil && res.panicked == nil {
			ran = append(ran, r)
			continue
		}
		if broken == nil {
			r.done <- res
			continue
		}
		// Nothing of this transaction will commit: the requests run so
		// far fail with it, those not started yet go to the next.
		_ = tx.Rollback()
		w.forgetOrders()
		r.done <- res
		for _, d := range ran {
			d.done <- result{err: fmt.Errorf("transaction rolled back: %w", broken)}
		}
		return batch[i+1:]
	}
	if err := tx.Commit(); err != nil {
		w.forgetOrders()
		err = fmt.Errorf("commit: %w", err)
		for _, r := range ran {
			r.done <- result{err: err}
		}
		return nil
	}
	w.commitOrders(tx)
	for _, r := range ran {
		r.done <- result{}
	}
	return nil
}

// runSavepoint runs r's fn inside a savepoint, rolled back if fn fails or
// panics. broken is set when the rollback itself failed: the transaction
// is gone.
func runSavepoint(tx *wtx, r *request) (res result, broken error) {
	ctx := context.WithoutCancel(r.ctx)
	if _, err := tx.ExecContext(ctx, `SAVEPOINT request`); err != nil {
		return result{err: fmt.Errorf("savepoint: %w", err)}, err
	}
	tx.startRequest(r.keepsOrders)
	func() {
		defer func() {
			if p := recover(); p != nil {
				res.panicked = p
			}
		}()
		res.err = r.fn(ctx, tx)
	}()
	defer func() { tx.endRequest(res.err == nil && res.panicked == nil && broken == nil) }()
	if res.err != nil || res.panicked != nil {
		if _, err := tx.ExecContext(ctx, `ROLLBACK TO request`); err != nil {
			return res, err
		}
	}
	if _, err := tx.ExecContext(ctx, `RELEASE request`); err != nil {
		if res.err == nil && res.panicked == nil {
			res.err = fmt.Errorf("release savepoint: %w", err)
		}
		return res, err
	}
	return res, nil
}

// keptStmt is a statement the writer keeps, last used at its uses-th use.
type keptStmt struct {
	st   *sql.Stmt
	used uint64
}

// keepPrepared prepares on the writer's connection, for the next
// transactions, the statements a transaction had to prepare for itself,
// each the second time one had to: updateOrderSQL makes a text per set of
// changed columns, and one seen once may never come again. Past maxStmts
// the statement least recently used gives way. It runs between
// transactions: the pool's one connection is free then. A statement that
// fails to prepare here is prepared by each transaction again.
func (w *writer) keepPrepared(queries []string) {
	for _, q := range queries {
		if _, ok := w.seen[q]; !ok {
			if len(w.seen) >= maxStmts {
				clear(w.seen)
			}
			w.seen[q] = struct{}{}
			continue
		}
		delete(w.seen, q)
		st, err := w.db.PrepareContext(context.Background(), q)
		if err != nil {
			continue
		}
		if len(w.stmts) >= maxStmts {
			w.dropLeastUsed()
		}
		w.uses++
		w.stmts[q] = &keptStmt{st: st, used: w.uses}
	}
}

// dropLeastUsed closes the kept statement used least recently.
func (w *writer) dropLeastUsed() {
	var drop string
	var oldest *keptStmt
	for q, k := range w.stmts {
		if oldest == nil || k.used < oldest.used {
			drop, oldest = q, k
		}
	}
	if oldest != nil {
		_ = oldest.st.Close()
		delete(w.stmts, drop)
	}
}

// wtx is a transaction of the writer. Parsing a statement costs SQLite
// about as much as running it, so each is prepared once on the writer's
// connection and reused by every transaction (the transaction's *sql.Stmt
// is a handle on it, closed with the transaction). A statement the writer
// does not hold yet is prepared for the transaction, reused by all its
// requests, and may be kept by the writer after it (keepPrepared).
type wtx struct {
	*sql.Tx
	w     *writer
	stmts map[string]*sql.Stmt
	fresh []string // prepared by this transaction alone
	// What the requests told of orders (writerorders.go): the running
	// one's, the released ones'; staleOrders: a request may have changed
	// orders unseen, the writer's copy is not to be read.
	reqOrders, txOrders orderStage
	staleOrders         bool
}

func (t *wtx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if kept, ok := t.w.stmts[query]; ok {
		t.w.uses++
		kept.used = t.w.uses
		st = t.Tx.StmtContext(ctx, kept.st)
	} else {
		var err error
		if st, err = t.Tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		t.fresh = append(t.fresh, query)
	}
	t.stmts[query] = st
	return st, nil
}

func (t *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (t *wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (t *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return t.Tx.QueryRowContext(ctx, query, args...) // which reports the error
	}
	return st.QueryRowContext(ctx, args...)
}
