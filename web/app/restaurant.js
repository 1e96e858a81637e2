// The restaurant's screens: the live board of its orders by status (new
// ones appear with a title badge and a short sound that can be muted), the
// order page with its chat, and the menu editor.
import { h, replace, setChildren, announce, formatMoney, parseMoney, timeEl, orderLabel } from "./dom.js";
import { explain } from "./errors.js";
import { FINAL, merge, applyEvent, snapshotOf, courierText, itemsSummary, unreadBadge } from "./order.js";
import { setActions } from "./actions.js";
import { mountOrderView } from "./orderview.js";
import { createEtaState, boardWords } from "./eta.js";

export const routes = [
  { path: "/", view: board },
  { path: "/menu", view: menuEditor },
  { path: "/orders/:id", view: (ctx) => mountOrderView(ctx) },
];

export const nav = [
  { href: "#/", label: "Orders" },
  { href: "#/menu", label: "Menu" },
];

const COLUMNS = [
  { title: "New", statuses: ["placed"] },
  { title: "Accepted", statuses: ["accepted"] },
  { title: "Preparing", statuses: ["preparing"] },
  { title: "Ready", statuses: ["ready"] },
  { title: "On the way", statuses: ["picked_up"] },
  { title: "Done", statuses: ["delivered", "rejected", "cancelled"], limit: 10 },
];
// Open orders whose channels the board follows for their chat (the
// restaurant's feed carries the orders' changes, with their couriers, but
// no chat); the server allows 64 subscriptions per connection.
const MAX_WATCHED = 50;
const MUTED_KEY = "ordercast.muted";

async function board(ctx) {
  const { session, rt } = ctx;
  const me = session.user;
  const orders = new Map();
  const cards = new Map(); // id → {li, seq}
  const watched = new Map(); // id → subscription of order:{id}
  const etas = createEtaState(); // the courier's way and arrival, from the feed
  const heading = h("h1", { tabindex: -1, text: "Orders" });
  const muteButton = h("button", { type: "button", class: "toggle", "aria-pressed": String(isMuted()), text: "Mute sound" });
  muteButton.addEventListener("click", () => {
    const muted = !isMuted();
    localStorage.setItem(MUTED_KEY, muted ? "1" : "");
    muteButton.setAttribute("aria-pressed", String(muted));
    announce(muted ? "Sound muted" : "Sound on");
  });
  const error = h("p", { class: "error", role: "alert" });
  const columns = COLUMNS.map((c) => {
    const list = h("ul", { class: "column-list" });
    const id = `col-${c.statuses[0]}`;
    const heading = h("h2", { id, text: c.title });
    return { ...c, heading, list, el: h("section", { class: "column", "aria-labelledby": id }, heading, list) };
  });
  replace(ctx.main,
    h("div", { class: "page-head" }, heading, h("div", { class: "toolbar" }, muteButton)),
    error,
    h("div", { class: "board" }, columns.map((c) => c.el)));
  ctx.focus(heading);

  // cardBody is all of a card but its action bar, which setActions keeps
  // while it asks for a reason.
  function cardBody(o) {
    const unread = o.unread ? unreadBadge(o.unread) : null;
    const open = !FINAL.has(o.status);
    return [
      h("div", { class: "card-head" },
        h("h3", {}, h("a", { href: `#/orders/${o.id}`, text: orderLabel(o.id) })), unread, timeEl(o.created_at)),
      h("p", { text: itemsSummary(o) }),
      h("p", {}, h("strong", { text: formatMoney(o.total_cents) }), " · ", o.delivery_address),
      o.notes ? h("p", { class: "muted" }, "Notes: ", o.notes) : null,
      o.reason ? h("p", { class: "muted" }, "Reason: ", o.reason) : null,
      open && o.status !== "placed" ? h("p", { class: "muted courier", text: courierText(o) }) : null,
    ];
  }

  function newCard(o) {
    const body = h("div");
    const actions = h("div");
    // Kept across redraws of the card, so that its live region speaks
    // only when its words change.
    const eta = h("p", { class: "eta-line", "aria-live": "polite" });
    return { li: h("li", { class: "card order-card", "data-order": o.id }, body, eta, actions), body, eta, etaText: "", actions, seq: -1 };
  }

  function drawEta(entry, o) {
    const words = h("span", {}, boardWords(etas, o));
    if (words.textContent === entry.etaText) return;
    entry.etaText = words.textContent;
    replace(entry.eta, words.textContent ? words : null);
  }

  // draw puts every order in its column, rebuilding only the cards whose
  // order changed; focused is the order acted on, whose card gets the
  // focus back (its buttons were replaced).
  function draw(focused) {
    for (const c of columns) {
      const mine = [...orders.values()].filter((o) => c.statuses.includes(o.status)).sort((a, b) => Number(b.id) - Number(a.id));
      const shown = c.limit ? mine.slice(0, c.limit) : mine;
      for (const o of shown) {
        let entry = cards.get(o.id);
        if (!entry) cards.set(o.id, (entry = newCard(o)));
        if (entry.seq !== o.seq || entry.unread !== o.unread) {
          const hadFocus = entry.li.contains(document.activeElement);
          replace(entry.body, cardBody(o));
          setActions(entry.actions, session, o, { onChange: (u) => { if (merge(orders, u)) draw(u.id); } });
          entry.seq = o.seq;
          entry.unread = o.unread;
          // A kept reason form keeps its focus; a rebuilt part gives it back.
          if (hadFocus && !entry.li.contains(document.activeElement) && !focused) focused = o.id;
        }
        drawEta(entry, o);
        entry.li.classList.toggle("fresh", o.status === "placed");
      }
      setChildren(c.list, shown.map((o) => cards.get(o.id).li));
      c.heading.textContent = `${c.title} (${mine.length})`;
    }
    if (focused && cards.has(focused)) {
      const li = cards.get(focused).li;
      (li.querySelector(".actions button") || li.querySelector("a")).focus();
    }
    const fresh = [...orders.values()].filter((o) => o.status === "placed").length;
    ctx.setTitle("Orders", fresh);
    follow();
  }

  // follow keeps a subscription to each open order's channel, for its
  // chat messages (unread badges) and read marks.
  function follow() {
    const open = [...orders.values()].filter((o) => !FINAL.has(o.status)).sort((a, b) => Number(b.id) - Number(a.id)).slice(0, MAX_WATCHED);
    const want = new Set(open.map((o) => o.id));
    for (const [id, sub] of watched) if (!want.has(id)) { if (sub) sub.unsubscribe(); watched.delete(id); }
    for (const o of open) {
      if (watched.has(o.id)) continue;
      // A refused channel stays in the map (as null): it is not asked for again.
      watched.set(o.id, rt.subscribe(`order:${o.id}`, { since: o.seq, onEvent: (f) => { if (applyEvent(orders, f, me)) draw(); }, onError: () => watched.set(o.id, null) }));
    }
  }
  ctx.onCleanup(() => { for (const sub of watched.values()) if (sub) sub.unsubscribe(); });

  function onFeedEvent(f) {
    if (etas.event(f.event, f.data)) {
      const o = orders.get(String(f.data.order_id));
      if (o && cards.has(o.id)) drawEta(cards.get(o.id), o);
      return;
    }
    if (!f.data || !f.data.id) return;
    const o = snapshotOf(f.event, f.data);
    if (!merge(orders, o)) return;
    if (f.event === "order.created") {
      announce(`New order: ${orderLabel(o.id)}, ${itemsSummary(o)}`);
      beep();
    } else if (f.event === "order.assigned" || f.event === "order.unassigned") {
      announce(`${orderLabel(o.id)}: ${courierText(o)}`);
    }
    draw();
  }

  const feed = rt.subscribe(`restaurant:${me.restaurant_id}`, {
    onEvent: onFeedEvent,
    onResync: (list) => {
      const before = new Set(orders.keys());
      for (const o of list) { merge(orders, o); etas.order(o); }
      if (list.some((o) => o.status === "placed" && !before.has(o.id))) beep();
      draw();
    },
    onError: (err) => { error.textContent = explain(err); },
  });
  ctx.onCleanup(() => feed.unsubscribe());
  try {
    const { orders: list } = await session.api("GET", "/orders?limit=100");
    if (!ctx.alive()) return;
    for (const o of list) { merge(orders, o); etas.order(o); }
    draw();
  } catch (err) {
    if (ctx.alive()) error.textContent = explain(err);
  }
}

function isMuted() {
  return localStorage.getItem(MUTED_KEY) === "1";
}

let audio = null;

// beep plays a short two-tone chime, unless muted or the page has had no
// user gesture yet (browsers refuse sound before one).
function beep() {
  if (isMuted() || !(navigator.userActivation && navigator.userActivation.hasBeenActive)) return;
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
    const t = audio.currentTime;
    const gain = audio.createGain();
    gain.connect(audio.destination);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.2, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.35);
    for (const [freq, at] of [[880, 0], [1175, 0.12]]) {
      const osc = audio.createOscillator();
      osc.frequency.value = freq;
      osc.connect(gain);
      osc.start(t + at);
      osc.stop(t + 0.35);
    }
  } catch (err) {
    console.warn("no sound", err); // a board without sound still works
  }
}

async function menuEditor(ctx) {
  const { session } = ctx;
  const rid = session.user.restaurant_id;
  ctx.setTitle("Menu");
  const heading = h("h1", { tabindex: -1, text: "Menu" });
  const list = h("ul", { class: "menu" });
  const listError = h("p", { class: "error", role: "alert" });
  const nameInput = h("input", { id: "item-name", type: "text", required: true, maxlength: 100, autocomplete: "off" });
  const priceInput = h("input", { id: "item-price", type: "text", inputmode: "decimal", required: true, autocomplete: "off", "aria-describedby": "item-price-hint" });
  const addError = h("p", { class: "error", role: "alert" });
  const addButton = h("button", { type: "submit", class: "primary", text: "Add item" });
  const form = h("form", { class: "add-item", onSubmit: add },
    h("div", { class: "field" }, h("label", { for: "item-name", text: "Item name" }), nameInput),
    h("div", { class: "field" }, h("label", { for: "item-price", text: "Price" }), priceInput,
      h("p", { id: "item-price-hint", class: "hint", text: "In euros, for example 12.50" })),
    addButton, addError);
  replace(ctx.main, heading,
    h("div", { class: "split" },
      h("section", { class: "card", "aria-labelledby": "items-h" }, h("h2", { id: "items-h", text: "Items" }), listError, list),
      h("section", { class: "card", "aria-labelledby": "add-h" }, h("h2", { id: "add-h", text: "Add an item" }), form)));
  ctx.focus(heading);

  let items = [];
  function draw() {
    list.replaceChildren(...items.map((item) => h("li", { class: item.available ? "" : "unavailable" },
      h("span", { class: "grow" }, h("strong", { text: item.name })),
      h("span", { text: formatMoney(item.price_cents) }),
      h("span", { class: "muted", text: item.available ? "Available" : "Not available" }),
      h("button", {
        type: "button", onClick: () => setAvailable(item, !item.available),
        text: item.available ? "Mark unavailable" : "Mark available",
        "aria-label": `${item.available ? "Mark unavailable" : "Mark available"}: ${item.name}`,
      }))));
    if (!items.length) list.replaceChildren(h("li", { class: "muted", text: "No items yet. Add the first one." }));
  }

  async function setAvailable(item, available) {
    listError.textContent = "";
    try {
      const updated = await session.api("PATCH", `/restaurants/${rid}/menu/${item.id}`, { available });
      items = items.map((i) => (i.id === updated.id ? updated : i));
      draw();
      announce(`${updated.name} is ${updated.available ? "available" : "not available"}`);
      const again = [...list.querySelectorAll("button")].find((b) => b.getAttribute("aria-label").endsWith(`: ${updated.name}`));
      if (again) again.focus();
    } catch (err) {
      listError.textContent = explain(err);
    }
  }

  async function add(e) {
    e.preventDefault();
    if (addButton.disabled) return;
    const name = nameInput.value.trim();
    const cents = parseMoney(priceInput.value);
    addError.textContent = "";
    if (!name) { addError.textContent = "Please give the item a name."; nameInput.focus(); return; }
    if (!Number.isFinite(cents)) { addError.textContent = "Price: write it in euros, for example 12.50."; priceInput.focus(); return; }
    addButton.disabled = true;
    try {
      const item = await session.api("POST", `/restaurants/${rid}/menu`, { name, price_cents: cents });
      items.push(item);
      draw();
      announce(`${item.name} added to the menu`);
      nameInput.value = "";
      priceInput.value = "";
      nameInput.focus();
    } catch (err) {
      addError.textContent = explain(err);
    } finally {
      addButton.disabled = false;
    }
  }

  try {
    ({ items } = await session.api("GET", `/restaurants/${rid}/menu`));
    if (ctx.alive()) draw();
  } catch (err) {
    if (ctx.alive()) listError.textContent = explain(err);
  }
}
