// The service map: services as boxes in columns by call depth, calls as arrows labelled with
// requests, error rate and p95 latency of the chosen time range.
import { h, s, mount } from "./dom.js";
import { getJSON } from "./api.js";
import { duration, percent, serviceColour } from "./format.js";

const LOOKBACKS = ["15m", "1h", "6h", "24h", "2d", "7d"];

export async function mapPage(params) {
  const lookback = params.get("lookback") || "1h";
  const select = h("select", { id: "map-lookback", onchange: () => location.assign(`/map?lookback=${encodeURIComponent(select.value)}`) },
    LOOKBACKS.map((l) => h("option", { value: l, text: `last ${l}`, selected: l === lookback })));
  const out = h("div", { id: "service-map" }, h("p", { class: "muted", text: "Loading…" }));
  mount(h("section", { class: "page" }, h("h1", { text: "Service map" }), h("label", {}, "Time range ", select), out));
  let data;
  try {
    const q = new URLSearchParams();
    for (const k of ["lookback", "start", "end"]) if (params.get(k)) q.set(k, params.get(k));
    if (!q.has("lookback") && !q.has("start")) q.set("lookback", lookback);
    data = await getJSON(`/api/service-map?${q}`);
  } catch (err) {
    out.replaceChildren(h("p", { class: "error", text: err.message }));
    return;
  }
  if (!data.edges.length) {
    out.replaceChildren(h("p", { class: "muted", text: "No calls between services in this time range." }));
    return;
  }
  out.replaceChildren(drawMap(data), edgeTable(data.edges));
}

function layers(services, edges) {
  // Columns by the longest call chain from an entry service (one nobody calls; if every service is
  // called, the one sending the most requests), so every call points rightwards. Calls that close
  // a cycle are found by a depth-first walk and left out of the layering.
  const calls = new Map(services.map((n) => [n, []]));
  const called = new Set();
  const sent = new Map(services.map((n) => [n, 0]));
  for (const e of edges) {
    if (e.parent === e.child) continue;
    calls.get(e.parent).push(e.child);
    called.add(e.child);
    sent.set(e.parent, sent.get(e.parent) + e.requests);
  }
  const entries = services.filter((n) => !called.has(n));
  const byTraffic = [...services].sort((a, b) => sent.get(b) - sent.get(a));
  const state = new Map();
  const forward = [];
  const walk = (n) => {
    state.set(n, "open");
    for (const c of calls.get(n)) {
      if (state.get(c) === "open") continue;
      forward.push([n, c]);
      if (!state.has(c)) walk(c);
    }
    state.set(n, "done");
  };
  for (const n of [...entries, ...byTraffic]) if (!state.has(n)) walk(n);
  const depth = new Map(services.map((n) => [n, 0]));
  for (let pass = 0; pass < services.length; pass++) {
    let changed = false;
    for (const [p, c] of forward) {
      if (depth.get(c) < depth.get(p) + 1) { depth.set(c, depth.get(p) + 1); changed = true; }
    }
    if (!changed) break;
  }
  return depth;
}

function drawMap(data) {
  const depth = layers(data.services, data.edges);
  const columns = new Map();
  for (const name of data.services) {
    const d = depth.get(name);
    if (!columns.has(d)) columns.set(d, []);
    columns.get(d).push(name);
  }
  const boxW = 150;
  const boxH = 40;
  const colGap = 340;
  const rowGap = 90;
  const maxRows = Math.max(...[...columns.values()].map((c) => c.length));
  const width = 40 + columns.size * colGap;
  const top = 70;  // room for calls arcing over a column
  const height = top + 40 + maxRows * rowGap;
  const pos = new Map();
  const order = [...columns.keys()].sort((a, b) => a - b);
  for (const [d, names] of columns) {
    const column = order.indexOf(d);
    names.forEach((name, i) => {
      const offset = ((maxRows - names.length) * rowGap) / 2;
      pos.set(name, { x: 20 + column * colGap, y: top + offset + i * rowGap });
    });
  }
  const svg = s("svg", { width, height, class: "map-svg", role: "img", "aria-label": "service map" },
    s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" },
      s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head" }))));
  for (const e of data.edges) {
    const a = pos.get(e.parent);
    const b = pos.get(e.child);
    const x1 = a.x + boxW;
    const y1 = a.y + boxH / 2;
    const x2 = b.x;
    const y2 = b.y + boxH / 2;
    const back = x2 <= x1;
    // A call that skips a column arcs over the boxes in between instead of crossing them.
    const skips = !back && b.x - a.x > colGap * 1.5;
    const arc = Math.min(top - 8, 40 + (b.x - a.x) / colGap * 8);
    let path;
    if (back) {
      path = `M ${a.x + boxW / 2} ${a.y + boxH} C ${a.x + boxW / 2} ${a.y + boxH + 60}, ${b.x + boxW / 2} ${b.y + boxH + 60}, ${b.x + boxW / 2} ${b.y + boxH}`;
    } else if (skips) {
      path = `M ${a.x + boxW / 2} ${a.y} C ${a.x + boxW / 2} ${a.y - arc}, ${b.x + boxW / 2} ${b.y - arc}, ${b.x + boxW / 2} ${b.y}`;
    } else {
      path = `M ${x1} ${y1} C ${(x1 + x2) / 2} ${y1}, ${(x1 + x2) / 2} ${y2}, ${x2} ${y2}`;
    }
    const cls = e.errorRate > 0.05 ? "edge bad" : e.errorRate > 0 ? "edge warn" : "edge";
    const label = `${e.requests} req · ${percent(e.errorRate)} err · p95 ${duration(e.p95)}`;
    svg.append(s("path", { d: path, class: cls, "marker-end": "url(#arrow)", dataset: { parent: e.parent, child: e.child } },
      s("title", { text: `${e.parent} → ${e.child}: ${label}` })));
    const lx = back || skips ? (a.x + b.x) / 2 + boxW / 2 : (x1 + x2) / 2;
    const ly = back ? Math.max(a.y, b.y) + boxH + 48 : skips ? Math.min(a.y, b.y) - arc * 0.75 - 4 : (y1 + y2) / 2 - 6;
    svg.append(s("text", { x: lx, y: ly, class: "edge-label", "text-anchor": "middle", text: label }));
  }
  for (const [name, p] of pos) {
    const box = s("rect", { x: p.x, y: p.y, width: boxW, height: boxH, rx: 6, class: "node" });
    box.style.stroke = serviceColour(name);
    svg.append(s("g", { class: "node-group", dataset: { service: name } }, box,
      s("text", { x: p.x + boxW / 2, y: p.y + boxH / 2 + 5, "text-anchor": "middle", class: "node-label", text: name })));
  }
  return h("div", { class: "map-box" }, svg);
}

function edgeTable(edges) {
  return h("table", { class: "diff", id: "map-edges" },
    h("thead", {}, h("tr", {}, ["Caller", "Callee", "Requests", "Errors", "Error rate", "p95"].map((c) => h("th", { text: c })))),
    h("tbody", {}, edges.map((e) => h("tr", { dataset: { parent: e.parent, child: e.child } },
      h("td", { text: e.parent }), h("td", { text: e.child }), h("td", { class: "num", text: e.requests }),
      h("td", { class: "num", text: e.errors }), h("td", { class: "num", text: percent(e.errorRate) }),
      h("td", { class: "num", text: duration(e.p95) })))));
}
