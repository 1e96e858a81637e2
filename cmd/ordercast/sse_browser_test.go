package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/browsertest"
	"github.com/ordercast/ordercast/internal/testnet"
)

// TestBrowserEventSourceResumesAfterACut: the browser's own EventSource
// on GET /sse gets an order's events; when the connection is cut it
// reconnects by itself, sending the last id it was given, and gets what
// was committed meanwhile with no gap and no duplicate (the URL's
// last_event_id, from the start, yields to the header).
func TestBrowserEventSourceResumesAfterACut(t *testing.T) {
	base, _ := startProgram(t, map[string]string{"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "oc.db")})
	orderID, restaurant, customer := placedOrder(t, base)
	proxy := testnet.StartProxy(t, strings.TrimPrefix(base, "http://"))
	e := &clientEnv{base: base, proxy: proxy, orderID: orderID, restaurant: restaurant}
	tab := browsertest.New(t).NewTab(t, "customer")
	tab.Navigate("http://" + proxy.Addr + "/")
	order := "order:" + orderID
	browsertest.Eval[bool](tab, fmt.Sprintf(`(() => {
	  const rec = window.rec = { seqs: [], ids: [], opens: 0, refused: [] };
	  const es = window.es = new EventSource("/sse?channels=%[1]s,dispatch&access_token=%[2]s&last_event_id=%[1]s=0");
	  es.onopen = () => rec.opens++;
	  for (const name of ["order.created", "chat.message"]) {
	    es.addEventListener(name, (m) => {
	      const f = JSON.parse(m.data);
	      if (f.channel === "%[1]s") { rec.seqs.push(f.seq); rec.ids.push(m.lastEventId); } // not the feed's copy
	    });
	  }
	  es.addEventListener("error", (m) => { if (m.data) rec.refused.push(JSON.parse(m.data)); });
	  return true;
	})()`, order, customer))

	next := 1 // order.created
	chat := func(n int) {
		for range n {
			next++
			e.chat(t, fmt.Sprintf("message %d", next))
		}
	}
	tab.WaitJS(`rec.opens === 1 && rec.seqs.length === 1`)
	chat(3)
	tab.WaitJS(fmt.Sprintf(`rec.seqs.at(-1) === %d`, next))
	online := tab.ExpectNetworkErrors()
	proxy.Cut()
	tab.WaitJS(`es.readyState === EventSource.CONNECTING`)
	chat(3) // committed while the browser is cut off
	proxy.Resume()
	tab.WaitJS(`rec.opens === 2`)
	chat(2)
	tab.WaitJS(fmt.Sprintf(`rec.seqs.at(-1) === %d`, next))
	online()

	want := make([]int64, next)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if got := browsertest.Eval[[]int64](tab, `rec.seqs`); !slices.Equal(got, want) {
		t.Fatalf("EventSource delivered seqs %v, want 1..%d once each in order", got, next)
	}
	if got, wantID := browsertest.Eval[string](tab, `rec.ids.at(-1)`), fmt.Sprintf("%s=%d", order, next); got != wantID {
		t.Errorf("last event id %q, want %q", got, wantID)
	}
	// A customer may not hold dispatch: refused on each stream, the order
	// channel served all the same.
	refused := browsertest.Eval[[]map[string]string](tab, `rec.refused`)
	if len(refused) != 2 || refused[0]["channel"] != "dispatch" || refused[0]["code"] != "forbidden" {
		t.Errorf("refusals %v, want dispatch forbidden on both streams", refused)
	}
	tab.CheckClean()
}
