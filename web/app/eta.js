// When the food comes, in words: the order's estimate (order.eta, and eta
// on the order) and the courier's arrival at a place (courier.arrived,
// and arrived on an order as REST gives it), for the customer's order
// page and the restaurant's board. Both kept per order apart from the
// order snapshots, which order.eta and courier.arrived do not replace.
import { h, replace } from "./dom.js";
import { FINAL } from "./order.js";

const clock = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" });

// around is a time of an estimate, to the minute, in a <time> element.
function around(ms) {
  const d = new Date(ms);
  return h("time", { datetime: d.toISOString(), text: clock.format(d) });
}

// The place a courier of an order in each status heads for.
const HEADS = { accepted: "pickup", preparing: "pickup", ready: "pickup", picked_up: "dropoff" };

// createEtaState keeps the latest estimate and the arrivals of orders.
export function createEtaState() {
  const etas = new Map(); // order id → the latest order.eta
  const arrivals = new Map(); // order id → {pickup: courier id, dropoff: courier id}

  function arrived(orderId, at, courierId) {
    const id = String(orderId);
    arrivals.set(id, { ...arrivals.get(id), [at]: String(courierId) });
  }

  return {
    // order takes what an order from REST says: its arrived places are
    // its current courier's, and its eta (or none) is the latest as of
    // the read, over an order.eta heard before it (a board listing its
    // orders again after a reconnect missed the frames in between). Not
    // for the orders of durable events: theirs is the eta when the event
    // was stored, which may come after a newer order.eta.
    order(o) {
      const id = String(o.id);
      for (const at of Object.keys(o.arrived || {})) if (o.courier_id) arrived(id, at, o.courier_id);
      if (o.eta) etas.set(id, o.eta);
      else etas.delete(id);
    },
    // event takes an order.eta or courier.arrived; reports whether it was one.
    event(event, data) {
      if (!data || !data.order_id) return false;
      if (event === "order.eta") etas.set(String(data.order_id), data);
      else if (event === "courier.arrived") arrived(data.order_id, data.at, data.courier_id);
      else return false;
      return true;
    },
    // eta is the order's latest estimate, or null (none yet, or it ended).
    eta(o) {
      if (FINAL.has(o.status)) return null;
      return etas.get(String(o.id)) || null;
    },
    // arrival is the place where the order's courier is now ("pickup",
    // "dropoff"), or null: an arrival counts while the order heads there
    // and its courier is the one that arrived.
    arrival(o) {
      const at = HEADS[o.status];
      const who = at && o.courier_id ? (arrivals.get(String(o.id)) || {})[at] : null;
      return who && who === String(o.courier_id) ? at : null;
    },
  };
}

// customerWords: the estimate as the customer reads it. Without a drop-off
// place the estimate is the kitchen's time only (docs/eta.md), so it says
// when the food is ready and nothing of the way.
function customerWords(o, eta) {
  const dropoff = o.delivery_lat !== undefined && o.delivery_lat !== null;
  if (eta.basis === "prep" || !dropoff) {
    return eta.pickup_at ? ["Ready around ", around(eta.pickup_at)] : null;
  }
  return ["Arriving around ", around(eta.deliver_at)];
}

const CUSTOMER_ARRIVAL = { pickup: "Your courier is at the restaurant", dropoff: "Your courier is here" };

// createEtaPanel is the customer's line of the estimate and the arrival,
// in a polite live region: a screen reader says each change once, so
// the lines are rewritten only when their words change.
export function createEtaPanel() {
  const state = createEtaState();
  const etaLine = h("p", { class: "eta-time" });
  const arrivalLine = h("p", { class: "eta-arrival" });
  const el = h("div", { class: "eta", "aria-live": "polite" }, etaLine, arrivalLine);
  let last = null;
  // draw reports whether the region's words changed (it will speak).
  function draw() {
    if (!last) return false;
    const eta = state.eta(last);
    const words = h("span", {}, eta ? customerWords(last, eta) : null);
    const at = state.arrival(last);
    const arrival = at ? CUSTOMER_ARRIVAL[at] : "";
    let changed = false;
    if (words.textContent !== etaLine.textContent) {
      replace(etaLine, words.textContent ? words : null);
      changed = true;
    }
    if (arrival !== arrivalLine.textContent) {
      arrivalLine.textContent = arrival;
      changed = true;
    }
    return changed;
  }
  return {
    el,
    // listed takes the order as REST gives it (the page's load, an
    // action's answer): its estimate and arrivals as of now.
    listed(o) {
      state.order(o);
    },
    // order is the order as now shown (from REST or an event).
    order(o) {
      last = o;
      draw();
    },
    // event takes an order.eta or courier.arrived; reports whether the
    // region says something new.
    event(event, data) {
      return state.event(event, data) && draw();
    },
  };
}

// boardWords: for the restaurant, when the courier takes the order and
// whether it is waiting, while the order is still the kitchen's.
export function boardWords(state, o) {
  if (HEADS[o.status] !== "pickup") return null;
  if (state.arrival(o) === "pickup") return h("strong", { text: "Courier waiting" });
  const eta = state.eta(o);
  return eta && eta.pickup_at ? ["Pickup around ", around(eta.pickup_at)] : null;
}
