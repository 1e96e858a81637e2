// An order's chat: its messages (the history from the order's events, then
// live), who is typing, how far the others have read, and the composer.
// Messages go out over the socket (rt.chat, queued while it is down and
// resent with the same client_msg_id), so a message is stored once.
import { h, replace, timeEl } from "./dom.js";
import { explain } from "./errors.js";
import { newUUID } from "/client/ordercast.js";

const ROLE = { customer: "Customer", restaurant: "Restaurant", courier: "Courier", admin: "Operator" };
const THE_ROLE = { customer: "the customer", restaurant: "the restaurant", courier: "the courier", admin: "the operator" };
const TYPING_SHOWN_MS = 3000; // senders repeat typing about every second while they type

// createChat returns {el, add(message), typing(data), read(data), setOpen(bool), seen()}.
// me is the signed-in user; a message is "mine" by author_id.
export function createChat({ rt, orderId, me }) {
  const list = h("ol", { class: "chat-list", role: "log", "aria-label": "Messages" });
  const empty = h("p", { class: "chat-empty muted", text: "No messages yet." });
  const typingLine = h("p", { class: "chat-typing", "aria-live": "polite" });
  const input = h("input", { id: `chat-${orderId}`, type: "text", autocomplete: "off", maxlength: 2000, required: true });
  const send = h("button", { type: "submit", class: "primary", text: "Send" });
  const closedNote = h("p", { class: "muted", hidden: true, text: "This chat is closed: the order ended over an hour ago." });
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "chat-form", onSubmit: submit },
    h("label", { for: input.id, text: "Message" }),
    h("div", { class: "chat-compose" }, input, send));
  const el = h("div", { class: "chat" }, list, empty, typingLine, form, closedNote, error);

  const messages = new Map(); // seq → {msg, node}
  const pending = new Map(); // client_msg_id → node
  const marks = {}; // role → highest seq read by that party (others only)
  const typingUntil = {}; // role → ms
  let typingTimer = 0;
  let readSent = 0;

  // The library sends at most one typing frame a second per order.
  input.addEventListener("input", () => {
    if (input.value.trim() === "") return;
    rt.typing(orderId).catch(() => {}); // best effort: a lost typing frame only hides an indicator
  });

  function submit(e) {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    error.textContent = "";
    sendMessage(text, newUUID());
  }

  function sendMessage(text, clientMsgId) {
    const state = h("span", { class: "chat-state", text: "Sending…" });
    const node = h("li", { class: "chat-msg mine pending" },
      h("p", { class: "chat-meta" }, h("strong", { text: "You" })),
      h("p", { class: "chat-text", text }), state);
    pending.set(clientMsgId, node);
    list.append(node);
    empty.hidden = true;
    list.scrollTop = list.scrollHeight;
    rt.chat(orderId, text, { clientMsgId }).then(
      () => { state.textContent = "Sent"; },
      (err) => {
        replace(state, `Not sent. ${explain(err)} `, h("button", {
          type: "button", class: "link", text: "Retry",
          onClick: () => { node.remove(); pending.delete(clientMsgId); sendMessage(text, clientMsgId); },
        }));
      });
  }

  function add(msg) {
    if (messages.has(msg.seq)) return;
    const own = pending.get(msg.client_msg_id);
    if (own && String(msg.author_id) === String(me.id)) {
      own.remove();
      pending.delete(msg.client_msg_id);
    }
    const mine = String(msg.author_id) === String(me.id);
    const node = h("li", { class: `chat-msg${mine ? " mine" : ""}`, "data-seq": msg.seq },
      h("p", { class: "chat-meta" }, h("strong", { text: mine ? "You" : ROLE[msg.author_role] || msg.author_role }), " ", timeEl(msg.created_at)),
      h("p", { class: "chat-text", text: msg.text }),
      mine ? h("span", { class: "chat-state" }) : null);
    messages.set(msg.seq, { msg, node });
    // Keep seq order: a message replayed after a reconnect may be older
    // than one already shown.
    const after = [...messages.values()].filter((m) => m.msg.seq > msg.seq).sort((a, b) => a.msg.seq - b.msg.seq)[0];
    const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.insertBefore(node, after ? after.node : firstPending());
    empty.hidden = true;
    if (atEnd) list.scrollTop = list.scrollHeight; // follow the conversation unless the reader scrolled back
    if (!mine) {
      delete typingUntil[msg.author_role];
      drawTyping();
    }
    drawReads();
  }

  function firstPending() {
    for (const node of pending.values()) return node;
    return null;
  }

  function typing(data) {
    if (String(data.user_id) === String(me.id)) return;
    typingUntil[data.role] = Date.now() + TYPING_SHOWN_MS;
    drawTyping();
  }

  function drawTyping() {
    clearTimeout(typingTimer);
    const now = Date.now();
    const who = Object.keys(typingUntil).filter((r) => typingUntil[r] > now);
    const text = who.length ? `${capital(who.map((r) => THE_ROLE[r] || r).join(" and "))} ${who.length > 1 ? "are" : "is"} typing…` : "";
    if (typingLine.textContent !== text) typingLine.textContent = text;
    if (who.length) {
      const next = Math.min(...who.map((r) => typingUntil[r])) - now;
      typingTimer = setTimeout(drawTyping, next + 10);
    }
  }

  function read(data) {
    if (String(data.user_id) === String(me.id)) return;
    if ((marks[data.role] || 0) >= data.seq) return;
    marks[data.role] = data.seq;
    drawReads();
  }

  // drawReads writes under each of my messages who has read it.
  function drawReads() {
    for (const { msg, node } of messages.values()) {
      if (String(msg.author_id) !== String(me.id)) continue;
      const by = Object.keys(THE_ROLE).filter((r) => marks[r] >= msg.seq).map((r) => THE_ROLE[r]);
      const text = by.length ? `Read by ${by.join(" and ")}` : "Sent";
      const state = node.querySelector(".chat-state");
      if (state.textContent !== text) state.textContent = text;
    }
  }

  // seen marks every message of the others as read, once the page is
  // in view: a mark is a promise that a person saw them.
  function seen() {
    if (document.visibilityState !== "visible") return;
    let latest = 0;
    for (const { msg } of messages.values()) {
      if (String(msg.author_id) !== String(me.id)) latest = Math.max(latest, msg.seq);
    }
    if (latest <= readSent) return;
    readSent = latest;
    rt.read(orderId, latest).catch((err) => {
      readSent = 0;
      if (err.code !== "chat_closed") console.warn("read mark not sent", err);
    });
  }

  function onVisible() { seen(); }
  document.addEventListener("visibilitychange", onVisible);

  function setOpen(open) {
    form.hidden = !open;
    closedNote.hidden = open;
  }

  function close() {
    document.removeEventListener("visibilitychange", onVisible);
    clearTimeout(typingTimer);
  }

  return { el, add, typing, read, seen, setOpen, close };
}

function capital(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}
