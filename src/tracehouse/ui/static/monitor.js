// RED metrics per service (requests, errors, duration), from the same /api/metrics endpoints the
// Jaeger UI's Monitor tab calls: computed from the stored spans. One page per service, with its
// operations below; everything in the URL (service, lookback, spanKind), so a view can be shared.
import { h, s, mount } from "./dom.js";
import { getJSON } from "./api.js";
import { duration, percent, serviceColour } from "./format.js";

const LOOKBACKS = { "15m": 15, "1h": 60, "6h": 360, "24h": 1440 };   // minutes
const KINDS = ["server", "client", "consumer", "producer", "internal"];
const POINTS = 60;

function metricsUrl(kind, service, q, extra = {}) {
  const params = new URLSearchParams({ service, ...q, ...extra });
  return `/api/metrics/${kind}?${params}`;
}

// Series of a MetricFamily by label value ("" for the service-level one): [[ms since epoch, value]].
function series(family) {
  const out = new Map();
  for (const m of family.metrics) {
    const op = m.labels.find((l) => l.name === "operation");
    out.set(op ? op.value : "", m.metricPoints.map((p) => [Date.parse(p.timestamp), p.gaugeValue.doubleValue]));
  }
  return out;
}

function mean(points) {
  return points.length ? points.reduce((sum, [, v]) => sum + v, 0) / points.length : null;
}

export async function monitorPage(params) {
  const lookback = LOOKBACKS[params.get("lookback")] ? params.get("lookback") : "1h";
  const spanKind = KINDS.includes(params.get("spanKind")) ? params.get("spanKind") : "server";
  const out = h("div", { id: "monitor" }, h("p", { class: "muted", text: "Loading…" }));
  let services;
  try {
    services = (await getJSON("/api/services")).data || [];
  } catch (err) {
    mount(h("section", { class: "page" }, h("h1", { text: "Monitor" }), h("p", { class: "error", text: err.message })));
    return;
  }
  const service = services.includes(params.get("service")) ? params.get("service") : services[0];
  const go = (changes) => {
    const next = new URLSearchParams({ service, lookback, spanKind, ...changes });
    location.assign(`/monitor?${next}`);
  };
  const form = h("div", { class: "search-form monitor-form" },
    h("label", {}, "Service", h("select", { id: "m-service", onchange: (e) => go({ service: e.target.value }) },
      services.map((n) => h("option", { value: n, text: n, selected: n === service })))),
    h("label", {}, "Span kind", h("select", { id: "m-kind", onchange: (e) => go({ spanKind: e.target.value }) },
      KINDS.map((k) => h("option", { value: k, text: k, selected: k === spanKind })))),
    h("label", {}, "Time range", h("select", { id: "m-lookback", onchange: (e) => go({ lookback: e.target.value }) },
      Object.keys(LOOKBACKS).map((l) => h("option", { value: l, text: `last ${l}`, selected: l === lookback })))));
  mount(h("section", { class: "page" }, h("h1", { text: "Monitor" }),
    h("p", { class: "muted", text: "Requests, errors and duration per service, computed from the stored spans (the same figures as /api/metrics, which Jaeger's Monitor tab reads)." }),
    form, out));
  if (!service) {
    out.replaceChildren(h("p", { class: "muted", text: "No services yet: send some traces first." }));
    return;
  }
  const stepMs = (LOOKBACKS[lookback] * 60_000) / POINTS;
  // Each point covers its own step (ratePer = step): the calls of that slice of time, per second.
  const q = { endTs: String(Date.now()), lookback: String(LOOKBACKS[lookback] * 60_000), step: String(stepMs),
              ratePer: String(stepMs), spanKind };
  let calls; let errors; let p95; let opCalls; let opErrors; let opP95;
  try {
    [calls, errors, p95, opCalls, opErrors, opP95] = await Promise.all([
      getJSON(metricsUrl("calls", service, q)), getJSON(metricsUrl("errors", service, q)),
      getJSON(metricsUrl("latencies", service, q, { quantile: "0.95" })),
      getJSON(metricsUrl("calls", service, q, { groupByOperation: "true" })),
      getJSON(metricsUrl("errors", service, q, { groupByOperation: "true" })),
      getJSON(metricsUrl("latencies", service, q, { quantile: "0.95", groupByOperation: "true" })),
    ]);
  } catch (err) {
    out.replaceChildren(h("p", { class: "error", text: err.message }));
    return;
  }
  const rate = series(calls).get("") || [];
  if (!rate.some(([, v]) => v > 0)) {
    out.replaceChildren(h("p", { class: "muted", text: `No ${spanKind} spans of ${service} in the last ${lookback}.` }));
    return;
  }
  const start = Number(q.endTs) - LOOKBACKS[lookback] * 60_000;
  const colour = serviceColour(service);
  out.replaceChildren(
    h("div", { class: "red-charts" },
      chart("red-rate", "Requests", rate, (v) => `${fmt(v)}/s`, start, Number(q.endTs), colour),
      chart("red-errors", "Error rate", series(errors).get("") || [], percent, start, Number(q.endTs), "var(--error)", 1),
      chart("red-latency", "p95 latency", (series(p95).get("") || []).map(([t, v]) => [t, v * 1e6]), duration,
        start, Number(q.endTs), colour)),
    operationsTable(service, series(opCalls), series(opErrors), series(opP95)));
}

function fmt(x) {
  return x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(3);
}

function chart(id, title, points, label, start, end, colour, fixedMax) {
  const width = 380; const height = 150; const left = 58; const bottom = 20; const top = 10;
  const max = fixedMax || Math.max(...points.map(([, v]) => v), 0) || 1;
  const x = (t) => left + ((t - start) / (end - start)) * (width - left - 8);
  const y = (v) => top + (1 - v / max) * (height - top - bottom);
  const svg = s("svg", { width, height, class: "red-svg", role: "img", "aria-label": title },
    s("line", { x1: left, y1: y(0), x2: width - 8, y2: y(0), class: "grid" }),
    s("line", { x1: left, y1: y(max), x2: width - 8, y2: y(max), class: "grid" }),
    s("text", { x: left - 4, y: y(max) + 4, "text-anchor": "end", class: "axis", text: label(max) }),
    s("text", { x: left - 4, y: y(0) + 4, "text-anchor": "end", class: "axis", text: label(0) }));
  if (points.length) {
    const d = points.map(([t, v], i) => `${i ? "L" : "M"} ${x(t).toFixed(1)} ${y(v).toFixed(1)}`).join(" ");
    const line = s("path", { d, class: "red-line" });
    line.style.stroke = colour;
    svg.append(line);
    // A dot per point: a lone point (one busy minute) has no line to show it.
    for (const [t, v] of points) {
      const dot = s("circle", { cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 2.5, class: "red-dot" },
        s("title", { text: `${new Date(t).toLocaleTimeString()}: ${label(v)}` }));
      dot.style.fill = colour;
      svg.append(dot);
    }
  }
  const avg = mean(points);
  return h("div", { class: "red-chart", id },
    h("h3", { text: title }), h("div", { class: "red-value", text: avg === null ? "no data" : `avg ${label(avg)}` }), svg);
}

function operationsTable(service, calls, errors, p95) {
  const names = [...calls.keys()].sort((a, b) => (mean(calls.get(b)) || 0) - (mean(calls.get(a)) || 0));
  return h("table", { class: "diff", id: "red-operations" },
    h("thead", {}, h("tr", {}, ["Operation", "Requests/s (avg)", "Error rate (avg)", "p95 latency (avg)", ""]
      .map((c) => h("th", { text: c })))),
    h("tbody", {}, names.map((op) => {
      const e = mean(errors.get(op) || []);
      const l = mean(p95.get(op) || []);
      const search = new URLSearchParams({ service, operation: op, lookback: "1h" });
      return h("tr", { dataset: { operation: op } },
        h("td", { text: op }), h("td", { class: "num", text: fmt(mean(calls.get(op)) || 0) }),
        h("td", { class: "num", text: e === null ? "" : percent(e) }),
        h("td", { class: "num", text: l === null ? "" : duration(Math.round(l * 1e6)) }),
        h("td", {}, h("a", { href: `/search?${search}`, text: "traces" })));
    })));
}
