// The connection banner of a page (the app and the operator page): shown
// while the socket is down, with a count down to the next attempt. Only
// "lost" and "back" are announced; the count itself would be read out
// every second. The page holds #banner, #banner-text and #banner-count.
import { announce } from "./dom.js";

const bannerEl = document.getElementById("banner");
const bannerText = document.getElementById("banner-text");
const bannerCount = document.getElementById("banner-count");
let bannerTimer = 0;
let wasDown = false;

// showConnection shows state, a Realtime state (its "state" event's detail).
export function showConnection(state) {
  clearInterval(bannerTimer);
  if (state.name === "down" || (state.name === "connecting" && wasDown)) {
    if (!wasDown) {
      bannerText.textContent = "Connection lost. Updates are paused.";
      announce("Connection lost. Reconnecting.");
    }
    wasDown = true;
    bannerEl.hidden = false;
    const tick = () => {
      const s = state.retryAt ? Math.ceil((state.retryAt - Date.now()) / 1000) : 0;
      bannerCount.textContent = state.name === "down" && s > 0 ? `Reconnecting in ${s} s…` : "Reconnecting…";
    };
    tick();
    if (state.name === "down") bannerTimer = setInterval(tick, 250);
    return;
  }
  if (state.name === "open" && wasDown) announce("Connection restored. You are up to date.");
  wasDown = false;
  bannerEl.hidden = true;
  bannerText.textContent = "";
  bannerCount.textContent = "";
}
