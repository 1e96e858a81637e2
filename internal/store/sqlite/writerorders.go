package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync/atomic"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

// The writer's orders. Reading the order row back (32 columns, the
// restaurant's, the items' JSON) was a third of the CPU of a durable
// append, though the writer had written that row itself. So the writer
// keeps the orders as its committed transactions left them (CreateOrder
// and UpdateOrder put theirs), and UpdateOrder and AppendMessage start
// from its copy (wtx.order).
//
// The copy is right only while every change to an order or to a
// restaurant (whose name and place come with its orders) goes through
// a request that keeps it right:
//   - a request of inOrderTx changes orders only as it tells the writer
//     (putOrder, forgetOrder); any other request (inTx) makes the writer
//     forget every order, whatever it did;
//   - what a request told is kept only once its savepoint is released,
//     and by the writer only once the transaction committed; a failed
//     COMMIT or a broken transaction forgets every order;
//   - a commit of another connection (another process on the file) is
//     seen by PRAGMA data_version at each transaction's start, which then
//     forgets every order. data_version is the connection's own count, and
//     a new connection's starts where the old one's may have been, so the
//     writer also forgets every order when its pool replaced its
//     connection (countingConnector): a commit in between is not counted.
//
// maxOrders bounds the copy: past it an arbitrary order is dropped for
// each new one (a few hundred bytes each).
const maxOrders = 8192

// orderStage is what the requests of a transaction told of orders: an
// order as written, or nil for one to read back.
type orderStage map[delivery.ID]*delivery.Order

// beginOrders starts a transaction's view of the writer's orders, after
// checking that no other connection committed since the last one.
func (t *wtx) beginOrders(ctx context.Context) error {
	// The pool holds one connection at most, the transaction's now: it is
	// the last one opened.
	opens := t.w.opens.Load()
	var v int64
	if err := t.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
		return fmt.Errorf("data version: %w", err)
	}
	if v != t.w.dataVersion || opens != t.w.connOpens {
		clear(t.w.orders)
		t.w.dataVersion = v
		t.w.connOpens = opens
	}
	return nil
}

// countingConnector counts the connections the write pool opened, so that
// the writer knows when its connection is not the one it read data_version
// on last (database/sql replaces a connection the driver marked bad, such
// as one whose statement a context interrupted).
type countingConnector struct {
	driver.Connector
	opens atomic.Int64
}

func (c *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err == nil {
		c.opens.Add(1)
	}
	return conn, err
}

// startRequest is called before each request of the transaction runs.
func (t *wtx) startRequest(keepsOrders bool) {
	t.reqOrders = nil
	if !keepsOrders {
		t.staleOrders = true
		t.txOrders = nil
	}
}

// endRequest keeps what a request told if it succeeded.
func (t *wtx) endRequest(ok bool) {
	if ok {
		for id, o := range t.reqOrders {
			if t.txOrders == nil {
				t.txOrders = orderStage{}
			}
			t.txOrders[id] = o
		}
	}
	t.reqOrders = nil
}

// commitOrders makes the writer keep what the transaction told, once it
// committed; forgetOrders is for a transaction that did not.
func (w *writer) commitOrders(t *wtx) {
	if t.staleOrders {
		clear(w.orders)
	}
	for id, o := range t.txOrders {
		if o == nil {
			delete(w.orders, id)
			continue
		}
		if _, ok := w.orders[id]; !ok && len(w.orders) >= maxOrders {
			for drop := range w.orders {
				delete(w.orders, drop)
				break
			}
		}
		w.orders[id] = *o
	}
}

func (w *writer) forgetOrders() { clear(w.orders) }

// order returns the order with id as the transaction sees it, from the
// writer's copy when it has one, or ENOTFOUND.
func (t *wtx) order(ctx context.Context, id delivery.ID) (delivery.Order, error) {
	if o, ok := t.cachedOrder(id); ok {
		return sqlutil.CloneOrder(o), nil
	}
	return orderByID(ctx, t, id)
}

func (t *wtx) cachedOrder(id delivery.ID) (delivery.Order, bool) {
	for _, stage := range []orderStage{t.reqOrders, t.txOrders} {
		if o, ok := stage[id]; ok {
			if o == nil {
				return delivery.Order{}, false
			}
			return *o, true
		}
	}
	if t.staleOrders {
		return delivery.Order{}, false
	}
	o, ok := t.w.orders[id]
	return o, ok
}

// putOrder tells the writer o as the request wrote it.
func (t *wtx) putOrder(o delivery.Order) {
	c := sqlutil.CloneOrder(o)
	t.stage(o.ID, &c)
}

// forgetOrder tells the writer that the request changed the order with id
// otherwise: it is to be read back.
func (t *wtx) forgetOrder(id delivery.ID) { t.stage(id, nil) }

func (t *wtx) stage(id delivery.ID, o *delivery.Order) {
	if t.reqOrders == nil {
		t.reqOrders = orderStage{}
	}
	t.reqOrders[id] = o
}
