// API error codes (API.md's error table, the websocket's error frames and
// the client library's "network", "timeout" and "closed") in words a
// person understands. The server's message is used only where it names
// what to fix (a field of a form), how long to wait (a websocket
// rate_limited) or a courier's cap (too_many_active).

const WORDS = {
  network: "The server cannot be reached. Check your connection and try again.",
  timeout: "The server did not answer in time. Try again.",
  closed: "The connection to the server was closed. Reload the page to reconnect.",
  unauthorized: "Your session has ended. Please sign in again.",
  token_reused: "For your safety you were signed out. Please sign in again.",
  forbidden: "You are not allowed to do that.",
  not_found: "That no longer exists. It may have been removed.",
  conflict: "That changed somewhere else at the same moment. Try again.",
  invalid_transition: "The order has already moved on, so that step is no longer possible.",
  already_assigned: "Another courier took this order first.",
  too_many_active: tooManyActive,
  email_taken: "An account with this email already exists. Sign in instead.",
  precondition_failed: "The order changed meanwhile. Look at it again and retry.",
  too_large: "That is too long.",
  idempotency_mismatch: "This cart was already sent with other contents. Review the cart and place the order again.",
  chat_closed: "This chat is closed: the order ended over an hour ago.",
  unprocessable: "That cannot be done right now.",
  rate_limited: (err) => {
    const s = retryAfter(err);
    return s ? `Too many attempts — try again in ${s} s.` : "Too many attempts — try again in a moment.";
  },
  too_many_connections: (err) => {
    const s = retryAfter(err);
    return `This account is open in too many windows or devices at once. Close one, then try again${s ? ` in ${s} s` : ""}.`;
  },
  unavailable: "The service is busy right now.",
  internal: "Something went wrong on the server. Try again in a moment.",
  not_implemented: "The server does not offer that yet.",
  unsupported_media_type: "The app sent its request in a form the server does not take. Reload the page to get the current app.",
  method_not_allowed: "The app asked the server for something it does not offer. Reload the page to get the current app.",
  too_many_subscriptions: "Too many live views are open at once. Close some and reload.",
  bad_frame: "The app sent something the server did not understand. Reload the page.",
  unknown_type: "The app sent something the server did not understand. Reload the page.",
};

// Codes whose words already say when to try again.
const TIMED = new Set(["rate_limited", "too_many_connections"]);

// retryAfter is the seconds to wait before trying again: Retry-After on
// REST; an error frame of the websocket has no header, and the server
// names the wait at the end of its message instead ("…; retry in 3 s").
function retryAfter(err) {
  if (err.retryAfter) return err.retryAfter;
  const m = /retry in (\d+) s$/.exec(err.message || "");
  return m ? Number(m[1]) : null;
}

// tooManyActive words a claim beyond MAX_ACTIVE_PER_COURIER; the cap is
// the number in the server's message ("…holds at most 3 active orders").
function tooManyActive(err) {
  const m = /at most (\d+)/.exec(err.message || "");
  const rest = "Deliver one before you claim another.";
  if (!m) return `You already have as many active deliveries as a courier may hold. ${rest}`;
  const n = Number(m[1]);
  return `You already have ${n} active ${n === 1 ? "delivery" : "deliveries"}, as many as a courier may hold. ${rest}`;
}

// Field names of request bodies as a form labels them.
const FIELDS = {
  email: "Email",
  password: "Password",
  name: "Name",
  role: "Account type",
  restaurant_name: "Restaurant name",
  delivery_address: "Delivery address",
  notes: "Notes",
  items: "Cart",
  text: "Message",
  reason: "Reason",
  price_cents: "Price",
  status: "Status",
};

// explain turns an error from session.api or a realtime command into a
// sentence; overrides gives a screen's own words for some codes (a 401 on
// sign-in means a wrong password, not an ended session). Errors without a
// code (a bug in the app) get a generic sentence and go to the console.
export function explain(err, overrides = {}) {
  const code = err && err.code;
  if (overrides[code]) return overrides[code];
  if (code === "invalid") return invalidField(err.message);
  let text = typeof WORDS[code] === "function" ? WORDS[code](err) : WORDS[code];
  if (!text) {
    if (!code) console.warn("unexpected error", err);
    text = "Something went wrong. Try again in a moment.";
  }
  if (err && err.retryAfter && !TIMED.has(code)) text += ` Try again in ${err.retryAfter} s.`;
  return text;
}

// invalidField turns "password: at least 8 characters" into
// "Password: at least 8 characters."
function invalidField(message = "") {
  const m = /^([A-Za-z_\[\]0-9.-]+):\s*(.*)$/.exec(message);
  if (!m) return "Please check what you entered.";
  const field = m[1].replace(/\[\d+\]/g, "").split(".")[0];
  const label = FIELDS[field] || field.replace(/_/g, " ");
  const detail = m[2].replace(/\.$/, "");
  return `${label[0].toUpperCase()}${label.slice(1)}: ${detail}.`;
}

// fieldOf names the request field an invalid error is about, so that a
// form can mark that input; null when it names none.
export function fieldOf(err) {
  if (!err || err.code !== "invalid") return null;
  const m = /^([a-z_]+)/.exec(err.message || "");
  return m ? m[1] : null;
}
