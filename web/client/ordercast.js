// ordercast.js: the browser client of ordercast, one ES module with no
// dependencies, meant to be copied into any front end.
//
//   Session  REST under /api/v1 and the tokens (memory plus a Storage).
//   Realtime one websocket to /ws that reconnects, keeps its token fresh,
//            resumes every order channel with `since` and drops duplicates,
//            so that a caller never sees a gap or a duplicate.
//
// The protocol is the "Websocket" chapter of the API reference.

const API_PREFIX = "/api/v1";
// A token this close to its expiry is refreshed before it is used: a
// handshake refused with 401 looks like a network failure to a browser.
const FRESH_MARGIN_MS = 5000;
// The server's read limit; a larger frame closes the socket (1009), and a
// queued command that does that would be resent after every reconnect.
const MAX_FRAME_BYTES = 16 * 1024;
// The hub publishes typing at most once a second per sender and order.
const TYPING_INTERVAL_MS = 1000;
// Feeds remember this many seqs per order; anything older is a duplicate.
const FEED_SEEN_PER_ORDER = 64;
// A feed's snapshot once subscribed (newest first, the server's maximum).
const RESYNC_LIMIT = 200;
const FEED_PREFIXES = ["user", "restaurant", "dispatch"];
const REFRESH_RETRY_MS = 2000;
// A REST call not answered (body included) within this is given up as
// ApiError(0, "timeout"): a stalled network must not hang a screen.
const REQUEST_TIMEOUT_MS = 15000;
// A socket open this long was a success: reconnect delays start over.
// Starting over at every open would let a socket that opens and is closed
// at once (a failing resync, a rate limit) retry at the minimum forever.
const STABLE_MS = 10000;
// A handshake not open within this is dropped and retried: a network that
// silently drops packets never fails it.
const HANDSHAKE_TIMEOUT_MS = 10000;
// The server's pings are control frames, which a page never sees, so the
// library checks the socket itself: after this long with no inbound frame
// it sends a harmless acked frame, and restarts the socket when nothing at
// all arrived PROBE_TIMEOUT_MS later.
const IDLE_MS = 30000;
const PROBE_TIMEOUT_MS = 10000;
// The server closes a socket sending over 20 frames a second (burst 40)
// with 4008; a reconnect resubscribing many channels at once would hit that
// every time, so frames beyond this budget wait their turn.
const FRAME_BURST = 30;
const FRAMES_PER_S = 15;
// Subscribe errors that will not change on a retry: the subscription
// ends. Any other (internal, unavailable, …) is transient: the socket
// restarts through the backoff and the subscription is sent again.
const FINAL_SUBSCRIBE_ERRORS = new Set(["forbidden", "not_found", "invalid", "too_many_subscriptions"]);

/**
 * An error of the API (an HTTP answer), of a websocket frame, or of the
 * library. `status` is the HTTP status, 0 when there was no HTTP answer
 * (codes "network", "timeout", "closed", and websocket error frames).
 */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code snake_case, as in the API's error table
   * @param {string} message
   * @param {number|null} [retryAfter] seconds, from Retry-After
   */
  constructor(status, code, message, retryAfter = null) {
    super(message || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/**
 * REST calls and the session's tokens. Tokens live in memory and, when a
 * storage is given (sessionStorage in the app), survive a reload of the tab.
 * Fires "change" (detail {signedIn}) when signed in, when tokens rotate and
 * when signed out.
 */
export class Session extends EventTarget {
  #baseURL;
  #storage;
  #key;
  #tokens; // {user, accessToken, refreshToken, expiresAt, issuedAt} or null
  #refreshing = null;

  /**
   * @param {{baseURL?: string, storage?: Storage|null, key?: string}} [options]
   *   baseURL: the server's origin ("" = this page's); storage: where tokens
   *   are kept across reloads (null: memory only); key: the storage key.
   */
  constructor({ baseURL = "", storage = null, key = "ordercast.session" } = {}) {
    super();
    this.#baseURL = baseURL.replace(/\/+$/, "");
    this.#storage = storage;
    this.#key = key;
    this.#tokens = this.#load();
  }

  /** The server's origin as given ("" = this page's). */
  get baseURL() { return this.#baseURL; }
  /** The signed-in user ({id, email, name, role, restaurant_id?}) or null. */
  get user() { return this.#tokens?.user ?? null; }
  /** @type {boolean} */
  get signedIn() { return this.#tokens !== null; }
  /** The current access token, or null. */
  get accessToken() { return this.#tokens?.accessToken ?? null; }
  /** When the access token expires, in ms since the epoch, or null. */
  get expiresAt() { return this.#tokens?.expiresAt ?? null; }
  /** When the access token was received, in ms since the epoch, or null. */
  get issuedAt() { return this.#tokens?.issuedAt ?? null; }

  /**
   * POST /auth/register and keep the tokens.
   * @param {{email: string, password: string, name: string, role: string, restaurant_name?: string}} fields
   */
  async register(fields) {
    this.#start(await this.#request("POST", "/auth/register", { body: fields }));
    return this.user;
  }

  /** POST /auth/login and keep the tokens. Resolves to the user. */
  async login(email, password) {
    this.#start(await this.#request("POST", "/auth/login", { body: { email, password } }));
    return this.user;
  }

  /**
   * POST /auth/logout, which ends the session of the access token on the
   * server; the tokens are forgotten first, so a user who signs out is
   * signed out on this device even when the request fails.
   */
  async logout() {
    if (!this.#tokens) return;
    // An expiring token is refreshed first: the server ends the session
    // the token names, and refuses an expired one.
    if (this.#tokens.expiresAt - Date.now() < FRESH_MARGIN_MS) await this.refresh().catch(() => {});
    const t = this.#tokens;
    if (!t) return; // the refresh was refused: the session had ended
    // Signed out before the server closes this session's sockets with
    // 4001, so that they close instead of refreshing.
    this.#set(null);
    try {
      await this.#request("POST", "/auth/logout", { token: t.accessToken });
    } catch (err) {
      if (err.status !== 401) throw err; // 401: the server had ended it already
    }
  }

  /**
   * POST /auth/refresh. Concurrent callers share one request: the refresh
   * token is spent by its first use, and a second use would revoke the
   * whole session. A 401 answer signs the session out.
   * @returns {Promise<void>}
   */
  refresh() {
    this.#refreshing ??= this.#refreshOnce().finally(() => { this.#refreshing = null; });
    return this.#refreshing;
  }

  async #refreshOnce() {
    const t = this.#tokens;
    if (!t) throw new ApiError(401, "unauthorized", "not signed in");
    try {
      const answer = await this.#request("POST", "/auth/refresh", { body: { refresh_token: t.refreshToken } });
      if (this.#tokens === t) this.#start(answer); // else signed out or in anew meanwhile
    } catch (err) {
      // Only the server's "no" ends the session; a network failure keeps
      // it for the next try.
      if (err.status === 401 && this.#tokens === t) this.#set(null);
      throw err;
    }
  }

  /**
   * A JSON call under /api/v1 with the access token. An expiring token is
   * refreshed first; a 401 answer is retried once after a refresh.
   * @param {string} method
   * @param {string} path e.g. "/orders?status=placed"
   * @param {any} [body] sent as JSON when not undefined
   * @param {{headers?: Record<string,string>, signal?: AbortSignal}} [options]
   * @returns {Promise<any>} the decoded answer; null for 204
   * @throws {ApiError} (status 0, code "network" when the server was not reached)
   */
  async api(method, path, body, { headers, signal } = {}) {
    if (this.#tokens && this.#tokens.expiresAt - Date.now() < FRESH_MARGIN_MS) {
      await this.refresh().catch(() => {}); // the call below reports what went wrong
    }
    const used = this.accessToken;
    try {
      return await this.#request(method, path, { body, headers, signal, token: used });
    } catch (err) {
      if (err.status !== 401 || !used || !this.signedIn) throw err;
      if (this.accessToken === used) await this.refresh();
      return this.#request(method, path, { body, headers, signal, token: this.accessToken });
    }
  }

  async #request(method, path, { body, headers = {}, signal, token } = {}) {
    const h = { Accept: "application/json", ...headers };
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const init = { method, headers: h, signal: AbortSignal.any([signal, timeout].filter(Boolean)) };
    if (token) h.Authorization = "Bearer " + token;
    if (body !== undefined) {
      h["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp, text;
    try {
      resp = await fetch(this.#baseURL + API_PREFIX + path, init);
      text = await resp.text();
    } catch (err) {
      if (signal?.aborted) throw err; // the caller's own cancel (AbortError)
      if (timeout.aborted) throw new ApiError(0, "timeout", "The server did not answer in time.");
      throw new ApiError(0, "network", "The server could not be reached.");
    }
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: a proxy's page */ }
    if (!resp.ok) {
      const e = data?.error ?? {};
      const after = Number(resp.headers.get("Retry-After") ?? NaN);
      throw new ApiError(resp.status, e.code ?? `http_${resp.status}`, e.message ?? resp.statusText,
        Number.isFinite(after) ? after : null);
    }
    return resp.status === 204 ? null : data;
  }

  #start(answer) {
    const now = Date.now();
    // The lifetime is taken from expires_in on this clock, not from the
    // token's exp, so that a skewed client clock does not matter.
    this.#set({
      user: answer.user ?? this.user,
      accessToken: answer.access_token,
      refreshToken: answer.refresh_token,
      expiresAt: now + answer.expires_in * 1000,
      issuedAt: now,
    });
  }

  #set(tokens) {
    this.#tokens = tokens;
    try {
      if (tokens) this.#storage?.setItem(this.#key, JSON.stringify(tokens));
      else this.#storage?.removeItem(this.#key);
    } catch { /* storage full or denied: memory still holds the session */ }
    this.dispatchEvent(new CustomEvent("change", { detail: { signedIn: tokens !== null } }));
  }

  #load() {
    try {
      const t = JSON.parse(this.#storage?.getItem(this.#key) ?? "null");
      return t?.accessToken && t?.refreshToken ? t : null;
    } catch {
      return null;
    }
  }
}

/**
 * One subscription of a Realtime connection, returned by subscribe().
 * It stays across reconnects until unsubscribe() or an error ends it.
 */
class Subscription {
  /** @type {string} */ channel;
  /** Order channels: the last durable seq delivered; null for feeds. */ lastSeq;
  #rt;
  #handlers;

  constructor(rt, channel, since, handlers) {
    this.#rt = rt;
    this.channel = channel;
    this.isOrder = channel.startsWith("order:");
    // Feeds carry the events of many orders; any other channel (ops) has
    // no seqs and nothing to resynchronize: its events pass through.
    this.isFeed = FEED_PREFIXES.some((p) => channel === p || channel.startsWith(`${p}:`));
    this.lastSeq = this.isOrder ? since : null;
    this.replyId = null; // the id of its subscribe on this socket
    this.#handlers = handlers;
    // Feeds: order id → {floor, seqs}: seqs delivered, and at or below
    // floor everything counts as delivered (the snapshot covers it).
    this.seen = new Map();
    this.resyncing = false; // a snapshot is being fetched: hold frames
    this.held = [];
  }

  /** Leave the channel; no callback runs after this. */
  unsubscribe() { this.#rt._unsubscribe(this); }

  call(name, arg) {
    try {
      this.#handlers[name]?.(arg);
    } catch (err) {
      reportError(err); // a failing screen must not break the connection
    }
  }

  /** Whether a feed frame of (order, seq) is new; records it. */
  firstSight(order, seq) {
    let s = this.seen.get(order);
    if (!s) this.seen.set(order, (s = { floor: 0, seqs: new Set() }));
    if (seq <= s.floor || s.seqs.has(seq)) return false;
    s.seqs.add(seq);
    if (s.seqs.size > FEED_SEEN_PER_ORDER) {
      const oldest = Math.min(...s.seqs);
      s.seqs.delete(oldest);
      s.floor = Math.max(s.floor, oldest);
    }
    return true;
  }
}

/**
 * One websocket to /ws: reconnecting with jittered exponential backoff,
 * resuming order channels with `since`, resynchronizing feeds, keeping
 * the token fresh, and sending commands that resolve on their ack.
 * Fires "state" (detail: the new state) on every change of `state`.
 */
export class Realtime extends EventTarget {
  #session;
  #url;
  #timeout;
  #backoff;
  #state = Object.freeze({ name: "closed", since: Date.now(), retryAt: null, code: null });
  #wanted = false; // between connect() and close()
  #gen = 0; // bumped by close(), so that an attempt under way gives up
  #ws = null;
  #wsToken = null; // the token the socket authenticated with
  #attempt = 0; // reconnects since the last stable socket
  // Sockets lost before they opened, in a row. A browser shows a handshake
  // refused with 401 (a revoked or stale token) as a plain failure, so
  // from the second one on each attempt refreshes the token first.
  #failedOpens = 0;
  #retryTimer = null;
  #refreshTimer = null;
  #handshakeTimer = null;
  #idleTimer = null; // the liveness check of the open socket
  #lastInbound = 0; // performance.now() of the socket's last frame
  #nextId = 1;
  #subs = new Map(); // channel → Subscription
  // channel → unsubscribes not yet acked: until then the channel's frames
  // belong to the old subscription (the server answers in order).
  #draining = new Map();
  #replies = new Map(); // frame id → handler of its ack or error, this socket only
  #queue = []; // commands not sent, in call order
  #inflight = new Set(); // commands sent on this socket, not answered
  #typedAt = new Map(); // order id → ms of the last typing frame
  #outbox = []; // frames over the budget, this socket only
  #budget = 0;
  #budgetAt = 0;
  #outboxTimer = null;
  #onSessionChange = (e) => this.#sessionChanged(e.detail.signedIn);

  /**
   * @param {{session: Session, url?: string, commandTimeout?: number,
   *          backoff?: {min?: number, max?: number}}} options
   *   url: the websocket path or URL (default "/ws", on the session's
   *   baseURL); commandTimeout: ms a command may take from its call to its
   *   ack; backoff: reconnect delays in ms.
   */
  constructor({ session, url = "/ws", commandTimeout = 10000, backoff = {} }) {
    super();
    this.#session = session;
    this.#url = url;
    this.#timeout = commandTimeout;
    this.#backoff = { min: backoff.min ?? 500, max: backoff.max ?? 15000 };
  }

  /**
   * {name: "connecting"|"open"|"down"|"closed", since, retryAt, code}.
   * since: ms when the connection opened, or was lost (an outage's
   * "connecting" and "down" share it), or closed; retryAt: ms of the next
   * attempt while down; code: the last close code.
   */
  get state() { return this.#state; }

  /** Start connecting (and keep reconnecting until close()). */
  connect() {
    if (this.#wanted) return;
    this.#wanted = true;
    this.#attempt = this.#failedOpens = 0;
    this.#session.addEventListener("change", this.#onSessionChange);
    this.#setState("connecting", { since: Date.now() });
    this.#open(false);
  }

  /**
   * Close the socket and stop. Commands not yet answered reject with code
   * "closed"; subscriptions are kept for a later connect(). No timer or
   * listener of this object remains.
   */
  close() { this.#shutdown(null); }

  /**
   * Subscribe to a channel, one Subscription per channel.
   * Order channels ("order:42") replay from `since` (default 0: the whole
   * history) and resume from the last seq seen after every reconnect;
   * duplicates are dropped, ephemeral events (no seq) pass through. Feeds
   * ("user:7", "restaurant:3", "dispatch") drop duplicates by
   * (data.order_id || data.id, seq) and, each time the subscription is
   * live (first socket and every reconnect), get onResync(orders) with
   * GET /orders: what happened before, or during an outage, is covered by
   * that snapshot, and later frames follow it. Other channels ("ops")
   * carry ephemeral events only, passed as they come. A refused subscribe,
   * or a channel ended by the server, calls onError(ApiError) and ends the
   * subscription.
   * @param {string} channel
   * @param {{since?: number, onEvent?: (frame: object) => void,
   *          onError?: (err: ApiError) => void, onResync?: (orders: object[]) => void}} [options]
   * @returns {Subscription}
   */
  subscribe(channel, { since = 0, ...handlers } = {}) {
    if (this.#subs.has(channel)) throw new Error(`ordercast: already subscribed to ${channel}`);
    const sub = new Subscription(this, channel, since, handlers);
    this.#subs.set(channel, sub);
    if (this.#state.name === "open") this.#sendSubscribe(sub);
    return sub;
  }

  /**
   * Send a chat message; resolves {seq} of the stored message. Queued while
   * down; a message whose ack was lost is sent again with the same
   * client_msg_id, which the server stores once.
   * @param {string|number} orderId
   * @param {string} text
   * @param {{clientMsgId?: string}} [options]
   * @returns {Promise<{seq: number}>}
   */
  chat(orderId, text, { clientMsgId = newUUID() } = {}) {
    const frame = { type: "chat", order_id: String(orderId), text, client_msg_id: clientMsgId };
    return this.#command(frame, { result: (ack) => ({ seq: ack.seq }) });
  }

  /**
   * Tell the other parties the user is typing. Not queued: resolves false
   * when not open (or when the socket drops before the ack), else true.
   * Repeats within a second are not sent (the server would drop them).
   * @returns {Promise<boolean>}
   */
  typing(orderId) {
    if (this.#state.name !== "open") return Promise.resolve(false);
    const order = String(orderId), now = Date.now();
    for (const [o, at] of this.#typedAt) if (now - at >= TYPING_INTERVAL_MS) this.#typedAt.delete(o);
    if (this.#typedAt.has(order)) return Promise.resolve(true);
    this.#typedAt.set(order, now);
    return this.#command({ type: "typing", order_id: order }, { queued: false });
  }

  /**
   * Raise the read mark of an order to seq. Queued while down; of several
   * queued for one order only the highest is sent (all resolve with it).
   * @returns {Promise<true>}
   */
  read(orderId, seq) {
    const frame = { type: "read", order_id: String(orderId), seq };
    return this.#command(frame, { key: "read:" + frame.order_id, merge: (a, b) => (b.seq > a.seq ? b : a) });
  }

  /**
   * Send the courier's position. Queued while down, the newest only.
   * @param {{lat: number, lng: number, heading?: number, speed?: number, ts: number}} pos
   * @returns {Promise<true>}
   */
  location({ lat, lng, heading, speed, ts }) {
    const frame = { type: "location", lat, lng, heading, speed, ts };
    return this.#command(frame, { key: "location", merge: (a, b) => b });
  }

  // --- connection -------------------------------------------------------

  async #open(forceRefresh) {
    const gen = this.#gen, s = this.#session;
    if (!s.signedIn) return this.#shutdown(new ApiError(401, "unauthorized", "not signed in"));
    try {
      if (forceRefresh || s.expiresAt - Date.now() < FRESH_MARGIN_MS) await s.refresh();
    } catch (err) {
      // A 401 signed the session out, which closed this object already.
      if (gen === this.#gen && err.status !== 401) this.#retryLater(this.#state.code, this.#state.since, forceRefresh);
      return;
    }
    if (gen !== this.#gen) return;
    const url = new URL(this.#url, s.baseURL || location.href);
    // An explicit wss: stays wss: (and https: becomes wss:); anything else is ws:.
    url.protocol = url.protocol === "https:" || url.protocol === "wss:" ? "wss:" : "ws:";
    url.searchParams.set("access_token", s.accessToken);
    const ws = new WebSocket(url);
    this.#ws = ws;
    this.#wsToken = s.accessToken;
    ws.onopen = () => this.#opened();
    ws.onmessage = (m) => {
      this.#lastInbound = performance.now();
      this.#receive(m.data);
    };
    ws.onclose = (e) => this.#lost(e.code);
    this.#handshakeTimer = setTimeout(() => this.#restart(), HANDSHAKE_TIMEOUT_MS);
  }

  #opened() {
    this.#budget = FRAME_BURST; // the server's bucket starts full per socket
    this.#budgetAt = performance.now();
    clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = null;
    this.#failedOpens = 0;
    this.#lastInbound = performance.now();
    this.#watchIdle();
    this.#setState("open", { since: Date.now() });
    // Rotated while the handshake was under way: the socket holds the old one.
    if (this.#wsToken !== this.#session.accessToken) this.#sendAuth();
    this.#scheduleRefresh();
    for (const sub of this.#subs.values()) this.#sendSubscribe(sub);
    this.#flush();
  }

  // The socket is gone (closed by the server or the network, or dropped by
  // us): what was sent and not answered goes back to the queue.
  #lost(code) {
    const ws = this.#ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    this.#ws = null;
    clearTimeout(this.#refreshTimer);
    clearTimeout(this.#outboxTimer);
    clearTimeout(this.#handshakeTimer);
    clearTimeout(this.#idleTimer);
    this.#refreshTimer = this.#outboxTimer = this.#handshakeTimer = this.#idleTimer = null;
    this.#outbox = [];
    this.#replies.clear();
    this.#draining.clear();
    const unanswered = [...this.#inflight];
    this.#inflight.clear();
    for (const entry of unanswered.reverse()) this.#requeue(entry);
    if (!this.#wanted) return;
    const wasOpen = this.#state.name === "open";
    const stable = wasOpen && Date.now() - this.#state.since >= STABLE_MS;
    if (stable) this.#attempt = 0;
    if (!wasOpen) this.#failedOpens++;
    const since = wasOpen ? Date.now() : this.#state.since;
    if (code === 4001 && stable) {
      // The token expired or was revoked: refresh, then reconnect at once.
      this.#setState("connecting", { since, code });
      this.#open(true);
    } else {
      // A 4001 soon after the open (the fresh token refused again) waits
      // through the backoff too, rather than looping at once.
      this.#retryLater(code, since, code === 4001 || this.#failedOpens >= 2);
    }
  }

  // Once the socket was silent for IDLE_MS: re-subscribe the first
  // subscription's channel, which the server acks and which changes
  // nothing there (it holds the channel), and restart unless some frame
  // came within PROBE_TIMEOUT_MS. With no subscription there is nothing
  // harmless to ask, and the check waits for one.
  #watchIdle() {
    const idle = performance.now() - this.#lastInbound;
    const sub = this.#subs.values().next().value;
    if (idle < IDLE_MS || !sub) {
      this.#idleTimer = setTimeout(() => this.#watchIdle(), idle < IDLE_MS ? IDLE_MS - idle : IDLE_MS);
      return;
    }
    const frame = { type: "subscribe", channel: sub.channel };
    if (sub.isOrder) frame.since = sub.lastSeq;
    const sentAt = performance.now();
    this.#request(frame, () => {}); // any answer, like any frame, proves the socket alive
    this.#idleTimer = setTimeout(() => {
      if (this.#lastInbound < sentAt) this.#restart();
      else this.#watchIdle();
    }, PROBE_TIMEOUT_MS);
  }

  // Drop the socket and resume on a new one, as after a network failure.
  #restart() {
    const ws = this.#ws;
    if (!ws) return;
    this.#lost(null);
    ws.close(1000);
  }

  #retryLater(code, since = this.#state.since, forceRefresh = false) {
    let delay;
    if (code === 1012) {
      // The server is restarting; others are up (or it is back) soon.
      delay = Math.random() * this.#backoff.min;
    } else {
      const ceiling = Math.min(this.#backoff.max, this.#backoff.min * 2 ** this.#attempt++);
      delay = ceiling / 2 + (Math.random() * ceiling) / 2; // jitter spreads a crowd of clients
    }
    const retryAt = Date.now() + delay;
    this.#setState("down", { since, retryAt, code });
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#setState("connecting", { since, code });
      this.#open(forceRefresh);
    }, delay);
  }

  #shutdown(err) {
    if (!this.#wanted) return;
    this.#wanted = false;
    this.#gen++;
    this.#session.removeEventListener("change", this.#onSessionChange);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    const ws = this.#ws;
    this.#lost(null);
    ws?.close(1000);
    const why = err ?? new ApiError(0, "closed", "The connection was closed.");
    for (const entry of this.#queue.splice(0)) this.#settle(entry, (w) => w.reject(why));
    this.#typedAt.clear();
    this.#setState("closed", { since: Date.now(), code: this.#state.code });
  }

  #setState(name, { since = this.#state.since, retryAt = null, code = this.#state.code } = {}) {
    this.#state = Object.freeze({ name, since, retryAt, code });
    this.dispatchEvent(new CustomEvent("state", { detail: this.#state }));
  }

  // --- tokens -----------------------------------------------------------

  // At 80% of the token's lifetime, but not earlier than a minute before
  // it expires: long-lived tokens are refreshed rarely, short ones in time.
  #scheduleRefresh(delay) {
    const s = this.#session;
    if (delay === undefined) {
      const at = Math.max(s.issuedAt + 0.8 * (s.expiresAt - s.issuedAt), s.expiresAt - 60000);
      delay = Math.max(0, at - Date.now());
    }
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = setTimeout(() => this.#refreshToken(), delay);
  }

  async #refreshToken() {
    this.#refreshTimer = null;
    const ws = this.#ws;
    try {
      await this.#session.refresh(); // its "change" sends the token to the socket
    } catch (err) {
      // A 401 closed this object. Otherwise try again while the socket
      // lives; if it expires first, the 4001 reconnect refreshes anyway.
      if (err.status !== 401 && ws === this.#ws && ws) this.#scheduleRefresh(REFRESH_RETRY_MS);
    }
  }

  #sessionChanged(signedIn) {
    if (!signedIn) return this.#shutdown(new ApiError(401, "unauthorized", "Signed out."));
    if (this.#state.name !== "open" || this.#wsToken === this.#session.accessToken) return;
    this.#sendAuth();
    this.#scheduleRefresh();
  }

  #sendAuth() {
    this.#wsToken = this.#session.accessToken;
    // A refused fresh token (another user: the server closes with 4003)
    // leaves a socket that will expire: start over.
    this.#request({ type: "auth", token: this.#wsToken }, (f) => { if (f.type === "error") this.#restart(); });
  }

  // --- frames -----------------------------------------------------------

  #request(frame, onReply) {
    const id = String(this.#nextId++);
    this.#replies.set(id, onReply);
    this.#outbox.push(JSON.stringify({ ...frame, id }));
    this.#drain();
    return id;
  }

  #drain() {
    const now = performance.now();
    this.#budget = Math.min(FRAME_BURST, this.#budget + ((now - this.#budgetAt) * FRAMES_PER_S) / 1000);
    this.#budgetAt = now;
    for (; this.#outbox.length > 0 && this.#budget >= 1; this.#budget--) this.#ws.send(this.#outbox.shift());
    if (this.#outbox.length > 0 && !this.#outboxTimer) {
      this.#outboxTimer = setTimeout(() => {
        this.#outboxTimer = null;
        this.#drain();
      }, 1000 / FRAMES_PER_S);
    }
  }

  #receive(data) {
    let f;
    try { f = JSON.parse(data); } catch { return; } // the server sends JSON only
    if (f.type === "event") return this.#event(f);
    if (f.type === "ack" || f.type === "error") {
      const reply = this.#replies.get(String(f.id));
      if (!reply) return; // an error without id answers a frame we never sent
      this.#replies.delete(String(f.id));
      return reply(f);
    }
    if (f.type === "unsubscribed") {
      const sub = this.#subs.get(f.channel);
      if (sub) this.#end(sub, new ApiError(0, f.code ?? "unsubscribed", `The server ended ${f.channel}.`));
    }
  }

  #sendSubscribe(sub) {
    const frame = { type: "subscribe", channel: sub.channel };
    if (sub.isOrder) frame.since = sub.lastSeq;
    // A feed's frames wait until its snapshot, taken once the subscription
    // is live, so that nothing between the two is missed or shown twice.
    if (sub.isFeed) Object.assign(sub, { resyncing: true, held: [] });
    const ws = this.#ws;
    let acked = false;
    const onReply = (f) => {
      if (this.#subs.get(sub.channel) !== sub) return;
      if (f.type === "error") {
        if (!acked && FINAL_SUBSCRIBE_ERRORS.has(f.code)) return this.#end(sub, frameError(f));
        // Transient, or after the ack: the replay failed and the server
        // dropped the subscription. The resume on a new socket fills it.
        return this.#restart();
      }
      if (acked) return;
      acked = true;
      // Kept for this socket: an error with this id may follow the ack.
      this.#replies.set(id, onReply);
      sub.replyId = id;
      if (sub.isFeed) this.#resyncFeed(sub, ws);
    };
    const id = this.#request(frame, onReply);
  }

  /** @internal used by Subscription.unsubscribe */
  _unsubscribe(sub) {
    if (this.#subs.get(sub.channel) !== sub) return;
    this.#subs.delete(sub.channel);
    this.#replies.delete(sub.replyId);
    if (this.#state.name !== "open") return; // the next socket simply does not subscribe
    const ch = sub.channel;
    this.#draining.set(ch, (this.#draining.get(ch) ?? 0) + 1);
    this.#request({ type: "unsubscribe", channel: ch }, () => {
      const n = this.#draining.get(ch) - 1;
      if (n > 0) this.#draining.set(ch, n);
      else this.#draining.delete(ch);
    });
  }

  // A subscription the server refused or ended: it is not resubscribed.
  #end(sub, err) {
    this.#subs.delete(sub.channel);
    sub.call("onError", err);
  }

  #event(f) {
    if (this.#draining.has(f.channel)) return;
    const sub = this.#subs.get(f.channel);
    if (!sub) return;
    if (f.seq == null) return sub.call("onEvent", f); // ephemeral: typing, positions, offers
    if (sub.isFeed) return this.#feedEvent(sub, f);
    if (f.seq <= sub.lastSeq) return; // the replay overlapping what was seen, or a redelivery
    if (f.seq !== sub.lastSeq + 1) {
      // A frame was lost on the way (the hub repairs gaps, so this should
      // not happen): resuming from lastSeq on a new socket fills it.
      return this.#restart();
    }
    sub.lastSeq = f.seq;
    sub.call("onEvent", f);
  }

  #feedEvent(sub, f) {
    if (sub.resyncing) return void sub.held.push(f);
    const order = f.data?.order_id ?? f.data?.id;
    if (order == null || sub.firstSight(String(order), f.seq)) sub.call("onEvent", f);
  }

  // A feed has no replay: once its subscription is live (on the first
  // socket and after every reconnect) the orders are listed instead, and
  // the frames that arrive meanwhile are held so that none is delivered
  // before an older snapshot.
  async #resyncFeed(sub, ws) {
    let orders;
    try {
      orders = (await this.#session.api("GET", `/orders?limit=${RESYNC_LIMIT}`)).orders;
    } catch {
      // A feed not resynchronized is not live: start over (the next open
      // resyncs), unless the socket went or the feed was left meanwhile.
      return ws === this.#ws && this.#subs.get(sub.channel) === sub && this.#restart();
    }
    const live = () => ws === this.#ws && this.#subs.get(sub.channel) === sub;
    if (!live()) return;
    sub.seen = new Map(orders.map((o) => [String(o.id), { floor: o.seq, seqs: new Set() }]));
    sub.resyncing = false;
    sub.call("onResync", orders);
    // A callback may unsubscribe (or close): then nothing more is delivered.
    for (const f of sub.held.splice(0)) if (live()) this.#feedEvent(sub, f);
  }

  // --- commands ---------------------------------------------------------

  // A command entry is one frame and the callers waiting for its answer:
  // several when read or location calls were merged while queued.
  #command(frame, { key = null, merge = null, queued = true, result = () => true }) {
    if (!this.#wanted) return Promise.reject(new ApiError(0, "closed", "Not connected."));
    if (new TextEncoder().encode(JSON.stringify(frame)).length > MAX_FRAME_BYTES - 64) {
      return Promise.reject(new ApiError(0, "too_large", "The message is too long."));
    }
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject, entry: null };
      waiter.timer = setTimeout(() => this.#expire(waiter), this.#timeout);
      waiter.entry = key && this.#queue.find((e) => e.key === key);
      if (waiter.entry) {
        waiter.entry.frame = merge(waiter.entry.frame, frame);
      } else {
        waiter.entry = { frame, key, merge, queued, result, waiters: new Set() };
        this.#queue.push(waiter.entry);
      }
      waiter.entry.waiters.add(waiter);
      this.#flush();
    });
  }

  #flush() {
    if (this.#state.name !== "open") return;
    for (const entry of this.#queue.splice(0)) {
      this.#inflight.add(entry);
      this.#request(entry.frame, (f) => {
        this.#inflight.delete(entry);
        if (f.type === "ack") this.#settle(entry, (w) => w.resolve(entry.result(f)));
        else this.#settle(entry, (w) => w.reject(frameError(f)));
      });
    }
  }

  // Sent but not answered: the server may or may not have applied it.
  // Sending again is safe (chat keeps its client_msg_id, marks only grow,
  // a position repeats); typing is not worth sending late.
  #requeue(entry) {
    if (entry.waiters.size === 0) return;
    if (!entry.queued) return this.#settle(entry, (w) => w.resolve(false));
    const same = entry.key && this.#queue.find((e) => e.key === entry.key);
    if (same) {
      same.frame = entry.merge(entry.frame, same.frame);
      for (const w of entry.waiters) { w.entry = same; same.waiters.add(w); }
    } else {
      this.#queue.unshift(entry);
    }
  }

  #expire(waiter) {
    const owner = waiter.entry;
    owner.waiters.delete(waiter);
    waiter.reject(new ApiError(0, "timeout", "The server did not answer in time."));
    // Nobody waits for it: a queued one is not sent at all.
    if (owner.waiters.size === 0) {
      const i = this.#queue.indexOf(owner);
      if (i >= 0) this.#queue.splice(i, 1);
    }
  }

  #settle(entry, fn) {
    for (const w of entry.waiters) {
      clearTimeout(w.timer);
      fn(w);
    }
    entry.waiters.clear();
  }
}

function frameError(f) {
  return new ApiError(0, f.code ?? "error", f.message ?? f.code);
}

/**
 * A random v4 UUID, e.g. for an Idempotency-Key or a client_msg_id.
 * crypto.randomUUID exists only in secure contexts; a phone reaching a
 * demo on the LAN over plain http has getRandomValues only.
 */
export function newUUID() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
