package postgres

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

// Batched UpdateOrder. PostgreSQL's CPU per durable append went mostly to
// the statements' fixed costs (executor start and end, portals, CHECK
// constraints rebuilt per statement, the protocol), not to the rows: so
// UpdateOrder calls go through a few loops (updaters), each taking the
// calls that queued while its previous transaction ran and running them
// in one transaction of three statements whatever their number: one
// locking read of all their orders (ORDER BY id, so that two batches lock
// in the same order and never deadlock on orders), the mutates in Go, one
// UPDATE of the orders changed and one INSERT of the events, and COMMIT.
// Calls of one order go to one loop, in their order, and a call sees the
// order as the previous call of its batch left it: seqs stay gapless and
// increasing. Each caller is answered after the COMMIT of its batch.
//
// A call whose mutate fails (or panics, or that finds no order, or whose
// MaxActive check refuses) is answered with its error and writes
// nothing; the others of its batch commit. A batch locks at most one
// courier (MaxActive's check), after its orders: a call whose check is of
// another courier goes to the next batch, with the later calls of its
// order, so that batches lock in one order (orders by id, then one
// courier) and do not deadlock on couriers. A batch whose transaction the
// server refused (rolledBack: a deadlock with other writes, a constraint
// one change broke) wrote nothing: deadlocks and serialization failures
// run the batch again, other errors run each of its calls in a
// transaction of its own (updateOne), so that the failure is its call's
// alone. mutate may therefore run more than once for a call; only the
// run whose writes commit counts. A failure whose outcome is unknown
// (the connection broke after COMMIT was sent) is the error of every call
// whose writes the batch held, as it would be for one transaction; the
// others get their own outcomes.
const (
	// updaters is the number of loops: PostgreSQL flushes the commits
	// of the loops in flight together.
	updaters = 4
	// maxUpdateBatch bounds a batch, and so the locks it holds and how
	// long its first call waits.
	maxUpdateBatch = 128
	// updateQueue bounds the calls waiting for each loop; more callers
	// wait (with their context) to queue.
	updateQueue = 256
	// batchTimeout bounds a batch's transaction: its statements do not
	// end with their callers' contexts, since the others share it.
	batchTimeout = 30 * time.Second
	// batchAttempts bounds the runs of a batch that deadlocks.
	batchAttempts = 3
)

var errClosed = errors.New("store closed")

// request states: queued until a loop starts it or the caller gives up.
const (
	queued int32 = iota
	started
	abandoned
)

type updateReq struct {
	ctx    context.Context
	id     delivery.ID
	mutate func(*delivery.Order) (delivery.Change, error)
	state  atomic.Int32
	done   chan updateRes // buffered: a loop never waits for the caller

	// Set by the run of the batch that commits.
	res updateRes
}

// start marks r started unless its caller gave up; a call put off to
// the next batch is started already.
func (r *updateReq) start() bool {
	r.state.CompareAndSwap(queued, started)
	return r.state.Load() == started
}

type updateRes struct {
	o        delivery.Order
	ev       delivery.Event
	err      error
	panicked any // a panic of mutate, raised again on the caller's goroutine
}

// updaterPool is the loops and their queues.
type updaterPool struct {
	queues []chan *updateReq
	stop   chan struct{} // closed by close
	exited chan struct{} // closed when every loop returned
	once   sync.Once
}

func (s *Store) startUpdaters() {
	p := &updaterPool{stop: make(chan struct{}), exited: make(chan struct{})}
	var wg sync.WaitGroup
	for range updaters {
		q := make(chan *updateReq, updateQueue)
		p.queues = append(p.queues, q)
		wg.Go(func() { s.runUpdater(q, p.stop) })
	}
	go func() { wg.Wait(); close(p.exited) }()
	s.updaters = p
}

// close ends the loops after their current batches; calls still queued
// are answered errClosed by their callers.
func (p *updaterPool) close() {
	p.once.Do(func() { close(p.stop) })
	<-p.exited
}

// update queues an UpdateOrder call on its order's loop and returns its
// outcome once its batch committed (or it failed).
func (p *updaterPool) update(ctx context.Context, id delivery.ID, mutate func(*delivery.Order) (delivery.Change, error)) (delivery.Order, delivery.Event, error) {
	if err := ctx.Err(); err != nil {
		return delivery.Order{}, delivery.Event{}, err
	}
	r := &updateReq{ctx: ctx, id: id, mutate: mutate, done: make(chan updateRes, 1)}
	q := p.queues[uint64(id)%uint64(len(p.queues))]
	select {
	case q <- r:
	case <-ctx.Done():
		return delivery.Order{}, delivery.Event{}, ctx.Err()
	case <-p.stop:
		return delivery.Order{}, delivery.Event{}, errClosed
	}
	var res updateRes
	select {
	case res = <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(queued, abandoned) {
			return delivery.Order{}, delivery.Event{}, ctx.Err()
		}
		res = <-r.done
	case <-p.exited:
		if r.state.CompareAndSwap(queued, abandoned) {
			return delivery.Order{}, delivery.Event{}, errClosed
		}
		res = <-r.done
	}
	if res.panicked != nil {
		panic(res.panicked)
	}
	return res.o, res.ev, res.err
}

func (s *Store) runUpdater(q chan *updateReq, stop chan struct{}) {
	batch := make([]*updateReq, 0, maxUpdateBatch)
	var later []*updateReq // put off by the previous batch: started, their callers waiting
	for {
		batch = append(batch[:0], later...)
		if len(batch) == 0 {
			// Once closed, the calls still queued are their callers' to
			// answer: stop wins over a queue that is ready too.
			select {
			case <-stop:
				return
			default:
			}
			select {
			case r := <-q:
				batch = append(batch, r)
			case <-stop:
				return
			}
		}
	collect:
		for len(batch) < maxUpdateBatch {
			select {
			case r := <-q:
				batch = append(batch, r)
			default:
				break collect
			}
		}
		later = s.updateBatch(batch)
	}
}

// updateBatch runs and answers the calls of batch, but for those put off
// to the next batch, which it returns.
func (s *Store) updateBatch(batch []*updateReq) (later []*updateReq) {
	var run []*updateReq
	for _, r := range batch {
		if r.start() {
			run = append(run, r)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	var ran, answered []*updateReq
	var err error
	var committing bool
	for range batchAttempts {
		if run = dropEnded(run); len(run) == 0 {
			return nil
		}
		ran, answered, later, committing, err = s.tryBatch(ctx, run)
		if err == nil {
			answer(ran)
			answer(answered)
			return later
		}
		if !retryable(err) {
			break
		}
	}
	if !rolledBack(err, committing) {
		// The COMMIT went out and no answer came: it may have committed
		// the writes of ran. The others wrote nothing in any case.
		err = sqlutil.Wrap("postgres: update order", err)
		for _, r := range ran {
			r.done <- updateRes{err: err}
		}
		answer(answered)
		return later
	}
	// Nothing of the batch was written: each call on its own, so that
	// a failure is its call's alone.
	for _, r := range run {
		if err := r.ctx.Err(); err != nil {
			r.done <- updateRes{err: err}
			continue
		}
		r.done <- s.updateAlone(ctx, r)
	}
	return nil
}

// dropEnded answers the calls of run whose context ended, nothing
// written, and returns the others.
func dropEnded(run []*updateReq) []*updateReq {
	live := run[:0]
	for _, r := range run {
		if err := r.ctx.Err(); err != nil {
			r.done <- updateRes{err: err}
			continue
		}
		live = append(live, r)
	}
	return live
}

// answer sends each call its res.
func answer(rs []*updateReq) {
	for _, r := range rs {
		r.done <- r.res
	}
}

// rolledBack tells whether a batch's transaction that failed with err
// wrote nothing. Before the COMMIT went out it did not commit. After, an
// error of severity ERROR (a statement's, which aborts the transaction
// and makes the server skip the COMMIT behind it, or the COMMIT's own)
// or a COMMIT answered ROLLBACK means it was rolled back; a FATAL or
// PANIC, or an error of the network or of the context, leaves the
// outcome unknown. (A COMMIT acknowledged is a success, whatever came
// after it: txn.commit.)
func rolledBack(err error, committing bool) bool {
	if !committing || errors.Is(err, pgx.ErrTxCommitRollback) {
		return true
	}
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return false
	}
	severity := e.SeverityUnlocalized // Severity may be translated
	if severity == "" {
		severity = e.Severity
	}
	return severity == "ERROR"
}

// updateAlone runs r in a transaction of its own; a panic of its mutate
// is its outcome, for its caller.
func (s *Store) updateAlone(ctx context.Context, r *updateReq) (res updateRes) {
	defer func() {
		if p := recover(); p != nil {
			res = updateRes{panicked: p}
		}
	}()
	res.o, res.ev, res.err = s.updateOne(ctx, r.id, r.mutate)
	return res
}

// retryable tells whether a batch that failed with err may succeed if run
// again as it is.
func retryable(err error) bool {
	switch sqlState(err) {
	case "40P01", "40001": // deadlock detected, serialization failure
		return true
	}
	return false
}

// tryBatch runs the calls of run in one transaction, each one's outcome
// in its res, and answers none of them: ran are those whose writes the
// transaction holds, answered those that failed on their own (res their
// error), later those put off to the next batch, untouched: a call whose
// MaxActive check is of another courier than the batch's, and the calls
// of its order after it. If err is not nil the writes of ran did not
// commit, or, committing and not rolledBack, may have.
func (s *Store) tryBatch(ctx context.Context, run []*updateReq) (ran, answered, later []*updateReq, committing bool, err error) {
	ids := make([]int64, len(run))
	for i, r := range run {
		ids[i] = int64(r.id)
	}
	err = s.inTx(ctx, func(tx *txn) error {
		orders := make(map[delivery.ID]delivery.Order, len(run))
		b := &pgx.Batch{}
		b.Queue(ordersForUpdateQuery, ids).Query(func(rows pgx.Rows) error {
			list, err := pgx.CollectRows(rows, rowTo(scanOrder))
			for _, o := range list {
				orders[o.ID] = o
			}
			return err
		})
		if err := tx.send(ctx, b); err != nil {
			return err
		}
		var w batchWrites
		var courier delivery.ID          // locked by a MaxActive check; 0: none yet
		putOff := map[delivery.ID]bool{} // orders whose later calls go to the next batch
		for _, r := range run {
			r.res = updateRes{}
			if putOff[r.id] {
				later = append(later, r)
				continue
			}
			old, found := orders[r.id]
			if !found {
				r.res.err = orderNotFound(r.id)
				answered = append(answered, r)
				continue
			}
			o, ev, change, err := mutateOnce(old, r)
			if err == nil && change.MaxActive > 0 && delivery.IsActiveDelivery(o) {
				if courier != 0 && *o.CourierID != courier {
					putOff[r.id] = true
					later = append(later, r)
					continue
				}
				courier = *o.CourierID
				// The count must see the earlier calls' writes.
				if b := w.flush(); b != nil {
					if err := tx.send(ctx, b); err != nil {
						return err
					}
				}
				var refused *delivery.Error
				if err = checkActive(ctx, tx, o, change.MaxActive); err != nil && !errors.As(err, &refused) {
					return err // a statement failed, and the transaction with it
				}
			}
			if err != nil || r.res.panicked != nil {
				if r.res.err == nil {
					r.res.err = err
				}
				answered = append(answered, r)
				continue
			}
			if err := w.add(o, ev); err != nil {
				return err
			}
			orders[r.id] = o
			r.res = updateRes{o: o, ev: ev}
			ran = append(ran, r)
		}
		committing = true
		return tx.commit(ctx, w.flush())
	})
	return ran, answered, later, committing, err
}

// mutateOnce applies r's mutate to old as UpdateOrder does; a panic of
// mutate is kept in r.res.panicked.
func mutateOnce(old delivery.Order, r *updateReq) (o delivery.Order, ev delivery.Event, change delivery.Change, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.res.panicked = p
		}
	}()
	return sqlutil.Mutate(old, r.mutate, sqlutil.Now())
}

// ordersForUpdateQuery locks and reads the orders of a batch, in id order.
const ordersForUpdateQuery = `SELECT ` + orderColumns + ` FROM orders WHERE id = ANY($1) ORDER BY id FOR UPDATE`

// batchWrites collects the writes of a batch's calls as columns, for one
// UPDATE of the orders (one row each, its last state) and one INSERT of
// the events.
type batchWrites struct {
	row map[delivery.ID]int // an order's index in the order columns

	id, seq, totalCents                              []int64
	status, items, address, notes, reason            []string
	courier                                          []*int64
	updatedAt                                        []time.Time
	finishedAt, assignedAt, acceptedAt               []*time.Time
	pickupFrom, pickupLast, dropoffFrom, dropoffLast []int64
	pickupArrived, dropoffArrived                    []bool
	etaAt, etaPickup, etaDeliver                     []*int64
	etaBasis                                         []*string

	evOrder, evSeq []int64
	evType, evData []string
	evCreated      []time.Time
}

func (w *batchWrites) add(o delivery.Order, ev delivery.Event) error {
	items, err := sqlutil.MarshalItems(o.Items)
	if err != nil {
		return err
	}
	if w.row == nil {
		w.row = map[delivery.ID]int{}
	}
	i, ok := w.row[o.ID]
	if !ok {
		i = len(w.id)
		w.row[o.ID] = i
		w.id, w.seq, w.totalCents = append(w.id, 0), append(w.seq, 0), append(w.totalCents, 0)
		w.status, w.items, w.address = append(w.status, ""), append(w.items, ""), append(w.address, "")
		w.notes, w.reason, w.courier = append(w.notes, ""), append(w.reason, ""), append(w.courier, nil)
		w.updatedAt, w.finishedAt = append(w.updatedAt, time.Time{}), append(w.finishedAt, nil)
		w.assignedAt, w.acceptedAt = append(w.assignedAt, nil), append(w.acceptedAt, nil)
		w.pickupFrom, w.pickupLast = append(w.pickupFrom, 0), append(w.pickupLast, 0)
		w.dropoffFrom, w.dropoffLast = append(w.dropoffFrom, 0), append(w.dropoffLast, 0)
		w.pickupArrived, w.dropoffArrived = append(w.pickupArrived, false), append(w.dropoffArrived, false)
		w.etaAt, w.etaPickup, w.etaDeliver = append(w.etaAt, nil), append(w.etaPickup, nil), append(w.etaDeliver, nil)
		w.etaBasis = append(w.etaBasis, nil)
	}
	w.id[i], w.seq[i], w.totalCents[i] = int64(o.ID), o.Seq, o.TotalCents
	w.status[i], w.items[i], w.address[i] = string(o.Status), string(items), o.DeliveryAddress
	w.notes[i], w.reason[i], w.courier[i] = o.Notes, o.Reason, courierArg(o.CourierID)
	w.updatedAt[i], w.finishedAt[i], w.assignedAt[i], w.acceptedAt[i] = o.UpdatedAt, o.FinishedAt, o.AssignedAt, o.AcceptedAt
	w.pickupFrom[i], w.pickupLast[i], w.pickupArrived[i] = o.PickupStay.From, o.PickupStay.Last, o.PickupStay.Arrived
	w.dropoffFrom[i], w.dropoffLast[i], w.dropoffArrived[i] = o.DropoffStay.From, o.DropoffStay.Last, o.DropoffStay.Arrived
	w.etaAt[i], w.etaPickup[i], w.etaDeliver[i], w.etaBasis[i] = nil, nil, nil, nil
	if e := o.ETA; e != nil {
		at, deliver, basis := e.At, e.DeliverAt, e.Basis
		w.etaAt[i], w.etaPickup[i], w.etaDeliver[i], w.etaBasis[i] = &at, e.PickupAt, &deliver, &basis
	}
	w.evOrder, w.evSeq = append(w.evOrder, int64(ev.OrderID)), append(w.evSeq, ev.Seq)
	w.evType, w.evData = append(w.evType, ev.Type), append(w.evData, string(ev.Data))
	w.evCreated = append(w.evCreated, ev.CreatedAt)
	return nil
}

// flush returns a batch of the writes collected (nil if none) and
// forgets them.
func (w *batchWrites) flush() *pgx.Batch {
	if len(w.id) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	b.Queue(`
		UPDATE orders SET status = v.status, seq = v.seq, courier_id = v.courier_id, items = v.items::jsonb,
			total_cents = v.total_cents, delivery_address = v.delivery_address, notes = v.notes, reason = v.reason,
			updated_at = v.updated_at, finished_at = v.finished_at, assigned_at = v.assigned_at,
			accepted_at = v.accepted_at, pickup_from = v.pickup_from, pickup_last = v.pickup_last,
			pickup_arrived = v.pickup_arrived, dropoff_from = v.dropoff_from, dropoff_last = v.dropoff_last,
			dropoff_arrived = v.dropoff_arrived, eta_at = v.eta_at, eta_pickup_at = v.eta_pickup_at,
			eta_deliver_at = v.eta_deliver_at, eta_basis = v.eta_basis
		FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::text[],
			$8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[],
			$14::bigint[], $15::bigint[], $16::boolean[], $17::bigint[], $18::bigint[], $19::boolean[],
			$20::bigint[], $21::bigint[], $22::bigint[], $23::text[])
			AS v(id, status, seq, courier_id, items, total_cents, delivery_address, notes, reason, updated_at,
				finished_at, assigned_at, accepted_at, pickup_from, pickup_last, pickup_arrived,
				dropoff_from, dropoff_last, dropoff_arrived, eta_at, eta_pickup_at, eta_deliver_at, eta_basis)
		WHERE orders.id = v.id`,
		w.id, w.status, w.seq, w.courier, w.items, w.totalCents, w.address, w.notes, w.reason, w.updatedAt,
		w.finishedAt, w.assignedAt, w.acceptedAt, w.pickupFrom, w.pickupLast, w.pickupArrived,
		w.dropoffFrom, w.dropoffLast, w.dropoffArrived, w.etaAt, w.etaPickup, w.etaDeliver, w.etaBasis,
	).Fn = execFn(wrapErr("write orders"))
	b.Queue(`
		INSERT INTO order_events (order_id, seq, type, data, created_at)
		SELECT order_id, seq, type, data::json, created_at
		FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[]) WITH ORDINALITY
			AS v(order_id, seq, type, data, created_at, n)
		ORDER BY n`, // the outbox's ids follow the calls' order
		w.evOrder, w.evSeq, w.evType, w.evData, w.evCreated).Fn = execFn(wrapErr("insert events"))
	*w = batchWrites{}
	return b
}
