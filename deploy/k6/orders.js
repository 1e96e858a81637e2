// The orders scenario of cmd/ordercast-load for k6: CHANNELS order
// channels × SUBSCRIBERS sockets, and RATE ephemeral publishes a second
// through POST /api/v1/publish. Each publish carries its send time; a
// subscriber records the latency from it (the trend "delivery_latency")
// and counts deliveries ("deliveries"). Setup registers USERS customers
// (each registration costs the server a bcrypt hash) and places CHANNELS
// orders over REST.
//
// Run the server with RATE_LIMITS=off MAX_CONNS_PER_USER=0 and a
// HUB_API_KEY of at least 16 characters, then:
//
//   go install go.k6.io/k6@v1.8.1     # builds k6 (a couple of minutes)
//   BASE=http://127.0.0.1:8080 HUB_API_KEY=... CHANNELS=500 SUBSCRIBERS=3 RATE=1000 DURATION=30s \
//     k6 run deploy/k6/orders.js
//
// k6 runs the tool's load from JavaScript, at a higher cost per message
// than the Go tool: on a machine shared with the server, prefer
// cmd/ordercast-load for figures, and this script where k6 is the rule.
import http from "k6/http";
import ws from "k6/ws";
import { check } from "k6";
import { Counter, Trend } from "k6/metrics";

const BASE = __ENV.BASE || "http://127.0.0.1:8080";
const KEY = __ENV.HUB_API_KEY || "";
const CHANNELS = parseInt(__ENV.CHANNELS || "100");
const SUBSCRIBERS = parseInt(__ENV.SUBSCRIBERS || "3");
const RATE = parseInt(__ENV.RATE || "500");
const USERS = parseInt(__ENV.USERS || "8");
const DURATION = __ENV.DURATION || "30s";

const latency = new Trend("delivery_latency", true);
const deliveries = new Counter("deliveries");

export const options = {
  setupTimeout: "5m",
  scenarios: {
    subscribers: {
      executor: "per-vu-iterations", exec: "subscribe", vus: CHANNELS * SUBSCRIBERS, iterations: 1,
      maxDuration: "10m",
    },
    publishers: {
      executor: "constant-arrival-rate", exec: "publish", rate: RATE, timeUnit: "1s", duration: DURATION,
      preAllocatedVUs: 64, maxVUs: 256, startTime: "10s", // once the sockets are open
    },
  },
};

const json = { headers: { "Content-Type": "application/json" } };

export function setup() {
  const run = Date.now().toString(36);
  const reg = (role, i, extra) => {
    const r = http.post(`${BASE}/api/v1/auth/register`, JSON.stringify(Object.assign({
      email: `k6-${run}-${role}-${i}@example.com`, password: "load-test-password", name: `${role} ${i}`, role: role,
    }, extra)), json);
    check(r, { registered: (x) => x.status === 201 }) || fail(`register: ${r.status} ${r.body}`);
    return r.json();
  };
  const rest = reg("restaurant", 0, { restaurant_name: `k6 kitchen ${run}` });
  const auth = (s) => ({ headers: { "Content-Type": "application/json", Authorization: `Bearer ${s.access_token}` } });
  const item = http.post(`${BASE}/api/v1/restaurants/${rest.user.restaurant_id}/menu`,
    JSON.stringify({ name: "Pizza", price_cents: 1000 }), auth(rest)).json();
  const customers = [];
  for (let i = 0; i < USERS; i++) customers.push(reg("customer", i, {}));
  const channels = [];
  for (let c = 0; c < CHANNELS; c++) {
    const cust = customers[c % USERS];
    const p = auth(cust);
    p.headers["Idempotency-Key"] = `k6-${run}-${c}`;
    const o = http.post(`${BASE}/api/v1/orders`, JSON.stringify({
      restaurant_id: rest.user.restaurant_id, items: [{ menu_item_id: item.id, quantity: 1 }], delivery_address: "1 Main St",
    }), p);
    check(o, { placed: (x) => x.status === 201 }) || fail(`order: ${o.status} ${o.body}`);
    channels.push({ channel: `order:${o.json().id}`, token: cust.access_token });
  }
  return { channels };
}

function fail(msg) { throw new Error(msg); }

// Subscriber VU i holds one socket on channel i mod CHANNELS until the
// publishing ends.
export function subscribe(data) {
  const ch = data.channels[(__VU - 1) % CHANNELS];
  const url = `${BASE.replace(/^http/, "ws")}/ws?access_token=${ch.token}`;
  const res = ws.connect(url, {}, (socket) => {
    socket.on("open", () => socket.send(JSON.stringify({ type: "subscribe", id: "1", channel: ch.channel })));
    socket.on("message", (m) => {
      const f = JSON.parse(m);
      if (f.type === "event" && f.event === "load" && f.data && f.data.sent) {
        latency.add(Date.now() - f.data.sent);
        deliveries.add(1);
      }
    });
    // Open before the publishers start, closed once they are done.
    socket.setTimeout(() => socket.close(), 10_000 + parseDuration(DURATION) + 5_000);
  });
  check(res, { upgraded: (r) => r && r.status === 101 });
}

// One publish, to a channel picked from the VU and its iteration (spread
// over the channels).
export function publish(data) {
  const ch = data.channels[(__ITER * 64 + __VU) % CHANNELS];
  const r = http.post(`${BASE}/api/v1/publish`, JSON.stringify({
    channel: ch.channel, event: "load", data: { sent: Date.now() },
  }), { headers: { "Content-Type": "application/json", Authorization: `Bearer ${KEY}` } });
  check(r, { published: (x) => x.status === 200 });
}

function parseDuration(s) {
  const m = /^(\d+)(ms|s|m)$/.exec(s);
  if (!m) fail(`DURATION ${s}: want e.g. 30s`);
  return parseInt(m[1]) * { ms: 1, s: 1000, m: 60000 }[m[2]];
}
