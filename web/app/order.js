// What every screen knows about orders: the words for each status, which
// statuses are final, merging order snapshots that arrive out of order,
// the lines of the status timeline, and restaurant names.
import { h } from "./dom.js";

export const STATUS = {
  placed: "Placed",
  accepted: "Accepted",
  preparing: "Preparing",
  ready: "Ready for pickup",
  picked_up: "On the way",
  delivered: "Delivered",
  rejected: "Rejected",
  cancelled: "Cancelled",
};

export const FINAL = new Set(["delivered", "rejected", "cancelled"]);

export function statusBadge(status) {
  return h("span", { class: `status status-${status}`, text: STATUS[status] || status });
}

// newer reports whether snapshot b should replace a: a later seq wins, and
// an order we never saw always does. Events of one order may reach a
// screen through several channels (a feed, the order channel, a REST
// answer) in any order; keeping the highest seq makes that harmless.
function newer(a, b) {
  return !a || (b.seq || 0) >= (a.seq || 0);
}

// merge puts order into map (id → order) if it is newer; reports whether
// it did. A listed order (GET /orders) carries unread, counted up to its
// seq; event payloads carry none, and keep the count of the copy they
// replace. Messages counted live above the listed seq stay counted.
export function merge(map, order) {
  const had = map.get(order.id);
  if (!newer(had, order)) return false;
  const next = { ...order, counted: had ? had.counted : [] };
  if (order.unread === undefined) {
    next.unread = had ? had.unread : 0;
    next.listedSeq = had ? had.listedSeq : order.seq;
  } else {
    next.listedSeq = order.seq;
    next.counted = next.counted.filter((seq) => seq > order.seq);
    next.unread = order.unread + next.counted.length;
  }
  map.set(order.id, next);
  return true;
}

// applyEvent applies a frame of a feed or order channel to a list of
// orders (map id → order) of the signed-in user me: order snapshots are
// merged; chat messages of the others raise the unread count, once each
// (not those the listing already counted); my own read marks (from
// another tab or device) lower it where the list knows enough. Reports
// whether the list changed.
export function applyEvent(map, frame, me) {
  const d = frame.data || {};
  if (frame.event === "chat.message") {
    const o = map.get(String(d.order_id));
    if (!o || String(d.author_id) === String(me.id) || d.seq <= o.listedSeq || o.counted.includes(d.seq)) return false;
    o.counted = [...o.counted, d.seq];
    o.unread += 1;
    return true;
  }
  if (frame.event === "chat.read") {
    const o = map.get(String(d.order_id));
    if (!o || String(d.user_id) !== String(me.id) || d.seq < o.listedSeq) return false;
    o.counted = o.counted.filter((seq) => seq > d.seq);
    o.unread = o.counted.length;
    return true;
  }
  return frame.event.startsWith("order.") && Boolean(d.id) && merge(map, snapshotOf(frame.event, d));
}

// snapshotOf is the order an order event carries. order.unassigned adds
// to it the courier removed and the unassign's reason, which is not the
// order's own reason (that of a rejection or cancel), so both are left out.
export function snapshotOf(event, data) {
  if (event !== "order.unassigned") return data;
  const { unassigned_courier_id: _removed, reason: _why, ...order } = data;
  return order;
}

// courierText says who is bringing the order, for the restaurant. Orders
// name their courier by id only.
export function courierText(order) {
  if (!order.courier_id) return "No courier yet";
  return order.status === "picked_up"
    ? `Courier #${order.courier_id} is delivering it`
    : `Courier #${order.courier_id} is coming`;
}

// timelineText is the timeline's words for a durable event, or null for
// events the timeline does not show (chat messages have their own list).
export function timelineText(event, data) {
  switch (event) {
    case "order.created":
      return "Order placed";
    case "order.assigned":
      return "Courier assigned";
    case "order.unassigned":
      return `Courier unassigned${data && data.reason ? `: ${data.reason}` : ""}`;
    case "courier.arrived":
      return data && data.at === "dropoff" ? "Courier arrived at the door" : "Courier arrived at the restaurant";
    case "order.status":
      return statusText(data);
    default:
      return null;
  }
}

function statusText(order) {
  const reason = order.reason ? `: ${order.reason}` : "";
  switch (order.status) {
    case "accepted": return "Accepted by the restaurant";
    case "preparing": return "Being prepared";
    case "ready": return "Ready for pickup";
    case "picked_up": return "Picked up by the courier";
    case "delivered": return "Delivered";
    case "rejected": return `Rejected by the restaurant${reason}`;
    case "cancelled": return `Cancelled${reason}`;
    default: return STATUS[order.status] || order.status;
  }
}

// What each party is waiting for, shown under the current status.
const NEXT = {
  placed: "Waiting for the restaurant to accept.",
  accepted: "The restaurant will start preparing soon.",
  preparing: "The food is being prepared.",
  ready: "Waiting for the courier to pick it up.",
  picked_up: "The courier is on the way.",
};

export function nextStep(order) {
  if (order.status !== "placed" && order.status !== "picked_up" && !order.courier_id && !FINAL.has(order.status)) {
    return `${NEXT[order.status]} No courier yet.`;
  }
  return NEXT[order.status] || "";
}

// unreadBadge shows how many messages of the others wait unread.
export function unreadBadge(n) {
  return h("span", { class: "badge", text: `${n} unread` });
}

export function itemsSummary(order) {
  const items = order.items || [];
  return items.map((it) => `${it.quantity} × ${it.name}`).join(", ");
}

// listing is the promise of GET /restaurants as a map id → restaurant,
// shared by every caller: a page of N order rows asks once, not N times.
let listing = null;

function load(session) {
  const p = session.api("GET", "/restaurants").then(({ restaurants }) => new Map(restaurants.map((r) => [String(r.id), r])));
  p.catch(() => { if (listing === p) listing = null; }); // a failure is asked again next time
  listing = p;
  return p;
}

// listed resolves to the map holding restaurant id if it exists: a
// restaurant created after the listing is looked up again, once for all
// the callers that miss it.
async function listed(session, id) {
  const key = String(id);
  const p = listing || load(session);
  const map = await p;
  if (map.has(key)) return map;
  return listing === p ? load(session) : listing || load(session);
}

// restaurantName is the name of restaurant id ("Restaurant 7" if there is
// none). Orders carry restaurant_name: ask only for those that do not.
export async function restaurantName(session, id) {
  const r = (await listed(session, id)).get(String(id));
  return r ? r.name : `Restaurant ${id}`;
}

export async function restaurantByID(session, id) {
  return (await listed(session, id)).get(String(id)) || null;
}
