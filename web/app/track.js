// The tracking page /t/{token}: an order followed by someone with no
// account, from its tracking link. It shows the status, the ETA and the
// courier on the map: GET /api/v1/track/{token} first, then live over the
// websocket with the token as access_token on track:{order_id}, which
// gives the current state on every subscribe. A socket closed otherwise
// reconnects with a jittered backoff; closed with 4001 (or the link
// answered 404) the link was removed or expired, and the page says so.
import { h, replace, announce, formatTime } from "./dom.js";
import { STATUS, FINAL, statusBadge } from "./order.js";
import { createMap } from "./map.js";

const LINK_GONE = 4001;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30000;

const main = document.getElementById("main");
const token = decodeURIComponent(location.pathname.slice("/t/".length));
const heading = h("h1", { tabindex: -1, text: "Your order" });
const statusEl = h("p", { class: "current-status", id: "track-status" });
const etaEl = h("p", { class: "muted", id: "track-eta" });
const connEl = h("p", { class: "muted", id: "track-conn", role: "status" });
const map = createMap();
let view = null;
let retries = 0;

start();

async function start() {
  replace(main, heading, h("p", { class: "muted", text: "Loading…" }));
  let answer;
  try {
    const r = await fetch(`/api/v1/track/${encodeURIComponent(token)}`, { headers: { Accept: "application/json" } });
    if (r.status === 404) return gone();
    if (!r.ok) throw new Error(`status ${r.status}`);
    answer = await r.json();
  } catch {
    replace(main, heading, h("p", { class: "error", role: "alert", text: "The server cannot be reached. Reload the page to try again." }));
    return;
  }
  view = answer.order;
  replace(main, heading,
    h("section", { class: "card", "aria-labelledby": "track-status-h" },
      h("h2", { id: "track-status-h", text: view.restaurant_name ? `From ${view.restaurant_name}` : "Status" }), statusEl, etaEl, connEl),
    h("section", { class: "card", "aria-labelledby": "track-map-h" }, h("h2", { id: "track-map-h", text: "Courier on the map" }), map.el));
  draw();
  if (answer.location) map.addPosition(answer.location);
  connect();
}

function draw() {
  replace(statusEl, statusBadge(view.status));
  const eta = view.eta;
  etaEl.textContent = FINAL.has(view.status) || !eta ? "" : `Expected around ${formatTime(eta.deliver_at)}.`;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws?access_token=${encodeURIComponent(token)}`);
  let opened = false;
  ws.addEventListener("open", () => {
    opened = true;
    retries = 0;
    connEl.textContent = "Live.";
    ws.send(JSON.stringify({ type: "subscribe", id: "track", channel: `track:${view.id}` }));
  });
  ws.addEventListener("message", (m) => {
    let f;
    try {
      f = JSON.parse(m.data);
    } catch {
      return;
    }
    if (f.type === "event") onEvent(f);
  });
  ws.addEventListener("close", async (e) => {
    if (e.code === LINK_GONE) return gone();
    // A handshake refused with 401 (the link removed while the page was
    // away) looks to the page like any failed connection: ask the API.
    if (!opened && (await linkGone())) return gone();
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** retries++) * (0.5 + Math.random() / 2);
    connEl.textContent = "Reconnecting…";
    setTimeout(connect, delay);
  });
}

// linkGone reports whether the link answers 404 now; a server that
// cannot be reached says nothing of it.
async function linkGone() {
  try {
    const r = await fetch(`/api/v1/track/${encodeURIComponent(token)}`, { headers: { Accept: "application/json" } });
    return r.status === 404;
  } catch {
    return false;
  }
}

function onEvent(f) {
  const d = f.data || {};
  switch (f.event) {
    case "order.status":
      if (d.status && d.status !== view.status) announce(`Order ${STATUS[d.status] || d.status}`);
      view = { ...view, ...d };
      draw();
      break;
    case "order.eta":
      view = { ...view, eta: d };
      draw();
      break;
    case "courier.location":
      map.addPosition(d);
      break;
    case "courier.arrived":
      connEl.textContent = d.at === "dropoff" ? "The courier is at the door." : "The courier is at the restaurant.";
      announce(connEl.textContent);
      break;
  }
}

function gone() {
  replace(main, heading, h("p", { class: "error", role: "alert", id: "track-gone",
    text: "This tracking link is no longer valid: it was removed, or the order ended over an hour ago." }));
  announce("This tracking link is no longer valid.");
}
