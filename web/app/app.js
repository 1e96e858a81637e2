// The app shell: one session and one realtime connection for the page,
// hash routes per role, the navigation, the connection banner, and the
// title. Each screen is a function of a context (ctx) that draws into
// <main> and registers what to undo when the page changes.
import { Realtime } from "/client/ordercast.js";
import { h, replace, announce } from "./dom.js";
import * as auth from "./auth.js";
import { showConnection } from "./banner.js";
import { forgetPush, followNotificationClicks } from "./notify.js";
import * as customer from "./customer.js";
import * as restaurant from "./restaurant.js";
import * as courier from "./courier.js";

const SCREENS = { customer, restaurant, courier };

const session = auth.openSession();
let rt = null;
let current = null; // the mounted screen's {cleanups, controller}
let signingOut = false;

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const account = document.getElementById("account");

// parseHash reads "#/orders/5?x=1" as {path: "/orders/5", query: {x: "1"}}.
function parseHash() {
  const raw = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
  const [path, search = ""] = raw.split("?");
  return { path: path.replace(/\/+$/, "") || "/", query: Object.fromEntries(new URLSearchParams(search)) };
}

// What each route parameter may be. Ids go into API paths, so only a
// plain number passes: "1%2F..%2Fme" must not reach /orders/1/../me. A
// parameter without a pattern here matches nothing.
const PARAMS = { id: /^[1-9][0-9]*$/ };

// match finds the route of path and its parameters, or null: a part that
// does not decode (a malformed "%E0") or fails its pattern is not found.
function match(routes, path) {
  const parts = path.split("/");
  for (const route of routes) {
    const want = route.path.split("/");
    if (want.length !== parts.length) continue;
    const params = {};
    if (want.every((w, i) => (w.startsWith(":") ? param(params, w.slice(1), parts[i]) : w === parts[i]))) {
      return { route, params };
    }
  }
  return null;
}

function param(params, name, raw) {
  let value;
  try {
    value = decodeURIComponent(raw);
  } catch {
    return false; // URIError: not a page of ours
  }
  if (!PARAMS[name] || !PARAMS[name].test(value)) return false;
  params[name] = value;
  return true;
}

function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function setTitle(page, badge = 0) {
  document.title = `${badge ? `(${badge}) ` : ""}${page} · ordercast`;
}

function unmount() {
  if (!current) return;
  current.controller.abort();
  for (const fn of current.cleanups.reverse()) {
    try { fn(); } catch (err) { console.error(err); }
  }
  current = null;
}

async function render() {
  unmount();
  const { path, query } = parseHash();
  const cleanups = [];
  const controller = new AbortController();
  current = { cleanups, controller };
  const ctx = {
    session, rt, main, query, params: {},
    navigate, setTitle,
    alive: () => !controller.signal.aborted,
    onCleanup: (fn) => cleanups.push(fn),
    reload: render,
    focus: (el) => { if (focusOnRender) el.focus(); },
  };
  drawChrome(path);
  if (!session.signedIn) {
    await (path === "/signup" ? auth.signUp(ctx) : auth.signIn(ctx));
    return;
  }
  if (path === "/signin" || path === "/signup") {
    navigate("#/");
    return;
  }
  const screens = SCREENS[session.user.role];
  if (!screens) {
    replace(main, h("h1", { text: "Nothing here for this account" }),
      h("p", {}, "This app is for customers, restaurants and couriers. Operators use ", h("a", { href: "/ops", text: "the operator page" }), "."));
    return;
  }
  const found = match(screens.routes, path);
  if (!found) {
    setTitle("Not found");
    replace(main, h("h1", { tabindex: -1, text: "Page not found" }), h("p", {}, h("a", { href: "#/", text: "Go to the start page" })));
    return;
  }
  ctx.params = found.params;
  try {
    await found.route.view(ctx);
  } catch (err) {
    console.error(err);
    if (ctx.alive()) replace(main, h("h1", { text: "Something went wrong" }), h("p", { text: "Reload the page to try again." }));
  }
}

// Focus moves to a new screen's heading only after the person navigated,
// not on the first load (a screen reader then starts at the top anyway).
let focusOnRender = false;

function drawChrome(path) {
  const user = session.signedIn ? session.user : null;
  const links = user && SCREENS[user.role] ? SCREENS[user.role].nav : [];
  replace(nav, links.length ? h("ul", {}, links.map((l) => h("li", {},
    h("a", { href: l.href, "aria-current": isCurrent(l.href, path) ? "page" : null, text: l.label })))) : null);
  replace(account, user
    ? [h("span", { class: "who", text: `${user.name} (${user.role})` }),
      h("button", { type: "button", class: "link", onClick: signOut, text: "Sign out" })]
    : null);
}

function isCurrent(href, path) {
  const target = href.slice(1);
  return target === "/" ? path === "/" : path === target || path.startsWith(`${target}/`);
}

async function signOut() {
  signingOut = true;
  await forgetPush(session);
  try {
    await session.logout();
  } catch (err) {
    console.warn("logout", err); // the tokens are dropped anyway
  }
  signingOut = false;
}

function onSessionChange(e) {
  if (e.detail && e.detail.signedIn) {
    startRealtime();
    return;
  }
  if (!session.signedIn && rt) {
    stopRealtime();
    courier.stopSharing();
    const ended = !signingOut;
    navigate("#/signin");
    if (ended) auth.notice("Your session has ended. Please sign in again.");
    else announce("Signed out");
  }
}

function startRealtime() {
  if (rt) return;
  rt = new Realtime({ session });
  rt.addEventListener("state", (e) => showConnection(e.detail));
  rt.connect();
}

function stopRealtime() {
  rt.close();
  rt = null;
  showConnection({ name: "closed" });
}

document.getElementById("skip").addEventListener("click", (e) => {
  e.preventDefault();
  (main.querySelector("h1") || main).focus();
});
window.addEventListener("hashchange", () => { focusOnRender = true; render(); });
session.addEventListener("change", onSessionChange);
followNotificationClicks();
if (session.signedIn) startRealtime();
render();
