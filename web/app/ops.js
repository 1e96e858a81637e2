// The operator page (/ops), for admin accounts: every live instance's
// figures, the store's and Redis's health, the outbox's oldest unpublished
// event and the last errors, filled from GET /ops/stats and then kept live
// by ops.stats on the ops channel (every 2 s); and the admin actions: find
// a user and end their sessions, take the courier off an order, cancel an
// order. Anyone may load the page, but its data is an admin's only: a
// signed-in non-admin is told so, and the page asks the server for nothing.
import { Realtime } from "/client/ordercast.js";
import { h, replace, setChildren, announce, formatTime, timeEl, plural, orderLabel } from "./dom.js";
import { explain } from "./errors.js";
import { field, submitting } from "./forms.js";
import * as auth from "./auth.js";
import { showConnection } from "./banner.js";

const NOT_OPERATOR = "This page is for operators: only an admin account may see it.";
// What the page may show of a refusal of its data or of an admin action.
const REFUSED = { forbidden: NOT_OPERATOR };
// The subscription kinds of an instance, in the order the table shows them.
const KINDS = ["order", "user", "restaurant", "dispatch", "track", "ops"];
// The order id goes into an API path: a plain number only.
const ORDER_ID = /^[1-9][0-9]*$/;

const session = auth.openSession();
const main = document.getElementById("main");
const account = document.getElementById("account");
let rt = null;
let signingOut = false;

const decimal = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });

function setTitle(page) {
  document.title = page === "Operations" ? "Operations · ordercast" : `${page} · Operations · ordercast`;
}

function render({ focus = false } = {}) {
  stopRealtime();
  drawAccount();
  if (!session.signedIn) {
    auth.signIn({ session, main, query: {}, setTitle }, {
      after: () => render({ focus: true }),
      intro: "The operator page shows every instance of the service live. Sign in with an admin account.",
      signUp: false,
    });
    return;
  }
  if (session.user.role !== "admin") {
    notAnOperator();
    return;
  }
  dashboard(focus);
}

function drawAccount() {
  const user = session.signedIn ? session.user : null;
  replace(account, user
    ? [h("span", { class: "who", text: `${user.name} (${user.role})` }),
      h("button", { type: "button", class: "link", onClick: signOut, text: "Sign out" })]
    : null);
}

async function signOut() {
  signingOut = true;
  try {
    await session.logout();
  } catch (err) {
    console.warn("logout", err); // the tokens are dropped anyway
  }
  signingOut = false;
}

// A sign-out here, an ended session (revoked, or its refresh refused):
// back to the sign-in form, saying why when it was not a sign-out.
session.addEventListener("change", (e) => {
  if (e.detail.signedIn) return; // signed in (the form renders) or a token rotated
  const ended = !signingOut;
  render();
  if (ended) auth.notice("Your session has ended. Please sign in again.");
  else announce("Signed out");
});

function notAnOperator() {
  setTitle("For operators only");
  const u = session.user;
  replace(main,
    h("h1", { tabindex: -1, text: "This page is for operators" }),
    h("p", { text: `You are signed in as ${u.name}, with a ${u.role} account. Only an admin account sees the instances and the admin actions here; ask an operator if you need one.` }),
    h("p", {}, h("a", { href: "/", text: "Go to the ordercast app" })));
}

function startRealtime() {
  rt = new Realtime({ session });
  rt.addEventListener("state", (e) => showConnection(e.detail));
  rt.connect();
  return rt;
}

function stopRealtime() {
  if (!rt) return;
  rt.close();
  rt = null;
  showConnection({ name: "closed" });
}

function dashboard(focus) {
  setTitle("Operations");
  const heading = h("h1", { tabindex: -1, text: "Operations" });
  const updated = h("p", { class: "muted", text: "Waiting for the first figures…" });
  const dataError = h("p", { class: "error", role: "alert" });
  const instances = instanceTable();
  const health = h("dl", { class: "health" });
  const errors = h("ol", { class: "errors" });
  replace(main, heading, updated, dataError,
    h("section", { class: "card", "aria-labelledby": "instances-h" },
      h("h2", { id: "instances-h" }, "Instances ", instances.count), instances.el),
    h("div", { class: "ops-grid" },
      h("section", { class: "card", "aria-labelledby": "health-h" }, h("h2", { id: "health-h", text: "Health" }), health),
      h("section", { class: "card", "aria-labelledby": "errors-h" }, h("h2", { id: "errors-h", text: "Last errors" }), errors)),
    h("section", { class: "card", "aria-labelledby": "actions-h" },
      h("h2", { id: "actions-h", text: "Admin actions" }),
      h("div", { class: "ops-grid" }, userActions(), orderActions())));
  if (focus) heading.focus();

  let drawn = false;
  const draw = (stats) => {
    drawn = true;
    dataError.textContent = "";
    instances.draw(stats.instances || []);
    drawHealth(health, stats);
    drawErrors(errors, stats.errors || []);
    updated.textContent = `Updated ${formatTime(new Date())}, live every 2 s.`;
  };
  // Live first, then the snapshot: a snapshot answered after a live
  // frame is older than it and is dropped.
  const live = startRealtime();
  live.subscribe("ops", {
    onEvent: (f) => { if (f.event === "ops.stats") draw(f.data); },
    onError: (err) => { dataError.textContent = `Live figures stopped: ${explain(err, REFUSED)}`; },
  });
  session.api("GET", "/ops/stats").then(
    (stats) => { if (rt === live && !drawn) draw(stats); },
    (err) => { if (rt === live && !drawn) dataError.textContent = explain(err, REFUSED); });
}

// instanceTable is the table of instances, one row each, updated in place
// (a screen reader's place in the table survives the next figures).
function instanceTable() {
  const count = h("span", { class: "count", text: "" });
  const body = h("tbody");
  const rows = new Map(); // instance id → {tr, cells, shown: what each cell shows}
  // [heading, the field of the stats shown (data-figure, for tests), how].
  const columns = [
    ["Version", "version", (v) => v],
    ["Started", "started_at", timeEl],
    ["Connections", "connections", String],
    ["Subscriptions", "subscriptions", (v) => subscriptions(v || {})],
    ["Frames in/s", "frames_in_per_s", (v) => decimal.format(v)],
    ["Frames out/s", "frames_out_per_s", (v) => decimal.format(v)],
    ["Events published/s", "events_per_s", (v) => decimal.format(v)],
    ["Events delivered/s", "events_delivered_per_s", (v) => decimal.format(v)],
    ["Slow closes", "slow_closes", String],
    ["Rate-limited", "rate_limited", String],
    ["Last seen", "seen_at", timeEl],
  ];
  const text = (name) => (name === "Subscriptions" ? "text" : null); // left-aligned, not a number
  const empty = h("tr", {}, h("td", { colspan: columns.length + 1, class: "text muted", text: "No instance has reported yet." }));
  const table = h("table", { class: "figures" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "text", text: "Instance" }),
      columns.map(([name]) => h("th", { scope: "col", class: text(name), text: name })))),
    body);

  function row(i) {
    let r = rows.get(i.id);
    if (!r) {
      // data-label names the figure where the cells stand as lines of a
      // card (narrow windows), the column headings hidden.
      const cells = columns.map(([name, key]) => h("td", { "data-figure": key, "data-label": name, class: text(name) }));
      r = { tr: h("tr", { "data-instance": i.id }, h("th", { scope: "row", class: "text", text: i.id }), cells), cells, shown: [] };
      rows.set(i.id, r);
    }
    columns.forEach(([, key, show], n) => {
      const v = show(i[key]);
      const seen = typeof v === "string" ? v : v.outerHTML;
      if (r.shown[n] === seen) return; // unchanged: the node stays
      r.shown[n] = seen;
      replace(r.cells[n], v);
    });
    return r.tr;
  }

  return {
    el: h("div", { class: "table-scroll", role: "region", "aria-labelledby": "instances-h", tabindex: 0 }, table),
    count,
    draw(list) {
      const sorted = [...list].sort((a, b) => String(a.id).localeCompare(String(b.id)));
      const ids = new Set(sorted.map((i) => i.id));
      for (const id of rows.keys()) if (!ids.has(id)) rows.delete(id);
      setChildren(body, sorted.length ? sorted.map(row) : [empty]);
      count.textContent = `(${sorted.length})`;
    },
  };
}

function subscriptions(subs) {
  return h("ul", { class: "kinds" }, KINDS.map((k) => h("li", {}, `${k} `, h("strong", { text: String(subs[k] ?? 0) }))));
}

function drawHealth(dl, stats) {
  const state = (s) => s.ok
    ? [h("span", { class: "state state-up", text: "Up" }), ` ${decimal.format(s.latency_ms)} ms`]
    : [h("span", { class: "state state-down", text: "Down" })];
  const oldest = stats.outbox?.oldest_unpublished_s; // 0: none; null: the store did not answer
  replace(dl,
    h("dt", { text: "Store" }), h("dd", { "data-figure": "store" }, state(stats.store || {})),
    h("dt", { text: "Redis" }), h("dd", { "data-figure": "redis" },
      stats.redis ? state(stats.redis) : "Not used: one instance, fan-out in process."),
    h("dt", { text: "Outbox" }), h("dd", { "data-figure": "outbox" },
      outbox(oldest)));
}

function outbox(oldest) {
  if (oldest == null) return "Not known: the store did not answer.";
  return oldest > 0 ? `Oldest unpublished event: ${plural(Math.round(oldest), "second")} old.` : "Nothing waiting to be published.";
}

function drawErrors(list, errors) {
  if (!errors.length) {
    replace(list, h("li", { class: "muted", text: "No errors." }));
    return;
  }
  replace(list, errors.map((e) => h("li", {}, // newest first, as the server lists them
    h("p", { class: "error-meta" }, timeEl(e.at), e.instance ? ` on ${e.instance}` : null),
    h("p", { class: "error-text", text: e.message }))));
}

// userActions: find a user by email, then end every session of theirs
// (the revocation of "ordercast admin revoke": their sockets close with
// 4001 on every instance).
function userActions() {
  const email = field("user-email", "Email", { type: "email", autocomplete: "off", required: true });
  const error = h("p", { class: "error", role: "alert" });
  const found = h("div", { class: "found" });
  const form = h("form", {
    "aria-labelledby": "find-h",
    onSubmit: (e) => {
      e.preventDefault();
      const wanted = email.input.value.trim();
      replace(found);
      submitting(form, error, { email: email.input }, async () => {
        const { user } = await session.api("GET", `/admin/users?email=${encodeURIComponent(wanted)}`);
        showUser(user);
      }, { ...REFUSED, not_found: `No user has the email ${wanted}.` });
    },
  },
  h("h3", { id: "find-h", text: "Find a user" }),
  email.el,
  h("button", { type: "submit", class: "primary", text: "Find user" }),
  error);

  function showUser(u) {
    const result = h("p", { role: "status" });
    const endError = h("p", { class: "error", role: "alert" });
    const bar = h("div");
    const offer = () => replace(bar, h("div", { class: "buttons" },
      h("button", { type: "button", class: "danger", onClick: ask, text: "End sessions" })));
    function ask() {
      result.textContent = "";
      const confirm = h("form", {
        class: "confirm",
        onSubmit: (e) => {
          e.preventDefault();
          submitting(confirm, endError, {}, async () => {
            const { sessions_revoked: n } = await session.api("POST", `/admin/users/${u.id}/revoke`, {});
            result.textContent = `Ended ${plural(n, "session")} of ${u.email}.`;
            offer();
            bar.querySelector("button").focus();
          }, { ...REFUSED, not_found: `${u.email} no longer exists.` });
        },
      },
      h("p", { text: `End every session of ${u.email}? They are signed out on every device, and their open connections close.` }),
      h("div", { class: "buttons" },
        h("button", { type: "submit", class: "danger", "aria-label": `End sessions of ${u.email}`, text: "End sessions" }),
        h("button", {
          type: "button",
          onClick: () => { offer(); bar.querySelector("button").focus(); },
          "aria-label": `Keep the sessions of ${u.email}`,
          text: "Keep",
        })));
      replace(bar, confirm);
      confirm.querySelector("button").focus();
    }
    offer();
    replace(found,
      h("dl", { class: "facts" },
        h("dt", { text: "Name" }), h("dd", { text: u.name }),
        h("dt", { text: "Email" }), h("dd", { text: u.email }),
        h("dt", { text: "Role" }), h("dd", { text: u.role }),
        h("dt", { text: "User id" }), h("dd", { text: String(u.id) }),
        u.restaurant_id ? [h("dt", { text: "Restaurant id" }), h("dd", { text: String(u.restaurant_id) })] : null,
        h("dt", { text: "Signed up" }), h("dd", {}, timeEl(u.created_at))),
      bar, endError, result);
  }
  return h("div", { class: "action" }, form, found);
}

// orderActions: an order by id, and the two steps an operator may take on
// it, each with a reason that is kept with the order and shown to its
// parties. The server judges the reason (an empty one is refused in
// words), as it does for the restaurant's screens.
function orderActions() {
  const id = field("order-id", "Order id", { type: "text", inputmode: "numeric", autocomplete: "off" },
    "The number after # on the restaurant's board or the customer's order page.");
  const error = h("p", { class: "error", role: "alert" });
  const result = h("p", { role: "status" });
  const slot = h("div");
  const steps = [
    {
      label: "Unassign courier",
      submit: (o) => `Unassign courier of order #${o}`,
      reason: (o) => `Reason for unassigning the courier of order #${o}`,
      call: (o, reason) => session.api("POST", `/orders/${o}/unassign`, { reason }),
      done: (o) => `${orderLabel(o)}: the courier was taken off; it is offered to couriers again.`,
      refused: (o) => ({ invalid_transition: `${orderLabel(o)} has no courier now, or its courier has the food already: there is no courier to take off.` }),
    },
    {
      label: "Cancel order",
      kind: "danger",
      submit: (o) => `Cancel order #${o}`,
      reason: (o) => `Reason for cancelling order #${o}`,
      call: (o, reason) => session.api("POST", `/orders/${o}/status`, { status: "cancelled", reason }),
      done: (o) => `${orderLabel(o)} was cancelled.`,
      refused: (o) => ({ invalid_transition: `${orderLabel(o)} has ended already (delivered, rejected or cancelled), so it cannot be cancelled.` }),
    },
  ];
  const buttons = () => h("div", { class: "buttons" }, steps.map((step) =>
    h("button", { type: "button", class: step.kind, onClick: () => start(step), text: step.label })));
  const back = () => {
    replace(slot, buttons());
    slot.querySelector("button").focus();
  };

  // start checks the id, then asks for the step's reason.
  function start(step) {
    error.textContent = "";
    result.textContent = "";
    id.input.removeAttribute("aria-invalid");
    const o = id.input.value.trim();
    if (!ORDER_ID.test(o)) {
      error.textContent = "Order id: a number, such as 42.";
      id.input.setAttribute("aria-invalid", "true");
      id.input.focus();
      return;
    }
    const reason = h("textarea", { id: "order-reason", name: "reason", rows: 2, maxlength: 200 });
    const confirm = h("form", {
      class: "confirm",
      onSubmit: (e) => {
        e.preventDefault();
        submitting(confirm, error, { reason }, async () => {
          await step.call(o, reason.value.trim());
          result.textContent = step.done(o);
          back();
        }, { ...REFUSED, not_found: `There is no order #${o}.`, ...step.refused(o) });
      },
    },
    h("label", { for: reason.id, text: step.reason(o) }),
    reason,
    h("div", { class: "buttons" },
      h("button", { type: "submit", class: step.kind || "primary", text: step.submit(o) }),
      h("button", { type: "button", onClick: back, "aria-label": `Keep order #${o} as it is`, text: "Keep" })));
    replace(slot, confirm);
    reason.focus();
  }

  replace(slot, buttons());
  return h("section", { class: "action", "aria-labelledby": "order-h" },
    h("h3", { id: "order-h", text: "An order" }),
    id.el, slot, error, result);
}

document.getElementById("skip").addEventListener("click", (e) => {
  e.preventDefault();
  (main.querySelector("h1") || main).focus();
});
render();
