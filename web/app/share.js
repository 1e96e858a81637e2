// "Share tracking link" on the customer's order page: creates a link
// (POST /orders/{id}/track-links) and offers it through the system's share
// sheet where there is one, else by copying it; the URL is shown in a
// field either way, to copy by hand. "Stop sharing" deletes the order's
// links, also those shared from an earlier visit of the page (GET
// /orders/{id}/track-links): their open pages are told at once that they
// are no longer valid.
import { h } from "./dom.js";
import { explain } from "./errors.js";

// shareBox returns the share controls of order for session's customer.
export function shareBox(session, order) {
  const share = h("button", { type: "button", class: "secondary", text: "Share tracking link" });
  const stop = h("button", { type: "button", class: "secondary", text: "Stop sharing", hidden: true });
  const field = h("input", { type: "text", class: "share-url", readonly: true, "aria-label": "Tracking link", hidden: true });
  const note = h("p", { class: "muted", role: "status" });
  let ids = []; // the order's links, shared now or earlier

  session.api("GET", `/orders/${order.id}/track-links`).then(({ links }) => {
    ids = [...new Set([...links.map((l) => l.id), ...ids])];
    if (ids.length) {
      stop.hidden = false;
      say(`Shared earlier: ${ids.length === 1 ? "a link works" : `${ids.length} links work`} until you stop sharing.`);
    }
  }).catch((err) => say(explain(err)));

  share.addEventListener("click", async () => {
    share.disabled = true;
    try {
      const link = await session.api("POST", `/orders/${order.id}/track-links`);
      ids.push(link.id);
      field.value = link.url;
      field.hidden = stop.hidden = false;
      field.select();
      say(await offer(link.url));
    } catch (err) {
      say(explain(err));
    } finally {
      share.disabled = false;
    }
  });
  stop.addEventListener("click", async () => {
    stop.disabled = true;
    try {
      while (ids.length) {
        await session.api("DELETE", `/orders/${order.id}/track-links/${ids[0]}`).catch((err) => {
          if (err.status !== 404) throw err; // gone already: as good as deleted
        });
        ids.shift();
      }
      field.value = "";
      field.hidden = stop.hidden = true;
      say("The link no longer works.");
    } catch (err) {
      say(explain(err));
    } finally {
      stop.disabled = false;
    }
  });

  function say(text) {
    note.textContent = text; // its role="status" says it
  }
  return h("div", { class: "share" }, h("p", {}, share, " ", stop), field, note);
}

// offer hands url to the share sheet, else to the clipboard, and says
// which; when neither takes it (refused, or no permission) the field shows it.
async function offer(url) {
  if (navigator.share) {
    try {
      await navigator.share({ title: "Follow my order", url });
      return "Link shared. Anyone with it sees the status and the courier, nothing else.";
    } catch {
      // Dismissed, or not allowed here: the field still has it.
    }
  }
  if (navigator.clipboard) {
    try {
      await navigator.clipboard.writeText(url);
      return "Link copied. Anyone with it sees the status and the courier, nothing else.";
    } catch {
      // No permission: the field still has it.
    }
  }
  return "Copy the link above. Anyone with it sees the status and the courier, nothing else.";
}
