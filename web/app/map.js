// The map: an inline SVG drawn from coordinates alone (the places that
// are known and the courier's trail), scaled to fit. No tiles: the app
// works with no network beyond its own server.
import { h, formatTime } from "./dom.js";

const W = 320;
const H = 200;
const PAD = 18;
const MIN_SPAN = 0.002; // degrees (~200 m): one point alone still gets a sensible scale
const MAX_TRAIL = 600;
const METERS_PER_DEGREE = 111320;

let ids = 0;

// createMap returns {el, setPlace(kind, point), addPosition(position)}.
// kind is "restaurant" or "dropoff"; a position is courier.location's
// data {lat, lng, ts}. Positions older than the newest are ignored: the
// server may send the last known one again after a resubscribe.
export function createMap() {
  const titleId = `map-title-${++ids}`;
  const svg = h("svg:svg", { viewBox: `0 0 ${W} ${H}`, class: "map", role: "img", "aria-labelledby": titleId });
  const title = h("svg:title", { id: titleId, text: "Map" });
  const caption = h("p", { class: "map-caption" });
  const el = h("figure", { class: "map-figure" }, svg, h("figcaption", {}, caption));
  const places = {};
  const trail = [];

  function setPlace(kind, point) {
    if (!point || !Number.isFinite(point.lat) || !Number.isFinite(point.lng)) return;
    places[kind] = { lat: point.lat, lng: point.lng };
    draw();
  }

  function addPosition(p) {
    if (!p || !Number.isFinite(p.lat) || !Number.isFinite(p.lng)) return false;
    const last = trail[trail.length - 1];
    if (last && p.ts <= last.ts) return false;
    trail.push({ lat: p.lat, lng: p.lng, ts: p.ts });
    if (trail.length > MAX_TRAIL) trail.shift();
    draw();
    return true;
  }

  function draw() {
    const points = [...trail, ...Object.values(places)];
    const project = projection(points);
    const children = [title, h("svg:rect", { class: "map-bg", x: 0, y: 0, width: W, height: H, rx: 6 })];
    children.push(...grid());
    if (trail.length > 1) {
      children.push(h("svg:polyline", { class: "map-trail", points: trail.map((p) => project(p).join(",")).join(" ") }));
    }
    for (const [kind, p] of Object.entries(places)) children.push(placeMark(kind, project(p)));
    const last = trail[trail.length - 1];
    if (last) {
      const [x, y] = project(last);
      children.push(h("svg:circle", {
        class: "map-courier", cx: x.toFixed(1), cy: y.toFixed(1), r: 7,
        "data-lat": last.lat, "data-lng": last.lng,
      }));
    }
    if (points.length) children.push(...scaleBar(project.metersPerUnit));
    svg.replaceChildren(...children);
    const known = [places.restaurant && "the restaurant", places.dropoff && "the drop-off"].filter(Boolean);
    title.textContent = last
      ? `Map of the courier's route${known.length ? ` and ${known.join(" and ")}` : ""}`
      : "Map: no courier position yet";
    caption.textContent = last
      ? `Courier seen at ${formatTime(last.ts)}, at ${last.lat.toFixed(5)}, ${last.lng.toFixed(5)}.`
      : "No courier position yet.";
  }

  draw();
  return { el, setPlace, addPosition };
}

// projection fits points into the drawing: an equirectangular projection
// around their middle latitude (good enough across a city), the same
// scale on both axes, centred.
function projection(points) {
  let minLat = Infinity, maxLat = -Infinity, minLng = Infinity, maxLng = -Infinity;
  for (const p of points) {
    minLat = Math.min(minLat, p.lat); maxLat = Math.max(maxLat, p.lat);
    minLng = Math.min(minLng, p.lng); maxLng = Math.max(maxLng, p.lng);
  }
  if (!points.length) { minLat = maxLat = 0; minLng = maxLng = 0; }
  const midLat = (minLat + maxLat) / 2;
  const kx = Math.cos((midLat * Math.PI) / 180);
  const spanX = Math.max((maxLng - minLng) * kx, MIN_SPAN);
  const spanY = Math.max(maxLat - minLat, MIN_SPAN);
  const scale = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY);
  const cx = ((minLng + maxLng) / 2) * kx;
  const cy = (minLat + maxLat) / 2;
  const project = (p) => [W / 2 + (p.lng * kx - cx) * scale, H / 2 - (p.lat - cy) * scale];
  project.metersPerUnit = METERS_PER_DEGREE / scale;
  return project;
}

function grid() {
  const lines = [];
  for (let x = 40; x < W; x += 40) lines.push(h("svg:line", { class: "map-grid", x1: x, y1: 0, x2: x, y2: H }));
  for (let y = 40; y < H; y += 40) lines.push(h("svg:line", { class: "map-grid", x1: 0, y1: y, x2: W, y2: y }));
  return lines;
}

const PLACE_LABEL = { restaurant: "Restaurant", dropoff: "Drop-off" };

function placeMark(kind, [x, y]) {
  return h("svg:g", { class: `map-place map-${kind}` },
    h("svg:rect", { x: (x - 6).toFixed(1), y: (y - 6).toFixed(1), width: 12, height: 12, rx: 2 }),
    h("svg:text", { x: (x + 9).toFixed(1), y: (y + 4).toFixed(1), text: PLACE_LABEL[kind] || kind }));
}

// scaleBar draws a bar of a round distance about a quarter of the width.
function scaleBar(metersPerUnit) {
  const target = (W / 4) * metersPerUnit;
  const steps = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000];
  const meters = steps.find((m) => m >= target) || steps[steps.length - 1];
  const len = meters / metersPerUnit;
  const label = meters >= 1000 ? `${meters / 1000} km` : `${meters} m`;
  const y = H - 10;
  return [
    h("svg:line", { class: "map-scale", x1: 10, y1: y, x2: (10 + len).toFixed(1), y2: y }),
    h("svg:text", { class: "map-scale-label", x: 10, y: y - 4, text: label }),
  ];
}
