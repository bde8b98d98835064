// Links from the search page and the trace view to the analyses (/analyze/NAME) and the SQL console,
// carrying what the user is looking at: service, operation, time window and attributes, in the
// parameters /api/analyze takes (since=1h | start=, end= in unix seconds, service, operation,
// attr=k=v). Names and values only ever reach the page as text or as URL parameters.
import { h } from "./dom.js";

const MAX_ATTRIBUTES = 4;   // what one analysis accepts (tracehouse.store.analytics_contract)

export function analysisUrl(name, filters, extra = {}) {
  const q = new URLSearchParams();
  for (const key of ["since", "start", "end", "service", "operation"]) if (filters[key]) q.set(key, filters[key]);
  for (const attr of (filters.attrs || []).slice(0, MAX_ATTRIBUTES)) q.append("attr", attr);
  for (const [key, value] of Object.entries(extra)) if (value) q.set(key, value);
  const query = q.toString();
  return `/analyze/${name}${query ? `?${query}` : ""}`;
}

export function consoleUrl(sql) {
  return `/console?${new URLSearchParams({ sql })}`;
}

// A SQL string literal: the console runs what the user could type anyway, but a name with a quote
// must still make a valid query.
function literal(text) {
  return `'${String(text).replaceAll("'", "''")}'`;
}

// The search form's parameters (lookback, or start/end in microseconds; tags as JSON) as filters.
export function filtersFromSearch(query) {
  const filters = { service: query.get("service") || "", operation: query.get("operation") || "", attrs: [] };
  const lookback = query.get("lookback");
  if (lookback && lookback !== "custom") filters.since = lookback;
  else {
    if (query.get("start")) filters.start = String(Number(query.get("start")) / 1e6);
    if (query.get("end")) filters.end = String(Number(query.get("end")) / 1e6);
  }
  try {
    const tags = JSON.parse(query.get("tags") || "{}");
    filters.attrs = Object.entries(tags).map(([k, v]) => `${k}=${v}`);
  } catch {
    filters.attrs = [];
  }
  return filters;
}

const UNIT_MS = { m: 60e3, h: 3600e3, d: 86400e3 };

function lookbackMs(lookback) {
  const m = /^(\d+)([mhd])$/.exec(lookback);
  return m ? Number(m[1]) * UNIT_MS[m[2]] : 3600e3;
}

// Stored times are UTC: '2026-01-31 12:00:00'.
function utc(ms) {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

function link(id, href, text) {
  return h("a", { class: "button", id, href, text });
}

// The links under the search form: every analysis over the traces the form describes.
export function searchLinks(query) {
  const f = filtersFromSearch(query);
  const minDuration = query.get("minDuration") || "";
  const where = [];
  if (f.service) where.push(`service_name = ${literal(f.service)}`);
  if (f.operation) where.push(`span_name = ${literal(f.operation)}`);
  const from = f.since ? Date.now() - lookbackMs(f.since) : (f.start ? Number(f.start) * 1000 : null);
  if (from !== null && !Number.isNaN(from)) where.push(`start_time >= ${literal(utc(from))}`);
  if (!f.since && f.end) where.push(`start_time < ${literal(utc(Number(f.end) * 1000))}`);
  const sql = "SELECT service_name, span_name, count(*) AS spans, quantile_cont(duration_ns, 0.95) / 1e6 AS p95_ms\n" +
    `FROM spans${where.length ? `\nWHERE ${where.join(" AND ")}` : ""}\nGROUP BY ALL ORDER BY spans DESC`;
  return h("nav", { class: "analysis-links", id: "analysis-links", "aria-label": "Analyses of these traces" },
    h("span", { class: "muted", text: "Analyse these traces:" }),
    link("link-paths", analysisUrl("paths", f, { slowest: "5%" }), "Routes of the slowest 5%"),
    link("link-latency", analysisUrl("latency", f), "Where requests wait"),
    link("link-compare", analysisUrl("compare", f, minDuration ? { min_duration: minDuration } : { slowest: "5%" }),
      minDuration ? `What marks traces over ${minDuration}` : "What marks the slowest 5%"),
    link("link-errors", analysisUrl("errors", f), "Where errors start"),
    f.service ? link("link-origins", analysisUrl("origins", { ...f, service: f.service, operation: f.operation }),
      `Where ${f.service}'s traffic comes from`) : null,
    link("link-doctor", analysisUrl("doctor", f), "Doctor"),
    link("link-console", consoleUrl(sql), "SQL console"));
}

// The links of the trace view: analyses of requests like this one (same root operation, in the
// hour around it), where each of its services' traffic comes from, and the trace in the console.
export function traceLinks(view, rootService, rootName) {
  const startSeconds = Number(BigInt(view.startUnixNano) / 1000000n) / 1000;
  const around = { start: String(Math.floor(startSeconds - 1800)), end: String(Math.ceil(startSeconds + 1800)) };
  const like = { ...around, service: rootService, operation: rootName };
  const callers = view.services.filter((svc) => svc !== rootService).map((svc) =>
    h("a", { class: "chip origin-link", href: analysisUrl("origins", { ...around, service: svc }), text: svc }));
  const sql = `SELECT * FROM spans WHERE trace_id = ${literal(view.traceId)} ORDER BY start_time`;
  return h("nav", { class: "analysis-links", id: "analysis-links", "aria-label": "Analyses of requests like this one" },
    h("span", { class: "muted", text: `Requests like this (${rootService}: ${rootName}, the hour around it):` }),
    link("link-latency", analysisUrl("latency", like), "Analyze latency for this root operation"),
    link("link-paths", analysisUrl("paths", like, { slowest: "5%" }), "Routes of the slowest 5%"),
    link("link-compare", analysisUrl("compare", like, { slowest: "5%" }), "What marks the slowest 5%"),
    link("link-origins", analysisUrl("origins", { ...around, service: rootService, operation: rootName }),
      `Where ${rootService}'s traffic comes from`),
    callers.length ? h("span", { class: "callers" }, h("span", { class: "muted", text: "Callers of:" }), callers) : null,
    link("link-console", consoleUrl(sql), "This trace in the SQL console"));
}
