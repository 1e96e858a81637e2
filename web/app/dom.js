// Small DOM helpers shared by every screen: building elements, the page's
// live announcer, and formatting of money, times and ids.

// h builds an element. props: class, text, on{Event} handlers, boolean
// and value properties (hidden, disabled, checked, value), and any other
// key as an attribute (aria-*, data-*, for, type...). Children are nodes,
// strings, or arrays of them; null and false are skipped.
export function h(tag, props = {}, ...children) {
  const el = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key in PROPERTIES) el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

const PROPERTIES = { hidden: 1, disabled: 1, checked: 1, value: 1, selected: 1, required: 1 };

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

// replace puts children in place of everything el held.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// setChildren makes nodes the children of el, in order, touching the DOM
// only if they differ: a node taken out and put back loses the focus.
export function setChildren(el, nodes) {
  const now = el.children;
  if (now.length === nodes.length && nodes.every((n, i) => now[i] === n)) return;
  el.replaceChildren(...nodes);
}

// Long enough for a screen reader to notice the live region was emptied.
const ANNOUNCE_DELAY_MS = 50;

// announce speaks text through the page's polite live region. The text is
// cleared first so that the same words said twice are announced twice. A
// timer, not requestAnimationFrame: frames do not run in a background tab
// (a restaurant's tablet), which would hold every announcement until the
// tab is shown and then let the last overwrite the others.
export function announce(text) {
  const el = document.getElementById("announcer");
  if (!el) return;
  el.textContent = "";
  setTimeout(() => { el.textContent = text; }, ANNOUNCE_DELAY_MS);
}

const money = new Intl.NumberFormat("en", { style: "currency", currency: "EUR" });

export function formatMoney(cents) {
  return money.format((cents || 0) / 100);
}

// parseMoney reads "12.5", "12,50" or "€12.50" as cents; NaN if it is not
// a price.
export function parseMoney(text) {
  const clean = String(text).trim().replace(/^€\s*/, "").replace(",", ".");
  if (!/^\d+(\.\d{1,2})?$/.test(clean)) return NaN;
  return Math.round(parseFloat(clean) * 100);
}

const clock = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const day = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

// formatTime shows a time of today as 14:03:07 and an older one with its day.
export function formatTime(t) {
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) return "";
  return d.toDateString() === new Date().toDateString() ? clock.format(d) : day.format(d);
}

export function timeEl(t) {
  const d = new Date(t);
  return h("time", { datetime: Number.isNaN(d.getTime()) ? null : d.toISOString(), text: formatTime(d) });
}


export function orderLabel(id) {
  return `Order #${id}`;
}

// plural: plural(2, "item") is "2 items".
export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
