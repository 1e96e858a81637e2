// The customer's screens: restaurants, a menu with the cart, placing the
// order, the list of my orders (live, with unread messages), and the live
// order page.
import { h, replace, setChildren, announce, formatMoney, timeEl, orderLabel, plural } from "./dom.js";
import { explain } from "./errors.js";
import { newUUID } from "/client/ordercast.js";
import { merge, applyEvent, statusBadge, unreadBadge, restaurantByID, restaurantName } from "./order.js";
import { mountOrderView } from "./orderview.js";
import { createEtaPanel } from "./eta.js";
import { notifyPanel } from "./notify.js";
import { shareBox } from "./share.js";

export const routes = [
  { path: "/", view: restaurants },
  { path: "/restaurants/:id", view: menu },
  { path: "/orders", view: myOrders },
  { path: "/orders/:id", view: orderPage },
];

export const nav = [
  { href: "#/", label: "Restaurants" },
  { href: "#/orders", label: "My orders" },
];

// The cart lives in sessionStorage with the tab's session: one restaurant
// at a time, and the Idempotency-Key of the last attempt to place it. A
// retry of the same cart (same body) sends the same key, so that a lost
// answer or a second click never places two orders.
const CART_KEY = "ordercast.cart";

function loadCart() {
  try {
    return JSON.parse(sessionStorage.getItem(CART_KEY)) || null;
  } catch {
    return null;
  }
}

function saveCart(cart) {
  if (cart && cart.lines.length) sessionStorage.setItem(CART_KEY, JSON.stringify(cart));
  else sessionStorage.removeItem(CART_KEY);
}

async function restaurants(ctx) {
  ctx.setTitle("Restaurants");
  const heading = h("h1", { tabindex: -1, text: "Restaurants" });
  replace(ctx.main, heading, h("p", { class: "muted", text: "Loading…" }));
  ctx.focus(heading);
  let list;
  try {
    ({ restaurants: list } = await ctx.session.api("GET", "/restaurants"));
  } catch (err) {
    if (ctx.alive()) replace(ctx.main, heading, h("p", { class: "error", role: "alert", text: explain(err) }));
    return;
  }
  if (!ctx.alive()) return;
  const cart = loadCart();
  replace(ctx.main, heading,
    cart ? h("p", { class: "notice" }, `Your cart holds ${plural(count(cart), "item")} from ${cart.restaurantName}. `,
      h("a", { href: `#/restaurants/${cart.restaurantId}`, text: "Go to the cart" })) : null,
    list.length
      ? h("ul", { class: "tiles" }, list.map((r) => h("li", { class: "card tile" },
        h("h2", {}, h("a", { href: `#/restaurants/${r.id}`, text: r.name })))))
      : h("p", { text: "No restaurants yet." }));
}

function count(cart) {
  return cart.lines.reduce((n, l) => n + l.quantity, 0);
}

async function menu(ctx) {
  const { session } = ctx;
  const rid = ctx.params.id;
  const heading = h("h1", { tabindex: -1, text: "Menu" });
  replace(ctx.main, heading, h("p", { class: "muted", text: "Loading…" }));
  let restaurant, items;
  try {
    [restaurant, { items }] = await Promise.all([restaurantByID(session, rid), session.api("GET", `/restaurants/${rid}/menu`)]);
  } catch (err) {
    if (ctx.alive()) replace(ctx.main, heading, h("p", { class: "error", role: "alert", text: explain(err) }));
    return;
  }
  if (!ctx.alive()) return;
  const name = restaurant ? restaurant.name : `Restaurant ${rid}`;
  heading.textContent = name;
  ctx.setTitle(name);

  let cart = loadCart();
  if (cart && String(cart.restaurantId) !== String(rid)) cart = null; // another restaurant's cart stays for its page
  const cartBox = h("div");
  const cartHeading = h("h2", { id: "cart-h", tabindex: -1, text: "Your cart" });
  const address = h("input", { id: "address", type: "text", autocomplete: "street-address", required: true, maxlength: 500 });
  const notes = h("textarea", { id: "notes", rows: 2, maxlength: 500 });
  const placeButton = h("button", { type: "submit", class: "primary", text: "Place order" });
  const error = h("p", { class: "error", role: "alert" });
  const checkout = h("form", { class: "checkout", onSubmit: place },
    h("div", { class: "field" }, h("label", { for: "address", text: "Delivery address" }), address),
    h("div", { class: "field" }, h("label", { for: "notes", text: "Notes for the restaurant (optional)" }), notes),
    placeButton, error);
  let placing = false;

  function change(item, delta) {
    if (!cart || String(cart.restaurantId) !== String(rid)) {
      const other = loadCart();
      if (other && delta > 0) announce(`Your cart from ${other.restaurantName} was replaced.`);
      cart = { restaurantId: rid, restaurantName: name, lines: [], attempt: null };
    }
    let line = cart.lines.find((l) => String(l.id) === String(item.id));
    if (!line) cart.lines.push((line = { id: item.id, name: item.name, price_cents: item.price_cents, quantity: 0 }));
    line.quantity = Math.max(0, Math.min(99, line.quantity + delta));
    cart.lines = cart.lines.filter((l) => l.quantity > 0);
    saveCart(cart);
    drawCart();
    announce(`${item.name}: ${line.quantity} in the cart`);
  }

  // drawCart draws the cart anew. The − or + just pressed is replaced by
  // its copy, so the focus goes to the copy (to the cart's heading if its
  // line is gone): a keyboard user can press it again, and is not sent
  // back to the top of the page.
  function drawCart() {
    const was = cartBox.contains(document.activeElement) && document.activeElement.getAttribute("aria-label");
    const lines = cart ? cart.lines : [];
    const total = lines.reduce((s, l) => s + l.price_cents * l.quantity, 0);
    replace(cartBox, lines.length
      ? [h("ul", { class: "lines" }, lines.map((l) => h("li", {},
        h("span", { class: "qty" },
          h("button", { type: "button", class: "small", "aria-label": `Remove one ${l.name}`, onClick: () => change(l, -1), text: "−" }),
          h("span", { text: `${l.quantity} ×` }),
          h("button", { type: "button", class: "small", "aria-label": `Add one more ${l.name}`, onClick: () => change(l, 1), text: "+" })),
        h("span", { class: "grow", text: l.name }),
        h("span", { text: formatMoney(l.price_cents * l.quantity) })))),
      h("p", { class: "total" }, h("span", { text: "Total" }), h("strong", { text: formatMoney(total) })),
      checkout]
      : h("p", { class: "muted", text: "Your cart is empty. Add something from the menu." }));
    if (was) ([...cartBox.querySelectorAll("button")].find((b) => b.getAttribute("aria-label") === was) || cartHeading).focus();
  }

  async function place(e) {
    e.preventDefault();
    if (placing) return; // a second click while the first is under way
    const where = address.value.trim();
    if (!where) { error.textContent = "Please enter the delivery address."; address.focus(); return; }
    const body = {
      restaurant_id: rid,
      items: cart.lines.map((l) => ({ menu_item_id: l.id, quantity: l.quantity })),
      delivery_address: where,
    };
    if (notes.value.trim()) body.notes = notes.value.trim();
    const text = JSON.stringify(body);
    if (!cart.attempt || cart.attempt.body !== text) cart.attempt = { body: text, key: newUUID() };
    saveCart(cart);
    placing = true;
    placeButton.disabled = true;
    placeButton.textContent = "Placing order…";
    error.textContent = "";
    try {
      const order = await session.api("POST", "/orders", body, { headers: { "Idempotency-Key": cart.attempt.key } });
      saveCart(null);
      announce(`${orderLabel(order.id)} placed`);
      ctx.navigate(`#/orders/${order.id}`);
    } catch (err) {
      if (err.code === "idempotency_mismatch") cart.attempt = null;
      saveCart(cart);
      error.textContent = explain(err);
      placeButton.textContent = "Place order";
    } finally {
      placing = false;
      placeButton.disabled = false;
    }
  }

  replace(ctx.main,
    h("div", { class: "page-head" }, heading, h("a", { class: "back", href: "#/", text: "All restaurants" })),
    h("div", { class: "split" },
      h("section", { class: "card", "aria-labelledby": "menu-h" },
        h("h2", { id: "menu-h", text: "Menu" }),
        items.length
          ? h("ul", { class: "menu" }, items.map((item) => h("li", { class: item.available ? "" : "unavailable" },
            h("span", { class: "grow" }, h("strong", { text: item.name })),
            h("span", { text: formatMoney(item.price_cents) }),
            item.available
              ? h("button", { type: "button", onClick: () => change(item, 1), "aria-label": `Add ${item.name} to the cart`, text: "Add" })
              : h("span", { class: "muted", text: "Not available" }))))
          : h("p", { class: "muted", text: "This restaurant has no menu yet." })),
      h("section", { class: "card cart", "aria-labelledby": "cart-h" }, cartHeading, cartBox)));
  drawCart();
  ctx.focus(heading);
}

// orderPage is the live order page with the estimate and the opt-in to
// notifications of it.
function orderPage(ctx) {
  return mountOrderView(ctx, {
    panel: createEtaPanel(),
    extra: (order) => [
      shareBox(ctx.session, order),
      notifyPanel(ctx.session, "Get a notification when your order moves or someone writes to you, while the app is closed."),
    ],
  });
}

async function myOrders(ctx) {
  const { session, rt } = ctx;
  const me = session.user;
  ctx.setTitle("My orders");
  const heading = h("h1", { tabindex: -1, text: "My orders" });
  const list = h("ul", { class: "orders" });
  const empty = h("p", { hidden: true }, "No orders yet. ", h("a", { href: "#/", text: "Find a restaurant" }));
  const error = h("p", { class: "error", role: "alert" });
  const more = h("button", { type: "button", hidden: true, text: "Show older orders" });
  replace(ctx.main, heading, error, list, empty, more);
  ctx.focus(heading);

  const orders = new Map();
  let cursor = "";
  const rows = new Map(); // id → {li, update(order)}

  function row(o) {
    const status = h("span");
    const unread = h("span");
    const place = h("span", { class: "muted", text: o.restaurant_name || "" });
    const li = h("li", { class: "card order-row" },
      h("a", { href: `#/orders/${o.id}`, class: "order-link", text: orderLabel(o.id) }),
      place, status, h("span", { class: "muted" }, timeEl(o.created_at)), h("span", { text: formatMoney(o.total_cents) }), unread);
    if (!o.restaurant_name) restaurantName(session, o.restaurant_id).then((n) => { place.textContent = n; }, () => {});
    return {
      li,
      update(cur) {
        replace(status, statusBadge(cur.status));
        replace(unread, cur.unread ? unreadBadge(cur.unread) : null);
      },
    };
  }

  function draw() {
    const sorted = [...orders.values()].sort((a, b) => Number(b.id) - Number(a.id));
    for (const o of sorted) {
      let r = rows.get(o.id);
      if (!r) rows.set(o.id, (r = row(o)));
      r.update(o);
    }
    setChildren(list, sorted.map((o) => rows.get(o.id).li));
    empty.hidden = sorted.length > 0;
  }

  const sub = rt.subscribe(`user:${me.id}`, {
    onEvent: (f) => { if (applyEvent(orders, f, me)) draw(); },
    onResync: (l) => { for (const o of l) merge(orders, o); draw(); },
  });
  ctx.onCleanup(() => sub.unsubscribe());
  // A page of the listing, newest first; the next one on request.
  async function load() {
    more.disabled = true;
    try {
      const page = await session.api("GET", `/orders${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`);
      if (!ctx.alive()) return;
      for (const o of page.orders) merge(orders, o);
      cursor = page.next_cursor || "";
      more.hidden = !cursor;
      draw();
    } catch (err) {
      if (ctx.alive()) error.textContent = explain(err);
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", load);
  await load();
}
