package main

// Browser tests of the client library, web/client/ordercast.js: the whole
// program runs, a page of it is open in headless Chromium, and the test
// imports the library in that page and drives it from JavaScript; what the
// library delivered is recorded in window.rec for the test to read. The
// page reaches the server through a proxy that the test cuts, as a network
// failure would; the test's own REST calls go to the server directly.

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/browsertest"
	"github.com/ordercast/ordercast/internal/testnet"
)

// clientEnv is one program, one order of a restaurant and a customer, and
// a page signed in as that customer with the library connected.
type clientEnv struct {
	base       string // the server, for the test's REST calls
	proxy      *testnet.Proxy
	tab        *browsertest.Tab
	orderID    string
	restaurant string // a token of the order's restaurant
}

// clientSetupJS imports the library, signs in, subscribes to the order and
// to the customer's feed, and records into window.rec: state changes, the
// order's durable seqs, the feed's frames and snapshots, errors, and every
// frame the page sent, and rec.sockets every socket it made. rec.dropAckText
// names a chat text whose ack the page drops, once, as a network losing it
// would; rec.failSubscribe {channel, code} turns the ack of the next
// subscribe to that channel into an error frame with that code, once;
// while rec.failRefresh is set, token refreshes fail as if the network
// were down.
const clientSetupJS = `(async (p) => {
  const { Session, Realtime } = await import("/client/ordercast.js");
  const rec = window.rec = { states: [], opens: 0, order: [], feed: [], resyncs: 0, errors: [], sent: [],
    sockets: [], dropAckText: null, ackDropped: false, failSubscribe: null, failRefresh: false };
  const nativeFetch = window.fetch;
  window.fetch = (url, init) => rec.failRefresh && String(url).endsWith("/auth/refresh")
    ? Promise.reject(new TypeError("Failed to fetch")) : nativeFetch(url, init);
  const Native = WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      rec.sockets.push(this);
      // Added before the library's onmessage, so it can stop the frame.
      this.addEventListener("message", (m) => {
        const f = JSON.parse(m.data);
        if (f.type === "ack" && f.id === this.dropAckId) {
          rec.ackDropped = true;
          m.stopImmediatePropagation();
        }
        if (f.type === "ack" && f.id === this.failAck?.id) {
          m.stopImmediatePropagation();
          this.onmessage({ data: JSON.stringify({ type: "error", id: f.id, code: this.failAck.code, message: "test" }) });
        }
      });
    }
    send(data) {
      const f = JSON.parse(data);
      rec.sent.push(f);
      if (f.type === "chat" && f.text === rec.dropAckText && !rec.ackDropped) this.dropAckId = f.id;
      if (f.type === "subscribe" && f.channel === rec.failSubscribe?.channel) {
        this.failAck = { id: f.id, code: rec.failSubscribe.code };
        rec.failSubscribe = null;
      }
      super.send(data);
    }
  };
  const session = new Session({ storage: sessionStorage });
  await session.login(p.email, p.password);
  const rt = new Realtime({ session, backoff: { min: 50, max: 400 }, commandTimeout: 30000 });
  rt.addEventListener("state", (e) => {
    rec.states.push(e.detail.name);
    if (e.detail.name === "open") rec.opens++;
  });
  rt.subscribe("order:" + p.orderID, {
    onEvent: (f) => { if (f.seq != null) rec.order.push(f.seq); },
    onError: (err) => rec.errors.push("order: " + err.code),
  });
  rec.feedSub = rt.subscribe("user:" + session.user.id, {
    onEvent: (f) => { if (f.seq != null) rec.feed.push({ order: String(f.data.order_id ?? f.data.id), seq: f.seq }); },
    onResync: (orders) => {
      rec.resyncs++;
      for (const o of orders) rec.feed.push({ order: o.id, seq: o.seq, snapshot: true });
    },
    onError: (err) => rec.errors.push("feed: " + err.code),
  });
  // The feed's view of an order: the newest seq it was given by an
  // event or a snapshot.
  rec.feedSeq = (order) => Math.max(0, ...rec.feed.filter((e) => e.order === order).map((e) => e.seq));
  window.jwtExp = (token) => JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).exp;
  window.session = session;
  window.rt = rt;
  rt.connect();
  return true;
})(%s)`

func startClientEnv(t *testing.T, extraEnv map[string]string) *clientEnv {
	t.Helper()
	env := map[string]string{"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "oc.db")}
	maps.Copy(env, extraEnv)
	base, _ := startProgram(t, env)
	orderID, restaurant, _ := placedOrder(t, base)
	proxy := testnet.StartProxy(t, strings.TrimPrefix(base, "http://"))
	tab := browsertest.New(t).NewTab(t, "customer")
	tab.Navigate("http://" + proxy.Addr + "/")
	params, _ := json.Marshal(map[string]string{"email": "ann@example.com", "password": "long enough pw", "orderID": orderID})
	browsertest.Eval[bool](tab, fmt.Sprintf(clientSetupJS, params))
	tab.WaitJS(`rt.state.name === "open"`)
	return &clientEnv{base: base, proxy: proxy, tab: tab, orderID: orderID, restaurant: restaurant}
}

// cut takes the page's network down and waits until the library noticed.
// The browser's reports of the connections that fail meanwhile are
// excused until online is called, once the page is back.
func (e *clientEnv) cut() (online func()) {
	online = e.tab.ExpectNetworkErrors()
	e.proxy.Cut()
	e.tab.WaitJS(`rt.state.name !== "open"`)
	return online
}

// chat posts a message as the restaurant over REST: a durable event. The
// tests post faster than the restaurant's chat budget allows (5 a second,
// 10 at once); a message answered 429 is sent again after its
// Retry-After, as a well-behaved client does.
func (e *clientEnv) chat(t *testing.T, text string) {
	t.Helper()
	body := fmt.Sprintf(`{"text":%q,"client_msg_id":%q}`, text, text)
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, retryAfter := post(t, e.base+"/api/v1/orders/"+e.orderID+"/messages", e.restaurant, body)
		switch {
		case status == http.StatusCreated:
			return
		case status != http.StatusTooManyRequests || time.Now().After(deadline):
			t.Fatalf("post %q: %d", text, status)
		}
		secs, err := strconv.Atoi(retryAfter)
		if err != nil || secs < 1 {
			t.Fatalf("429 with Retry-After %q", retryAfter)
		}
		time.Sleep(time.Duration(secs) * time.Second) // the server's Retry-After
	}
}

// storedMessages returns the order's chat messages with text, from the
// store over REST.
func (e *clientEnv) storedMessages(t *testing.T, token, text string) []chatMessage {
	t.Helper()
	var page struct {
		Messages []chatMessage `json:"messages"`
	}
	if err := json.Unmarshal(apiCall(t, e.base, token, "GET", "/orders/"+e.orderID+"/messages?limit=200", ""), &page); err != nil {
		t.Fatal(err)
	}
	var found []chatMessage
	for _, m := range page.Messages {
		if m.Text == text {
			found = append(found, m)
		}
	}
	return found
}

type chatMessage struct {
	Seq         int64  `json:"seq"`
	Text        string `json:"text"`
	ClientMsgID string `json:"client_msg_id"`
}

// sentChats returns the chat frames the page sent with text.
func (e *clientEnv) sentChats(text string) []map[string]any {
	sent := browsertest.Eval[[]map[string]any](e.tab, `rec.sent`)
	return slices.DeleteFunc(sent, func(f map[string]any) bool { return f["type"] != "chat" || f["text"] != text })
}

func TestClientResumesWithoutGapOrDuplicateAcrossReconnects(t *testing.T) {
	e := startClientEnv(t, nil)
	const cuts, burst = 4, 5
	last := int64(1) // order.created
	post := func() {
		for range burst {
			last++
			e.chat(t, fmt.Sprintf("message %d", last))
		}
	}
	for i := range cuts {
		post() // live
		online := e.cut()
		post() // committed while the page is cut off
		e.proxy.Resume()
		post() // racing the reconnect, its replay and the feed's snapshot
		// Back: a new socket, and the feed's snapshot taken on it.
		e.tab.WaitJS(fmt.Sprintf(`rt.state.name === "open" && rec.opens >= %d && rec.resyncs >= %d`, i+2, i+2))
		online()
	}
	post()
	e.tab.WaitJS(fmt.Sprintf(`rec.order.at(-1) === %d && rec.feedSeq(%q) === %d`, last, e.orderID, last))

	want := make([]int64, last)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if got := browsertest.Eval[[]int64](e.tab, `rec.order`); !slices.Equal(got, want) {
		t.Fatalf("order channel delivered seqs %v, want 1..%d once each in order", got, last)
	}
	rec := browsertest.Eval[struct {
		Opens, Resyncs int
		Errors         []string
		Feed           []struct {
			Order    string
			Seq      int64
			Snapshot bool
		}
	}](e.tab, `rec`)
	if rec.Opens != cuts+1 || rec.Resyncs != cuts+1 {
		t.Errorf("%d sockets opened and %d feed snapshots, want %d of each (one per socket)", rec.Opens, rec.Resyncs, cuts+1)
	}
	if len(rec.Errors) > 0 {
		t.Errorf("subscription errors: %v", rec.Errors)
	}

	// The feed has no replay: on each socket it got a snapshot no
	// older than what it had delivered, and every event it delivered is
	// newer than all it had been given for that order, so it never
	// delivered an (order, seq) twice nor one a snapshot covered.
	newest := map[string]int64{}
	for _, f := range rec.Feed {
		switch {
		case f.Snapshot && f.Seq < newest[f.Order]:
			t.Fatalf("feed got a snapshot of order %s at seq %d after delivering seq %d: %+v", f.Order, f.Seq, newest[f.Order], rec.Feed)
		case !f.Snapshot && f.Seq <= newest[f.Order]:
			t.Fatalf("feed delivered order %s seq %d after seq %d: %+v", f.Order, f.Seq, newest[f.Order], rec.Feed)
		}
		newest[f.Order] = max(newest[f.Order], f.Seq)
	}
	e.tab.CheckClean()
}

func TestClientRefreshesTheTokenOnALiveSocket(t *testing.T) {
	e := startClientEnv(t, map[string]string{"ACCESS_TOKEN_TTL": "20s"})
	first := browsertest.Eval[struct {
		Token string
		Exp   int64
	}](e.tab, `({token: session.accessToken, exp: jwtExp(session.accessToken)})`)
	// The hub checks expiry every second: two seconds past exp, a socket
	// still on the first token would have been closed with 4001.
	e.tab.WaitJSFor(fmt.Sprintf(`Date.now() > %d`, (first.Exp+2)*1000), 30*time.Second)

	restaurant := login(t, e.base, "chef@example.com") // its first token expired too
	apiCall(t, e.base, restaurant, "POST", "/orders/"+e.orderID+"/status", `{"status":"accepted"}`)
	e.tab.WaitJS(`rec.order.includes(2)`)

	got := browsertest.Eval[struct {
		States []string
		Token  string
	}](e.tab, `({states: rec.states, token: session.accessToken})`)
	if !slices.Equal(got.States, []string{"connecting", "open"}) {
		t.Errorf("states %v, want one socket kept open (connecting, open)", got.States)
	}
	if got.Token == first.Token {
		t.Error("the access token was never refreshed")
	}
	e.tab.CheckClean()
}

func TestClientReconnectsAfterItsTokenExpired(t *testing.T) {
	e := startClientEnv(t, map[string]string{"ACCESS_TOKEN_TTL": "10s"})
	browsertest.Eval[bool](e.tab, `rec.failRefresh = true`)
	// Not refreshed in time: the server closes the socket at exp.
	e.tab.WaitJSFor(`rt.state.code === 4001 && rt.state.name !== "open"`, 30*time.Second)
	restaurant := login(t, e.base, "chef@example.com")
	apiCall(t, e.base, restaurant, "POST", "/orders/"+e.orderID+"/status", `{"status":"accepted"}`)
	browsertest.Eval[bool](e.tab, `rec.failRefresh = false, true`)
	// Refreshed, then back on a new socket, resumed from seq 1.
	e.tab.WaitJS(`rt.state.name === "open" && rec.order.includes(2)`)
	got := browsertest.Eval[struct {
		Opens int
		Order []int64
	}](e.tab, `rec`)
	if got.Opens != 2 || !slices.Equal(got.Order, []int64{1, 2}) {
		t.Errorf("%d sockets opened, order seqs %v; want 2 and [1 2]", got.Opens, got.Order)
	}
	e.tab.CheckClean()
}

// chatResult is what a chat call of the page resolved or rejected with.
type chatResult struct {
	Seq int64
	Err string
}

const awaitChatJS = `rec.chat.then((a) => ({seq: a.seq, err: ""}), (err) => ({seq: 0, err: err.code}))`

func TestClientSendsAChatQueuedWhileDownOnce(t *testing.T) {
	e := startClientEnv(t, nil)
	const text = "sent while down"
	online := e.cut()
	state := browsertest.Eval[string](e.tab, fmt.Sprintf(`rec.chat = rt.chat(%q, %q); rt.state.name`, e.orderID, text))
	if state == "open" || len(e.sentChats(text)) != 0 {
		t.Fatalf("the chat was not queued while down (state %s, sent %v)", state, e.sentChats(text))
	}
	e.proxy.Resume()
	result := browsertest.Eval[chatResult](e.tab, awaitChatJS)
	online()
	if result.Err != "" {
		t.Fatalf("chat rejected: %s", result.Err)
	}
	stored := e.storedMessages(t, e.restaurant, text)
	if len(stored) != 1 || stored[0].Seq != result.Seq {
		t.Fatalf("stored %+v, want one message at the acked seq %d", stored, result.Seq)
	}
	if sent := e.sentChats(text); len(sent) != 1 {
		t.Errorf("the chat was sent %d times, want once: %v", len(sent), sent)
	}
	e.tab.CheckClean()
}

func TestClientRetriesAChatWhoseAckWasLost(t *testing.T) {
	e := startClientEnv(t, nil)
	const text = "ack lost"
	browsertest.Eval[bool](e.tab, fmt.Sprintf(`rec.dropAckText = %q; rec.chat = rt.chat(%q, %q); true`, text, e.orderID, text))
	e.tab.WaitJS(`rec.ackDropped`) // stored by the server; the library did not see the ack
	online := e.cut()
	e.proxy.Resume()
	result := browsertest.Eval[chatResult](e.tab, awaitChatJS)
	online()
	if result.Err != "" {
		t.Fatalf("chat rejected: %s", result.Err)
	}
	sent := e.sentChats(text)
	if len(sent) != 2 || sent[0]["client_msg_id"] != sent[1]["client_msg_id"] {
		t.Fatalf("sent %v, want the chat twice with one client_msg_id", sent)
	}
	stored := e.storedMessages(t, e.restaurant, text)
	if len(stored) != 1 || stored[0].Seq != result.Seq || stored[0].ClientMsgID != sent[0]["client_msg_id"] {
		t.Fatalf("stored %+v, want one message at the acked seq %d", stored, result.Seq)
	}
	e.tab.CheckClean()
}

func TestClientDropsRefusedSubscriptionsAndPacesItsFrames(t *testing.T) {
	e := startClientEnv(t, nil)
	// 50 subscribes at once, over the server's burst of 40 frames, which
	// would close the socket (4008) if sent as fast as they were made.
	// Each is refused: another user's feed.
	browsertest.Eval[bool](e.tab, `for (let i = 1000; i < 1050; i++) {
		rt.subscribe("user:" + i, { onError: (err) => rec.errors.push(err.code) });
	}
	true`)
	e.tab.WaitJS(`rec.errors.length >= 50`)
	got := browsertest.Eval[struct {
		Opens  int
		Errors []string
		Again  bool
	}](e.tab, `({opens: rec.opens, errors: rec.errors, again: !!rt.subscribe("user:1000")})`)
	if got.Opens != 1 {
		t.Errorf("%d sockets opened, want the first one kept", got.Opens)
	}
	if len(got.Errors) != 50 || slices.ContainsFunc(got.Errors, func(c string) bool { return c != "forbidden" }) {
		t.Errorf("errors %v, want forbidden for each of the 50 subscriptions", got.Errors)
	}
	if !got.Again {
		t.Error("a refused subscription was kept")
	}
	e.tab.CheckClean()
}

// wsURLJS builds the websocket URL of a Realtime for each url given, on
// a session that needs no refresh, through a WebSocket class that only
// records the URL: no connection is made.
const wsURLJS = `(async (urls) => {
  const { Session, Realtime } = await import("/client/ordercast.js");
  const tokens = JSON.stringify({ user: { id: 1 }, accessToken: "a", refreshToken: "r",
    expiresAt: Date.now() + 3600e3, issuedAt: Date.now() });
  const session = new Session({ storage: { getItem: () => tokens, setItem() {}, removeItem() {} } });
  const Native = WebSocket, built = [];
  window.WebSocket = class { constructor(u) { built.push(String(u)); } close() {} };
  try {
    for (const url of urls) {
      const rt = new Realtime({ session, url });
      rt.connect();
      const deadline = Date.now() + 5000;
      while (built.length < urls.indexOf(url) + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      rt.close();
    }
  } finally {
    window.WebSocket = Native;
  }
  return built;
})(%s)`

func TestClientKeepsTheSchemeOfAnExplicitWebsocketURL(t *testing.T) {
	base, _ := startProgram(t, map[string]string{"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "oc.db")})
	tab := browsertest.New(t).NewTab(t, "page")
	tab.Navigate(base + "/")
	urls := []string{"wss://example.invalid/ws", "https://example.invalid/ws", "ws://example.invalid/ws", "/ws"}
	arg, _ := json.Marshal(urls)
	got := browsertest.Eval[[]string](tab, fmt.Sprintf(wsURLJS, arg))
	host := strings.TrimPrefix(base, "http://")
	want := []string{"wss://example.invalid/ws?access_token=a", "wss://example.invalid/ws?access_token=a",
		"ws://example.invalid/ws?access_token=a", "ws://" + host + "/ws?access_token=a"}
	if !slices.Equal(got, want) {
		t.Errorf("websocket URLs %q, want %q", got, want)
	}
	tab.CheckClean()
}

// The hub answers a subscribe with an error after its ack when the replay
// failed (it dropped the subscription), and with internal or unavailable
// when it could not serve it now: neither ends the subscription, the
// library resumes it on a new socket.
func TestClientResumesASubscriptionAfterATransientError(t *testing.T) {
	e := startClientEnv(t, nil)
	e.chat(t, "before") // seq 2
	e.tab.WaitJS(`rec.order.at(-1) === 2`)
	ch := "order:" + e.orderID
	// The second socket's subscribe is answered internal; the third one's
	// is acked.
	browsertest.Eval[bool](e.tab, fmt.Sprintf(`rec.failSubscribe = {channel: %q, code: "internal"}, true`, ch))
	// An error frame with the first socket's subscribe id, after its ack.
	browsertest.Eval[bool](e.tab, fmt.Sprintf(`{
		const id = rec.sent.findLast((f) => f.type === "subscribe" && f.channel === %q).id;
		rec.sockets[0].onmessage({ data: JSON.stringify({ type: "error", id, code: "unavailable", message: "replay failed" }) });
		true;
	}`, ch))
	e.tab.WaitJS(`rt.state.name === "open" && rec.opens === 3`)
	e.chat(t, "after") // seq 3
	e.tab.WaitJS(`rec.order.at(-1) === 3`)
	got := browsertest.Eval[struct {
		Order      []int64
		Errors     []string
		Subscribes int
	}](e.tab, fmt.Sprintf(`({order: rec.order, errors: rec.errors,
		subscribes: rec.sent.filter((f) => f.type === "subscribe" && f.channel === %q).length})`, ch))
	if !slices.Equal(got.Order, []int64{1, 2, 3}) {
		t.Errorf("order seqs %v, want [1 2 3]", got.Order)
	}
	if len(got.Errors) > 0 {
		t.Errorf("subscriptions ended: %v", got.Errors)
	}
	if got.Subscribes != 3 {
		t.Errorf("%d subscribes of %s, want one per socket (3)", got.Subscribes, ch)
	}
	e.tab.CheckClean()
}

// A network that silently drops packets closes nothing, and the server's
// pings never reach the page: the library notices the silence of its
// socket itself, restarts it and resumes without a gap — long before the
// server's own read timeout (60 s) would close the socket.
func TestClientReconnectsOnASilentlyStalledNetwork(t *testing.T) {
	e := startClientEnv(t, nil)
	online := e.tab.ExpectNetworkErrors()
	e.proxy.Pause()
	e.chat(t, "during the stall") // seq 2: the stalled network holds it
	e.tab.WaitJSFor(`rt.state.name !== "open"`, 45*time.Second)
	e.proxy.Resume()
	e.tab.WaitJS(`rt.state.name === "open" && rec.opens === 2`)
	online()
	e.chat(t, "after the stall") // seq 3
	e.tab.WaitJS(`rec.order.at(-1) === 3`)
	got := browsertest.Eval[struct {
		Order  []int64
		Errors []string
	}](e.tab, `rec`)
	if !slices.Equal(got.Order, []int64{1, 2, 3}) {
		t.Errorf("order seqs %v, want [1 2 3]", got.Order)
	}
	if len(got.Errors) > 0 {
		t.Errorf("subscriptions ended: %v", got.Errors)
	}
	e.tab.CheckClean()
}

// gateOrdersJS makes the page's next listings of orders wait until
// rec.release(ok) lets them through (ok) or fails them as a network would;
// rec.listing is set while one waits.
const gateOrdersJS = `{
  const native = window.fetch;
  let release;
  const gate = new Promise((r) => { release = r; });
  rec.release = release;
  rec.listing = false;
  window.fetch = (url, init) => {
    if (!String(url).includes("/orders?limit=")) return native(url, init);
    rec.listing = true;
    return gate.then((ok) => ok ? native(url, init) : Promise.reject(new TypeError("Failed to fetch")));
  };
  true;
}`

// A feed's resync is a REST call that may outlast the subscription: an
// onResync that unsubscribes gets none of the frames held meanwhile, and
// a failed listing of a feed left meanwhile keeps the socket.
func TestClientResyncOfAFeedLeftMeanwhile(t *testing.T) {
	e := startClientEnv(t, nil)
	e.tab.WaitJS(`rec.resyncs === 1`)
	browsertest.Eval[bool](e.tab, `rec.feedSub.unsubscribe(), true`)
	browsertest.Eval[bool](e.tab, gateOrdersJS)
	browsertest.Eval[bool](e.tab, `rec.late = [], rec.lateResyncs = 0, rec.lateSub = rt.subscribe("user:" + session.user.id, {
		onEvent: (f) => rec.late.push(f.seq),
		onResync: () => { rec.lateResyncs++; rec.lateSub.unsubscribe(); },
	}), true`)
	e.tab.WaitJS(`rec.listing`)
	e.chat(t, "held during the resync") // seq 2, on the feed too
	e.tab.WaitJS(`rec.lateSub.held.length === 1`)
	browsertest.Eval[bool](e.tab, `rec.release(true), true`)
	e.tab.WaitJS(`rec.lateResyncs === 1`)
	if late := browsertest.Eval[[]int64](e.tab, `rec.late`); len(late) > 0 {
		t.Errorf("frames %v delivered after onResync unsubscribed", late)
	}

	browsertest.Eval[bool](e.tab, gateOrdersJS)
	browsertest.Eval[bool](e.tab, `rec.lateSub = rt.subscribe("user:" + session.user.id, {}), true`)
	e.tab.WaitJS(`rec.listing`)
	browsertest.Eval[bool](e.tab, `rec.lateSub.unsubscribe(), rec.release(false), true`)
	// A round trip on the socket after the failed listing.
	seq := browsertest.Eval[int64](e.tab, fmt.Sprintf(`rt.chat(%q, "after the failed listing").then((a) => a.seq)`, e.orderID))
	if opens := browsertest.Eval[int](e.tab, `rec.opens`); opens != 1 || seq != 3 {
		t.Errorf("%d sockets opened, chat seq %d; want the first socket kept and seq 3", opens, seq)
	}
	e.tab.CheckClean()
}

// login signs in a user registered by register and returns a fresh access
// token.
func login(t *testing.T, base, email string) string {
	t.Helper()
	return loginAs(t, base, email, "long enough pw")
}

// loginAs signs in with email and password and returns the access token.
func loginAs(t *testing.T, base, email, password string) string {
	t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	body := fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)
	if err := json.Unmarshal(apiCall(t, base, "", "POST", "/auth/login", body), &out); err != nil {
		t.Fatal(err)
	}
	return out.AccessToken
}
