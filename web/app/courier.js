// The courier's screens: live offers from the dispatch channel and my
// deliveries (an order the restaurant takes off me leaves them, with a
// notice), the delivery page, and sharing my position (the browser's
// geolocation, or a simulated route for demos and tests: a straight line
// between two points, one position a second).
import { h, replace, setChildren, announce, formatMoney, formatTime, timeEl, orderLabel, plural } from "./dom.js";
import { explain } from "./errors.js";
import { FINAL, merge, applyEvent, statusBadge, unreadBadge, restaurantName } from "./order.js";
import { orderActions } from "./actions.js";
import { mountOrderView } from "./orderview.js";
import { notifyPanel } from "./notify.js";

export const routes = [
  { path: "/", view: home },
  { path: "/orders/:id", view: (ctx) => mountOrderView(ctx, { extra: () => locationPanel(ctx) }) },
];

export const nav = [{ href: "#/", label: "Deliveries" }];

const OFFERED = ["accepted", "preparing", "ready"];

async function home(ctx) {
  const { session, rt } = ctx;
  const me = session.user;
  ctx.setTitle("Deliveries");
  const heading = h("h1", { tabindex: -1, text: "Deliveries" });
  const mineList = h("ul", { class: "orders" });
  const offerList = h("ul", { class: "orders" });
  const noMine = h("p", { class: "muted", text: "Nothing to deliver right now. Claim an offer below." });
  const noOffers = h("p", { class: "muted", text: "No offers right now. New ones appear here as restaurants accept orders." });
  const error = h("p", { class: "error", role: "alert" });
  const notice = h("p", { class: "notice", role: "status" });
  replace(ctx.main, heading, error, notice,
    h("div", { class: "split" },
      h("div", {},
        h("section", { class: "card", "aria-labelledby": "mine-h" }, h("h2", { id: "mine-h", text: "My deliveries" }), mineList, noMine),
        h("section", { class: "card", "aria-labelledby": "offers-h" }, h("h2", { id: "offers-h", text: "Offers" }), offerList, noOffers)),
      h("div", {}, locationPanel(ctx),
        h("section", { class: "card", "aria-labelledby": "notify-h" }, h("h2", { id: "notify-h", text: "Notifications" }),
          notifyPanel(session, "Get a notification of new offers and of your deliveries while the app is closed.")))));
  ctx.focus(heading);

  const orders = new Map();
  const mine = (o) => String(o.courier_id) === String(me.id);
  const offered = (o) => !o.courier_id && OFFERED.includes(o.status);

  // One row per order, kept across draws (a screen reader keeps its
  // place): its cells are redrawn only when the order changed.
  const rows = new Map(); // id → {li, place, seq, unread}

  function rowOf(o) {
    let r = rows.get(o.id);
    if (!r) {
      const place = h("span", { class: "muted", text: o.restaurant_name || "" });
      if (!o.restaurant_name) restaurantName(session, o.restaurant_id).then((n) => { place.textContent = n; }, () => {});
      rows.set(o.id, (r = { li: h("li", { class: "card order-row", "data-order": o.id }), place, seq: -1 }));
    }
    if (r.seq !== o.seq || r.unread !== o.unread) {
      replace(r.li, cells(o, r.place));
      r.seq = o.seq;
      r.unread = o.unread;
    }
    return r.li;
  }

  // cells shows an order of mine with its address, or an offer with what
  // its offer view carries: restaurant, pieces, total (no address, no
  // customer until it is mine).
  function cells(o, place) {
    const items = o.items ? o.items.reduce((n, it) => n + it.quantity, 0) : o.items_count || 0;
    return [
      h("a", { href: `#/orders/${o.id}`, class: "order-link", text: orderLabel(o.id) }),
      place, statusBadge(o.status),
      mine(o) && o.delivery_address ? h("span", { text: o.delivery_address }) : h("span", { class: "muted", text: plural(items, "item") }),
      h("span", { text: formatMoney(o.total_cents) }), h("span", { class: "muted" }, timeEl(o.created_at)),
      o.unread ? unreadBadge(o.unread) : null,
      orderActions(session, o, {
        onChange: (u) => {
          merge(orders, u);
          // A claimed offer opens its delivery page; other steps stay here.
          if (offered(o) && mine(u)) ctx.navigate(`#/orders/${u.id}`);
          else draw();
        },
      }),
    ];
  }

  function draw() {
    const all = [...orders.values()].sort((a, b) => Number(b.id) - Number(a.id));
    const active = all.filter((o) => mine(o) && !FINAL.has(o.status));
    const offers = all.filter(offered);
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("[data-order]");
    const shown = new Set([...active, ...offers].map((o) => o.id));
    for (const id of rows.keys()) if (!shown.has(id)) rows.delete(id);
    setChildren(mineList, active.map(rowOf));
    setChildren(offerList, offers.map(rowOf));
    noMine.hidden = active.length > 0;
    noOffers.hidden = offers.length > 0;
    // A redrawn or moved row gives the focus back to its first step.
    if (focused && !focused.contains(document.activeElement) && focused.isConnected) {
      (focused.querySelector(".actions button") || focused.querySelector("a")).focus();
    }
  }

  function onDispatch(f) {
    const d = f.data || {};
    if (f.event === "order.offered" && d.id) {
      if (merge(orders, d)) { announce(`New offer: ${orderLabel(d.id)}`); draw(); }
    } else if (f.event === "order.claimed") {
      const o = orders.get(String(d.order_id));
      if (o && !mine(o)) { orders.delete(o.id); draw(); }
    }
  }

  // My feed carries my orders' changes, and order.unassigned once the
  // restaurant takes an order off me: it leaves My deliveries (its
  // courier_id is null) and is an offer again.
  function onFeed(f) {
    const d = f.data || {};
    if (f.event === "order.unassigned" && String(d.unassigned_courier_id) === String(me.id)) {
      notice.textContent = `${orderLabel(d.id)} was reassigned: the restaurant took it off you${d.reason ? ` (${d.reason})` : ""}.`;
    }
    if (applyEvent(orders, f, me)) draw();
  }

  const resync = (list) => {
    for (const [id, o] of orders) if (!list.some((l) => l.id === id) && !mine(o)) orders.delete(id);
    for (const o of list) merge(orders, o);
    draw();
  };
  const subs = [
    rt.subscribe("dispatch", { onEvent: onDispatch, onResync: resync, onError: (err) => { error.textContent = explain(err); } }),
    rt.subscribe(`user:${me.id}`, { onEvent: onFeed, onResync: resync }),
  ];
  ctx.onCleanup(() => { for (const s of subs) s.unsubscribe(); });
  try {
    const { orders: list } = await session.api("GET", "/orders?limit=100");
    if (!ctx.alive()) return;
    for (const o of list) merge(orders, o);
    draw();
  } catch (err) {
    if (ctx.alive()) error.textContent = explain(err);
  }
}

// --- sharing my position ----------------------------------------------

// One sharer for the page: it keeps going while the courier moves between
// screens, and stops on sign-out.
const ROUTE = { from: { lat: 52.5163, lng: 13.3777 }, to: { lat: 52.5219, lng: 13.4132 }, steps: 60 };
const sharing = { mode: "", rt: null, timer: 0, watch: null, step: 0, sentAt: 0, error: "", listeners: new Set() };

function notify() {
  for (const fn of sharing.listeners) fn();
}

function send(pos) {
  sharing.rt.location(pos).then(
    () => { sharing.sentAt = Date.now(); sharing.error = ""; notify(); },
    (err) => { sharing.error = `Position not sent. ${explain(err)}`; notify(); });
}

function startRoute(rt) {
  stopSharing();
  Object.assign(sharing, { mode: "route", rt, step: 0, error: "" });
  const { from, to, steps } = ROUTE;
  const heading = bearing(from, to);
  const speed = distance(from, to) / (steps - 1); // metres a second
  const tick = () => {
    if (rt.state.name === "closed") return stopSharing();
    const f = sharing.step / (steps - 1);
    send({ lat: from.lat + (to.lat - from.lat) * f, lng: from.lng + (to.lng - from.lng) * f, heading, speed, ts: Date.now() });
    sharing.step++;
    if (sharing.step >= steps) {
      stopSharing();
      announce("The simulated route has ended.");
    }
    notify();
  };
  tick();
  sharing.timer = setInterval(tick, 1000);
  notify();
}

function startDevice(rt) {
  stopSharing();
  if (!navigator.geolocation) {
    sharing.error = "This browser cannot tell where you are. Use the simulated route instead.";
    return notify();
  }
  Object.assign(sharing, { mode: "device", rt, error: "" });
  sharing.watch = navigator.geolocation.watchPosition(
    (p) => {
      const { latitude: lat, longitude: lng, heading, speed } = p.coords;
      const pos = { lat, lng, ts: Math.round(p.timestamp) };
      if (Number.isFinite(heading)) pos.heading = heading;
      if (Number.isFinite(speed)) pos.speed = speed;
      send(pos);
    },
    (err) => {
      sharing.error = GEO_ERRORS[err.code] || "Your position is not available.";
      stopSharing();
    },
    { enableHighAccuracy: true, maximumAge: 5000 });
  notify();
}

const GEO_ERRORS = {
  1: "The browser was not allowed to share your position. Allow it in the site settings, or use the simulated route.",
  2: "Your position is not available right now.",
  3: "Finding your position took too long. Try again.",
};

// stopSharing ends whatever is sending positions (also called on sign-out).
export function stopSharing() {
  clearInterval(sharing.timer);
  if (sharing.watch !== null) navigator.geolocation.clearWatch(sharing.watch);
  Object.assign(sharing, { mode: "", timer: 0, watch: null });
  notify();
}

const MODE_TEXT = {
  "": "You are not sharing your position.",
  device: "Sharing your position from this device.",
  route: "Driving a simulated route.",
};

function locationPanel(ctx) {
  const status = h("p", { class: "current", "aria-live": "polite" });
  const progress = h("p", { class: "muted" });
  const error = h("p", { class: "error", role: "alert" });
  const device = h("button", { type: "button", onClick: () => startDevice(ctx.rt), text: "Share my location" });
  const route = h("button", { type: "button", onClick: () => startRoute(ctx.rt), text: "Simulate a route" });
  const stop = h("button", { type: "button", onClick: () => { stopSharing(); device.focus(); }, text: "Stop sharing" });
  function draw() {
    if (status.textContent !== MODE_TEXT[sharing.mode]) status.textContent = MODE_TEXT[sharing.mode];
    progress.textContent = sharing.mode === "route"
      ? `Position ${sharing.step} of ${ROUTE.steps}${sharing.sentAt ? `, last sent at ${formatTime(sharing.sentAt)}` : ""}.`
      : sharing.mode === "device" && sharing.sentAt ? `Last sent at ${formatTime(sharing.sentAt)}.` : "";
    if (error.textContent !== sharing.error) error.textContent = sharing.error;
    device.hidden = sharing.mode === "device";
    stop.hidden = sharing.mode === "";
  }
  sharing.listeners.add(draw);
  ctx.onCleanup(() => sharing.listeners.delete(draw));
  draw();
  return h("section", { class: "card location", "aria-labelledby": "loc-h" },
    h("h2", { id: "loc-h", text: "Your location" }),
    h("p", { class: "muted", text: "Customers and restaurants of your active deliveries see it on their map." }),
    status, progress, h("div", { class: "buttons" }, device, route, stop), error);
}

function bearing(a, b) {
  const rad = Math.PI / 180;
  const y = Math.sin((b.lng - a.lng) * rad) * Math.cos(b.lat * rad);
  const x = Math.cos(a.lat * rad) * Math.sin(b.lat * rad) - Math.sin(a.lat * rad) * Math.cos(b.lat * rad) * Math.cos((b.lng - a.lng) * rad);
  return ((Math.atan2(y, x) / rad) + 360) % 360;
}

function distance(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * 6371000 * Math.asin(Math.sqrt(s));
}
