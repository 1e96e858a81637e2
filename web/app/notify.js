// The notifications opt-in (docs/push.md): with the person's permission,
// the service worker /sw.js is registered at the site's root, subscribed
// to the browser's push service with the server's VAPID key (GET
// /push/key), and the subscription given to the server (POST
// /push/subscriptions); turning it off, or signing out, takes it back
// (DELETE). Whatever the browser or server cannot do is said in words,
// and the rest of the page works as before.
import { h } from "./dom.js";
import { explain } from "./errors.js";

const SW_URL = "/sw.js";
const SCOPE = "/";
// The id of the user who turned notifications on in this browser: the
// browser's subscription outlives a session that ended without a sign-out,
// and is registered again on page open only for that user.
const OWNER_KEY = "ordercast.push.user";

const WORDS = {
  unsupported: "This browser cannot show notifications from a web page.",
  insecure: "Notifications need a secure (https) connection to this site.",
  noKey: "Notifications are not set up on this server.",
  denied: "Notifications are blocked for this site. Allow them in the browser's site settings, then press the button again.",
  dismissed: "Notifications were not allowed. Press the button again to be asked again.",
  pushFailed: "This browser's push service could not be reached, so notifications cannot be turned on here.",
  on: "Notifications are on for this browser: you hear of your orders while the app is closed.",
  off: "Notifications are off.",
};

// supported says why this browser cannot take pushes, or "" if it can.
function unsupported() {
  if (!window.isSecureContext) return WORDS.insecure;
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return WORDS.unsupported;
  return "";
}

async function currentSubscription() {
  const reg = await navigator.serviceWorker.getRegistration(SCOPE);
  return reg ? reg.pushManager.getSubscription() : null;
}

// keyBytes decodes the server's base64url public key for subscribe().
function keyBytes(b64url) {
  const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(b64url.length / 4) * 4, "=");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

// notifyPanel is the opt-in: a button that turns notifications on or off
// for this browser and a status line that says where things stand. about
// says what the notifications are of.
export function notifyPanel(session, about) {
  const button = h("button", { type: "button", text: "Turn on notifications" });
  const status = h("p", { class: "muted notify-status", role: "status" });
  const el = h("div", { class: "notify" }, h("p", { class: "hint", text: about }), button, status);
  let on = false;
  let busy = false;

  function show(isOn, text) {
    on = isOn;
    button.textContent = on ? "Turn off notifications" : "Turn on notifications";
    status.textContent = text;
  }

  // turnOn runs under one deadline: a browser may never answer the
  // service worker's start or its push service.
  async function turnOn() {
    let key;
    try {
      ({ public_key: key } = await session.api("GET", "/push/key"));
    } catch (err) {
      return show(false, err.code === "not_found" ? WORDS.noKey : explain(err));
    }
    // Asked only on the button's press: browsers refuse prompts a page
    // makes by itself.
    const permission = await Notification.requestPermission();
    if (permission === "denied") return show(false, WORDS.denied);
    if (permission !== "granted") return show(false, WORDS.dismissed);
    let sub;
    try {
      sub = await withDeadline(subscribe(key));
    } catch (err) {
      console.warn("push subscribe", err.name, err.message);
      return show(false, WORDS.pushFailed);
    }
    try {
      await session.api("POST", "/push/subscriptions", sub.toJSON());
    } catch (err) {
      await sub.unsubscribe().catch(() => {}); // the server will not push to it: nothing is on
      return show(false, explain(err));
    }
    localStorage.setItem(OWNER_KEY, String(session.user.id));
    show(true, WORDS.on);
  }

  async function turnOff() {
    try {
      await forgetSubscription(session, true);
    } catch (err) {
      return show(true, explain(err));
    }
    show(false, WORDS.off);
  }

  button.addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    // aria-disabled, not disabled: a disabled button drops the keyboard's
    // focus to the page's body; busy keeps a second press out.
    button.setAttribute("aria-disabled", "true");
    status.textContent = on ? "Turning notifications off…" : "Turning notifications on…";
    // The status line is a live region (role=status): it says the
    // outcome itself, and nothing else announces it a second time.
    try {
      await (on ? turnOff() : turnOn());
    } finally {
      busy = false;
      button.removeAttribute("aria-disabled");
    }
  });

  // Where things stand when the page opens. A subscription the browser
  // still holds is registered again (the server keeps it fresh) only if
  // this user turned it on: registering moves an endpoint to whoever is
  // signed in, and another user's, left by a session that ended without a
  // sign-out, is not this one's to take. It stays as it is: that user may
  // still be signed in in another tab.
  const why = unsupported();
  if (why) {
    button.hidden = true;
    status.textContent = why;
  } else if (Notification.permission === "denied") {
    status.textContent = WORDS.denied;
  } else {
    currentSubscription().then(async (sub) => {
      if (busy) return;
      if (!sub || !ownedBy(session)) return show(false, WORDS.off);
      await session.api("POST", "/push/subscriptions", sub.toJSON());
      if (!busy) show(true, WORDS.on);
    }).catch((err) => console.warn("push state", err.name, err.message));
  }
  return el;
}

// subscribe registers the service worker and gives its subscription with
// the server's key (base64url), the one the browser holds if it has it.
async function subscribe(key) {
  const reg = await navigator.serviceWorker.register(SW_URL, { scope: SCOPE, type: "classic" });
  await navigator.serviceWorker.ready;
  const sub = await reg.pushManager.getSubscription();
  if (sub && sameKey(sub, key)) return sub;
  if (sub) await sub.unsubscribe(); // made with a key the server no longer has
  return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
}

// ownedBy: did the user signed in turn on the browser's subscription?
function ownedBy(session) {
  return localStorage.getItem(OWNER_KEY) === String(session.user.id);
}

// A browser whose service worker does not start, or whose push service
// cannot be reached, may not answer at all: after this long the person is
// told so.
const SUBSCRIBE_DEADLINE_MS = 20_000;

function withDeadline(p) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new DOMException("no answer from the push service", "TimeoutError")), SUBSCRIBE_DEADLINE_MS);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

// sameKey: was sub made with the server's key (base64url)?
function sameKey(sub, key) {
  const had = sub.options && sub.options.applicationServerKey;
  if (!had) return false;
  const want = keyBytes(key);
  const got = new Uint8Array(had);
  return got.length === want.length && got.every((b, i) => b === want[i]);
}

// forgetSubscription takes this browser's subscription back from the
// server and the push service. strict: a failure of the server's DELETE
// is thrown (the person asked); else (a sign-out) it is only logged.
async function forgetSubscription(session, strict) {
  const sub = await currentSubscription();
  if (!sub) return;
  localStorage.removeItem(OWNER_KEY);
  try {
    await session.api("DELETE", "/push/subscriptions", { endpoint: sub.endpoint });
  } catch (err) {
    if (strict && err.code !== "not_found") throw err; // not_found: the server had dropped it already
    console.warn("push unsubscribe", err.code);
  }
  await sub.unsubscribe();
}

// forgetPush is for the sign-out: the next person at this browser gets
// none of this one's notifications. Another user's subscription is left
// alone (it is not this one's to delete on the server).
export async function forgetPush(session) {
  if (unsupported() || !ownedBy(session)) return;
  await forgetSubscription(session, false).catch((err) => console.warn("push forget", err.name, err.message));
}

// followNotificationClicks lets the service worker bring an open tab to
// the order of a clicked notification (sw.js): the page moves by its hash,
// keeping its socket.
export function followNotificationClicks() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.addEventListener("message", (e) => {
    if (!e.data || e.data.type !== "open") return;
    let url;
    try {
      url = new URL(e.data.url);
    } catch {
      return;
    }
    if (url.origin === location.origin) location.hash = url.hash || "#/";
  });
}
