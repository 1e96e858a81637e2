package app

import (
	"context"
	"testing"
	"time"
)

// stuck is a hub whose connections never finish closing: its Shutdown
// returns only when its budget is spent.
type stuck struct{}

func (stuck) Shutdown(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// budgetProbe records what is left of the budget it is given.
type budgetProbe struct {
	left time.Duration
	err  error
}

func (p *budgetProbe) Shutdown(ctx context.Context) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		p.left = -1
	} else {
		p.left = time.Until(deadline)
	}
	p.err = ctx.Err()
	return nil
}

// TestShutdownBudgetsAreSeparate: a hub that uses up its whole budget
// leaves the HTTP server all of its own for the requests in flight.
func TestShutdownBudgetsAreSeparate(t *testing.T) {
	const hubBudget, httpBudget = 50 * time.Millisecond, time.Minute
	srv := &budgetProbe{}
	start := time.Now()
	if err := shutdownInTurn(stuck{}, srv, hubBudget, httpBudget); err == nil {
		t.Error("the stuck hub's deadline was not reported")
	}
	if took := time.Since(start); took < hubBudget {
		t.Errorf("shutdown took %v, less than the hub's budget", took)
	}
	if srv.err != nil || srv.left < httpBudget-10*time.Second {
		t.Errorf("the HTTP server got a budget with %v left (err %v), want about %v", srv.left, srv.err, httpBudget)
	}
}
