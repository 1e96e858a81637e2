// The web app's service worker, at the site's root so that its scope is
// the whole app: it shows the pushes of orders (docs/push.md), payload
// {order_id, event, title, body, url}, and a click on one brings the app
// to that order: an open tab of the app is focused and told where to go,
// else the order's page opens in a new one. It handles no fetch: the app
// is not cached, and works offline no more than it did.

// sameOrigin is url if it is a page of this site, else the app's start:
// a payload is the server's, but nothing opens another site from here.
function sameOrigin(url) {
  try {
    const u = new URL(url || "/", self.location.origin);
    return u.origin === self.location.origin ? u.href : self.location.origin + "/";
  } catch {
    return self.location.origin + "/";
  }
}

self.addEventListener("push", (event) => {
  let msg = {};
  try {
    msg = event.data ? event.data.json() : {};
  } catch {
    msg = {}; // not ours to read: a plain notice still shows
  }
  const options = {
    body: typeof msg.body === "string" ? msg.body : "",
    icon: "/app/icon.svg",
    data: { url: sameOrigin(msg.url) },
  };
  // One notification per order: a later push of it replaces the earlier.
  if (msg.order_id) options.tag = `order-${msg.order_id}`;
  event.waitUntil(self.registration.showNotification(typeof msg.title === "string" && msg.title ? msg.title : "ordercast", options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = sameOrigin(event.notification.data && event.notification.data.url);
  event.waitUntil((async () => {
    const tabs = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    // A tab of the app itself (its shell is at /): not the operator page
    // or a tracking page, which have no order pages to move to.
    const tab = tabs.find((c) => {
      const u = new URL(c.url);
      return u.origin === self.location.origin && u.pathname === "/";
    });
    if (!tab) return self.clients.openWindow(url);
    // The app moves to the order itself (notify.js): navigating the tab
    // would reload it and its socket.
    tab.postMessage({ type: "open", url });
    return tab.focus();
  })());
});

// A new version takes over at once: it keeps no state worth waiting for.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
