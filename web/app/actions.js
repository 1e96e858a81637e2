// The buttons that move an order on, for whoever is signed in: the
// restaurant accepts, rejects (with a reason), prepares, marks ready,
// cancels (with a reason) and takes the order off its courier (with a
// reason: it is offered again); the courier claims, picks up and delivers;
// the customer cancels while the order is still only placed. One place for
// the board, the offer list and the order page.
import { h, replace, announce } from "./dom.js";
import { explain } from "./errors.js";
import { STATUS } from "./order.js";

// orderActions returns the action bar of order for the signed-in user, or
// null when there is nothing to do. onChange(order) gets the order the
// server answered (or, after a refused step, the order as it is now).
// Every button's accessible name ends with the order ("Accept order #5",
// "Unassign courier of order #5"), so that a list of orders has no two
// controls of the same name; the visible label starts it (WCAG's label in
// name).
export function orderActions(session, order, { onChange }) {
  const steps = stepsFor(session.user, order);
  if (!steps.length) return null;
  const bar = h("div", { class: "actions" });
  const error = h("p", { class: "error", role: "alert" });
  const buttons = h("div", { class: "buttons" });
  const target = (step) => `${step.of ? " of" : ""} order #${order.id}`;

  const request = (step, reason) => () => {
    if (step.action === "claim") return session.api("POST", `/orders/${order.id}/claim`);
    if (step.action === "unassign") return session.api("POST", `/orders/${order.id}/unassign`, { reason });
    return session.api("POST", `/orders/${order.id}/status`, reason ? { status: step.status, reason } : { status: step.status });
  };

  async function run(call, step) {
    for (const b of bar.querySelectorAll("button")) b.disabled = true;
    error.textContent = "";
    try {
      const updated = await call();
      announce(`Order #${order.id}: ${step.done}`);
      onChange(updated);
    } catch (err) {
      error.textContent = explain(err);
      for (const b of bar.querySelectorAll("button")) b.disabled = false;
      if (err.code === "invalid_transition" || err.code === "already_assigned") {
        session.api("GET", `/orders/${order.id}`).then(onChange, () => {});
      }
    }
  }

  // confirm swaps the buttons for a small form: a question, a reason when
  // the step needs one, and the step's button again.
  function confirm(step) {
    const n = target(step);
    const field = step.reason
      ? h("textarea", { id: `reason-${step.action || step.status}-${order.id}`, rows: 2, maxlength: 200, required: true, "aria-label": `Reason for ${step.reason}${n}` })
      : null;
    // Back to the buttons, or to a newer bar if setActions left one
    // (the order changed while this form was open).
    const back = () => {
      const next = bar.next || bar;
      delete bar.dataset.confirming;
      if (next === bar) replace(bar, buttons, error);
      else bar.replaceWith(next);
      next.querySelector("button").focus();
    };
    const form = h("form", {
      class: "confirm",
      onSubmit: (e) => {
        e.preventDefault();
        const reason = field ? field.value.trim() : "";
        if (field && !reason) { error.textContent = "Please give a reason."; field.focus(); return; }
        run(request(step, reason), step);
      },
    },
    field ? h("label", { for: field.id, text: `Reason for ${step.reason}` }) : h("p", { text: step.question }),
    field,
    h("div", { class: "buttons" },
      h("button", { type: "submit", class: step.kind, "aria-label": step.label + n, text: step.label }),
      h("button", { type: "button", onClick: back, "aria-label": `${step.keep || "Keep"}${n}`, text: "Keep" })));
    replace(bar, form, error);
    bar.dataset.confirming = step.label;
    (field || form.querySelector("button")).focus();
  }

  for (const step of steps) {
    const onClick = step.reason || step.question ? () => confirm(step) : () => run(request(step), step);
    buttons.append(h("button", { type: "button", class: step.kind, onClick, "aria-label": step.label + target(step), text: step.label }));
  }
  bar.append(buttons, error);
  return bar;
}

// setActions puts the action bar of order into slot, and reports whether
// it did. A bar asking for a reason (or a confirmation) is kept while the
// order still offers that step: an order's seq or unread count moves with
// every chat message, and a rebuilt bar would throw away the reason being
// typed. The new bar waits in bar.next for the form's Keep. Once the step
// is gone (the order moved on), the form is stale and is replaced.
export function setActions(slot, session, order, options) {
  const fresh = orderActions(session, order, options);
  const bar = slot.querySelector(":scope > .actions[data-confirming]");
  if (bar && stepsFor(session.user, order).some((s) => s.label === bar.dataset.confirming)) {
    bar.next = fresh;
    return false;
  }
  replace(slot, fresh);
  return true;
}

function stepsFor(me, o) {
  switch (me.role) {
    case "customer":
      return o.status === "placed"
        ? [{ label: "Cancel", kind: "danger", status: "cancelled", done: "cancelled", question: "Cancel this order? The restaurant has not accepted it yet." }]
        : [];
    case "restaurant":
      return restaurantSteps(o);
    case "courier":
      return courierSteps(me, o);
    default:
      return [];
  }
}

function restaurantSteps(o) {
  const cancel = { label: "Cancel", kind: "danger", status: "cancelled", reason: "cancelling", done: "cancelled" };
  // The server takes an order off its courier until it is picked up.
  const unassign = o.courier_id
    ? [{ label: "Unassign courier", action: "unassign", of: true, reason: "unassigning the courier", keep: "Keep the courier", done: "courier unassigned, offered to couriers again" }]
    : [];
  switch (o.status) {
    case "placed":
      return [
        { label: "Accept", kind: "primary", status: "accepted", done: "accepted" },
        { label: "Reject", kind: "danger", status: "rejected", reason: "rejecting", done: "rejected" },
      ];
    case "accepted":
      return [{ label: "Start preparing", kind: "primary", status: "preparing", done: STATUS.preparing }, ...unassign, cancel];
    case "preparing":
      return [{ label: "Mark ready", kind: "primary", status: "ready", done: STATUS.ready }, ...unassign, cancel];
    case "ready":
      return [...unassign, cancel];
    default:
      return [];
  }
}

function courierSteps(me, o) {
  if (!o.courier_id && ["accepted", "preparing", "ready"].includes(o.status)) {
    return [{ label: "Claim", kind: "primary", action: "claim", done: "claimed by you" }];
  }
  if (String(o.courier_id) !== String(me.id)) return [];
  if (o.status === "ready") return [{ label: "Picked up", kind: "primary", status: "picked_up", done: "picked up" }];
  if (o.status === "picked_up") return [{ label: "Delivered", kind: "primary", status: "delivered", done: STATUS.delivered }];
  return [];
}
