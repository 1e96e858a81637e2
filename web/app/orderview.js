// The live order page, the same for its three parties: what was ordered,
// the current status with the step each party can take, the timeline of
// every status change with its time, the courier on the map, and the chat.
// History comes from GET /orders/{id}/events; the live rest from the
// order's channel, subscribed from the last seq read, so that nothing is
// missed between the two and nothing shown twice. A courier whose order
// the restaurant takes away is told so, with the way back to its deliveries.
import { h, replace, announce, formatMoney, timeEl, orderLabel, plural } from "./dom.js";
import { explain } from "./errors.js";
import { STATUS, statusBadge, timelineText, nextStep, restaurantByID, merge, snapshotOf } from "./order.js";
import { setActions } from "./actions.js";
import { createChat } from "./chat.js";
import { createMap } from "./map.js";

const EVENTS_PAGE = 1000;
const CHAT_OPEN_AFTER_END_MS = 60 * 60 * 1000;

// mountOrderView renders order params.id into ctx.main. extra(order) may
// return an element shown under the actions (the courier's location
// sharing); panel ({el, listed(o), order(o), event(name, data)}, the
// customer's estimate and arrival) is shown under the status and follows
// the order as REST gives it (listed), as shown (order), and its events
// (event reports whether the panel's live region says it).
export async function mountOrderView(ctx, { extra, panel } = {}) {
  const { session, rt, main } = ctx;
  const id = ctx.params.id;
  const me = session.user;
  const heading = h("h1", { tabindex: -1, text: orderLabel(id) });
  replace(main, heading, h("p", { class: "muted", text: "Loading…" }));
  ctx.setTitle(orderLabel(id));

  let order;
  try {
    order = await session.api("GET", `/orders/${id}`);
  } catch (err) {
    if (!ctx.alive()) return;
    replace(main, heading, h("p", { class: "error", role: "alert", text: explain(err) }), backLink(me));
    return;
  }
  if (!ctx.alive()) return;
  const orders = new Map();
  merge(orders, order);
  if (panel) panel.listed(order);
  const party = isParty(me, order);

  const summary = h("div", { class: "order-summary" });
  const current = h("div", { class: "current", tabindex: -1 }); // changes are announced with the timeline
  const actionSlot = h("div");
  const timeline = h("ol", { class: "timeline" });
  const map = createMap();
  const chat = party ? createChat({ rt, orderId: id, me }) : null;
  // At once: every early return below must still stop its listener and timer.
  if (chat) ctx.onCleanup(() => chat.close());
  const seen = new Set(); // durable seqs shown: REST history and the socket may overlap

  replace(main,
    h("div", { class: "page-head" }, heading, backLink(me)),
    h("div", { class: "order-grid" },
      h("div", { class: "order-main" },
        h("section", { class: "card", "aria-labelledby": "status-h" },
          h("h2", { id: "status-h", text: "Status" }), current, panel ? panel.el : null, actionSlot, extra ? extra(order) : null),
        h("section", { class: "card", "aria-labelledby": "items-h" }, h("h2", { id: "items-h", text: "The order" }), summary),
        party ? h("section", { class: "card", "aria-labelledby": "timeline-h" }, h("h2", { id: "timeline-h", text: "Timeline" }), timeline) : null,
        party ? h("section", { class: "card", "aria-labelledby": "map-h" }, h("h2", { id: "map-h", text: "Courier on the map" }), map.el) : null),
      chat ? h("section", { class: "card order-chat", "aria-labelledby": "chat-h" }, h("h2", { id: "chat-h", text: "Chat" }), chat.el) : null));
  ctx.focus(heading);

  const restaurant = await restaurantByID(session, order.restaurant_id).catch(() => null);
  if (!ctx.alive()) return;
  const name = order.restaurant_name || (restaurant ? restaurant.name : `Restaurant ${order.restaurant_id}`);
  // Places are drawn once the API carries them (restaurant lat/lng,
  // the order's delivery_lat/lng); until then the map shows the trail.
  if (restaurant) map.setPlace("restaurant", restaurant);
  map.setPlace("dropoff", { lat: order.delivery_lat, lng: order.delivery_lng });

  function draw(live) {
    const o = orders.get(order.id);
    if (panel) panel.order(o);
    replace(current,
      h("p", { class: "current-status" }, statusBadge(o.status), o.reason ? h("span", { class: "muted", text: ` ${o.reason}` }) : null),
      h("p", { class: "muted", text: nextStep(o) }));
    // A step taken from here replaces its own button: the focus goes to
    // the next step, or to the status, instead of being lost.
    const hadFocus = actionSlot.contains(document.activeElement);
    if (setActions(actionSlot, session, o, { onChange: (u) => { if (panel) panel.listed(u); update(u, true); } }) && hadFocus) {
      (actionSlot.querySelector("button") || current).focus();
    }
    replace(summary,
      h("p", {}, h("strong", { text: name })),
      o.items
        ? h("ul", { class: "lines" }, o.items.map((it) => h("li", {},
          h("span", { text: `${it.quantity} × ${it.name}` }), h("span", { text: formatMoney(it.price_cents * it.quantity) }))))
        : h("p", { text: plural(o.items_count || 0, "item") }), // a courier's offer view lists no items
      h("p", { class: "total" }, h("span", { text: "Total" }), h("strong", { text: formatMoney(o.total_cents) })),
      o.delivery_address ? h("p", {}, h("span", { class: "muted", text: "Deliver to: " }), o.delivery_address) : null,
      o.notes ? h("p", {}, h("span", { class: "muted", text: "Notes: " }), o.notes) : null,
      h("p", { class: "muted" }, "Placed ", timeEl(o.created_at)));
    if (chat) chat.setOpen(!(o.finished_at && Date.now() - Date.parse(o.finished_at) > CHAT_OPEN_AFTER_END_MS));
    if (live) ctx.setTitle(`${orderLabel(o.id)}: ${STATUS[o.status] || o.status}`);
  }

  // update takes a newer snapshot of the order (from an event or an
  // action's answer); a party who just became one (a courier's claim)
  // gets the whole page again.
  function update(o, live) {
    if (!merge(orders, o)) return;
    if (!party && isParty(me, o)) { ctx.reload(); return; }
    draw(live);
  }

  // reassigned replaces the page once the restaurant took the order off
  // me (its courier): the server ends my subscription of the order's
  // channel after the order.unassigned event ("unsubscribed", code
  // forbidden), and the order is offered to couriers again. The event
  // leaves its reason here; the page stays as it was until the end.
  let removedReason = "";
  function reassigned() {
    const reason = removedReason;
    const why = h("p", { class: "notice", role: "alert", tabindex: -1 },
      "This order was reassigned: the restaurant took it off you",
      reason ? ` (${reason})` : "", ". You no longer deliver it.");
    replace(main, heading, h("section", { class: "card" }, why,
      h("p", {}, h("a", { href: "#/", text: "Back to my deliveries" }))));
    ctx.setTitle(`${orderLabel(id)}: reassigned`);
    why.focus();
  }

  function apply(event, seq, data, at, live) {
    if (seq) {
      if (seen.has(seq)) return;
      seen.add(seq);
    }
    if (live && event === "order.unassigned" && String(data.unassigned_courier_id) === String(me.id)) {
      removedReason = data.reason || "";
      return;
    }
    switch (event) {
      case "chat.message": chat && chat.add(data); if (live && chat) chat.seen(); return;
      case "chat.typing": chat && chat.typing(data); return;
      case "chat.read": chat && chat.read(data); return;
      case "courier.location": map.addPosition(data); return;
      case "order.eta": if (panel) panel.event(event, data); return;
    }
    // An arrival the panel's live region says is not announced again.
    const said = event === "courier.arrived" && panel && panel.event(event, data);
    const text = timelineText(event, data);
    if (text) {
      timeline.append(h("li", { "data-seq": seq || "" }, timeEl(at), " ", h("span", { text })));
      if (live && !said) announce(`${orderLabel(id)}: ${text}`);
    }
    if (event.startsWith("order.") && data && data.id) update(snapshotOf(event, data), live);
  }

  draw(false);
  if (!party) return;

  // The history, then the live channel from where it ended.
  let after = 0;
  try {
    for (;;) {
      const { events } = await session.api("GET", `/orders/${id}/events?after=${after}&limit=${EVENTS_PAGE}`);
      if (!ctx.alive()) return;
      for (const ev of events) {
        apply(ev.event, ev.seq, ev.data, ev.created_at, false);
        after = ev.seq;
      }
      if (events.length < EVENTS_PAGE) break;
    }
  } catch (err) {
    if (!ctx.alive()) return;
    timeline.after(h("p", { class: "error", role: "alert", text: explain(err) }));
  }
  chat.seen();
  const sub = rt.subscribe(`order:${id}`, {
    since: after,
    onEvent: (f) => apply(f.event, f.seq, f.data, f.ts, true),
    onError: (err) => {
      if (me.role === "courier" && err.code === "forbidden") reassigned();
      else timeline.after(h("p", { class: "error", role: "alert", text: explain(err) }));
    },
  });
  ctx.onCleanup(() => sub.unsubscribe());
}

// isParty: may me read the order's events, chat and courier position? A
// courier looking at an offer may not yet.
function isParty(me, o) {
  if (me.role === "courier") return String(o.courier_id) === String(me.id);
  return true;
}

function backLink(me) {
  const text = { customer: "My orders", restaurant: "All orders", courier: "Deliveries" }[me.role] || "Home";
  return h("a", { class: "back", href: me.role === "customer" ? "#/orders" : "#/", text });
}
