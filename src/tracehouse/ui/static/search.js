// The search page: a form whose values live in the URL, a scatter plot of trace duration over
// time, and the list of traces. The form's fields are /api/search's parameters, so a URL such as
// /search?service=hub&minDuration=50ms&sort=longest is both the page and the query.
import { h, s, mount, clear } from "./dom.js";
import { getJSON } from "./api.js";
import { duration, dateTime, serviceColour } from "./format.js";
import { searchLinks } from "./analysis_links.js";

const LOOKBACKS = ["5m", "15m", "1h", "2h", "6h", "12h", "24h", "2d", "7d", "custom"];
const SORTS = [["recent", "Most recent"], ["longest", "Longest first"], ["most_spans", "Most spans"],
  ["most_errors", "Most errors"]];
const FIELDS = ["service", "operation", "tags", "lookback", "start", "end", "minDuration", "maxDuration",
  "limit", "sort", "durationScope"];

// "error=true http.status_code=500" <-> {"error":"true","http.status_code":"500"}; values may be quoted.
export function tagsToText(json) {
  if (!json) return "";
  try {
    return Object.entries(JSON.parse(json))
      .map(([k, v]) => `${k}=${/\s/.test(String(v)) ? JSON.stringify(String(v)) : v}`).join(" ");
  } catch {
    return json;
  }
}

export function textToTags(text) {
  const tags = {};
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)/g;
  let m;
  while ((m = re.exec(text)) !== null) tags[m[1]] = m[2].startsWith('"') ? JSON.parse(m[2]) : m[2];
  return Object.keys(tags).length ? JSON.stringify(tags) : "";
}

function localInput(micros) {
  if (!micros) return "";
  const d = new Date(Number(micros) / 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export async function searchPage(params) {
  const lookback = params.get("lookback") || (params.get("start") ? "custom" : "1h");
  const f = {
    service: h("select", { name: "service", id: "f-service" }, h("option", { value: "", text: "(any service)" })),
    operation: h("select", { name: "operation", id: "f-operation" }, h("option", { value: "", text: "(any operation)" })),
    tags: h("input", { name: "tags", id: "f-tags", placeholder: "error=true http.response.status_code=500",
      value: tagsToText(params.get("tags")) }),
    lookback: h("select", { name: "lookback", id: "f-lookback" },
      LOOKBACKS.map((l) => h("option", { value: l, text: l === "custom" ? "custom range" : `last ${l}`, selected: l === lookback }))),
    start: h("input", { type: "datetime-local", name: "start", id: "f-start", value: localInput(params.get("start")) }),
    end: h("input", { type: "datetime-local", name: "end", id: "f-end", value: localInput(params.get("end")) }),
    minDuration: h("input", { name: "minDuration", id: "f-min", placeholder: "e.g. 50ms", size: 8, value: params.get("minDuration") || "" }),
    maxDuration: h("input", { name: "maxDuration", id: "f-max", placeholder: "e.g. 2s", size: 8, value: params.get("maxDuration") || "" }),
    durationScope: h("select", { name: "durationScope", id: "f-scope" },
      h("option", { value: "trace", text: "whole trace", selected: params.get("durationScope") !== "span" }),
      h("option", { value: "span", text: "any span (Jaeger)", selected: params.get("durationScope") === "span" })),
    limit: h("input", { type: "number", name: "limit", id: "f-limit", min: 1, max: 1500, value: params.get("limit") || "100" }),
    sort: h("select", { name: "sort", id: "f-sort" },
      SORTS.map(([v, label]) => h("option", { value: v, text: label, selected: (params.get("sort") || "recent") === v }))),
  };
  const custom = h("span", { class: "custom-range" }, "from ", f.start, " to ", f.end);
  const syncCustom = () => { custom.hidden = f.lookback.value !== "custom"; };
  f.lookback.addEventListener("change", syncCustom);
  syncCustom();

  const form = h("form", { class: "search-form", id: "search-form" },
    h("label", {}, "Service", f.service),
    h("label", {}, "Operation", f.operation),
    h("label", { class: "wide" }, "Attributes", f.tags),
    h("label", {}, "Time", f.lookback), custom,
    h("label", {}, "Duration", h("span", { class: "pair" }, f.minDuration, "–", f.maxDuration), f.durationScope),
    h("label", {}, "Limit", f.limit),
    h("label", {}, "Sort", f.sort),
    h("button", { type: "submit", id: "search-button", text: "Find traces" }));
  const status = h("p", { class: "muted", id: "search-status" });
  const plot = h("div", { class: "scatter", id: "scatter" });
  const compareBar = h("div", { class: "compare-bar" });
  const list = h("ol", { class: "results", id: "results" });
  const links = h("div", { class: "links-box" });
  mount(h("section", { class: "page search-page" }, h("h1", { text: "Search traces" }), form, links, status, plot, compareBar, list));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    const values = {
      service: f.service.value, operation: f.operation.value, tags: textToTags(f.tags.value),
      minDuration: f.minDuration.value.trim(), maxDuration: f.maxDuration.value.trim(),
      durationScope: f.durationScope.value === "span" ? "span" : "", limit: f.limit.value,
      sort: f.sort.value === "recent" ? "" : f.sort.value,
    };
    if (f.lookback.value === "custom") {
      if (f.start.value) values.start = String(new Date(f.start.value).getTime() * 1000);
      if (f.end.value) values.end = String(new Date(f.end.value).getTime() * 1000);
    } else values.lookback = f.lookback.value;
    for (const key of FIELDS) if (values[key]) next.set(key, values[key]);
    history.pushState(null, "", `/search?${next}`);
    clear(links).append(searchLinks(next));
    runSearch(next, status, plot, list, compareBar);
  });

  f.service.addEventListener("change", () => loadOperations(f.operation, f.service.value, ""));
  try {
    const services = (await getJSON("/api/services")).data || [];
    for (const name of services) f.service.append(h("option", { value: name, text: name, selected: name === params.get("service") }));
    if (params.get("service") && !services.includes(params.get("service"))) {
      f.service.append(h("option", { value: params.get("service"), text: params.get("service"), selected: true }));
    }
    await loadOperations(f.operation, f.service.value, params.get("operation") || "");
  } catch (err) {
    status.textContent = `Could not load services: ${err.message}`;
  }
  const query = new URLSearchParams(params);
  if (!query.has("lookback") && !query.has("start")) query.set("lookback", "1h");
  clear(links).append(searchLinks(query));
  runSearch(query, status, plot, list, compareBar);
}

async function loadOperations(select, service, wanted) {
  clear(select).append(h("option", { value: "", text: "(any operation)" }));
  const url = service ? `/api/operations?service=${encodeURIComponent(service)}` : "/api/operations";
  const ops = (await getJSON(url)).data || [];
  const names = [...new Set(ops.map((o) => o.name))];
  for (const name of names) select.append(h("option", { value: name, text: name, selected: name === wanted }));
  if (wanted && !names.includes(wanted)) select.append(h("option", { value: wanted, text: wanted, selected: true }));
}

async function runSearch(query, status, plot, list, compareBar) {
  status.textContent = "Searching…";
  status.classList.remove("error");
  clear(list);
  clear(plot);
  let result;
  try {
    result = await getJSON(`/api/search?${query}`);
  } catch (err) {
    status.textContent = err.message;
    status.classList.add("error");
    return;
  }
  const traces = result.traces;
  status.textContent = `${traces.length} trace${traces.length === 1 ? "" : "s"}` +
    (traces.length ? ` · duration filters apply to the ${result.durationScope === "span" ? "spans" : "whole trace"}` : "");
  drawScatter(plot, traces);
  const chosen = new Set();
  const compareButton = h("button", { type: "button", id: "compare-button", disabled: true, text: "Compare selected (0/2)",
    onclick: () => {
      const [a, b] = [...chosen];
      location.assign(`/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
    } });
  clear(compareBar).append(compareButton);
  const maxDuration = Math.max(1, ...traces.map((t) => t.duration));
  for (const t of traces) {
    const pick = h("input", { type: "checkbox", class: "pick", title: "Select for compare", dataset: { traceId: t.traceId },
      onchange: (event) => {
        if (event.target.checked) chosen.add(t.traceId); else chosen.delete(t.traceId);
        if (chosen.size > 2) { event.target.checked = false; chosen.delete(t.traceId); }
        compareButton.disabled = chosen.size !== 2;
        compareButton.textContent = `Compare selected (${chosen.size}/2)`;
      } });
    list.append(h("li", { class: "result", dataset: { traceId: t.traceId } },
      pick,
      h("a", { class: "result-link", href: `/trace/${encodeURIComponent(t.traceId)}` },
        h("div", { class: "result-head" },
          h("span", { class: "root", text: `${t.rootService ?? "?"}: ${t.rootName ?? "(root span missing)"}` }),
          t.errorCount ? h("span", { class: "error-badge", title: "spans with status ERROR", text: `${t.errorCount} error${t.errorCount === 1 ? "" : "s"}` }) : null,
          h("span", { class: "dur", text: duration(t.duration) })),
        h("div", { class: "result-bar" }, barFor(t.duration / maxDuration)),
        h("div", { class: "result-meta" },
          h("span", { class: "spans", text: `${t.spanCount} span${t.spanCount === 1 ? "" : "s"}` }),
          Object.entries(t.spansPerService).sort().map(([svc, n]) =>
            h("span", { class: "chip", title: svc }, dot(svc), `${svc} ${n}`)),
          h("span", { class: "when", text: dateTime(t.startTime) }),
          h("span", { class: "tid", text: t.traceId.slice(0, 12) })))));
  }
}

function barFor(fraction) {
  const bar = h("span", { class: "fill" });
  bar.style.width = `${Math.max(0.5, fraction * 100)}%`;
  return bar;
}

function dot(service) {
  const d = h("span", { class: "dot" });
  d.style.background = serviceColour(service);
  return d;
}

function drawScatter(container, traces) {
  if (!traces.length) return;
  const width = Math.max(300, container.clientWidth || 900);
  const height = 180;
  const pad = { left: 64, right: 12, top: 10, bottom: 24 };
  const times = traces.map((t) => t.startTime);
  let t0 = Math.min(...times);
  let t1 = Math.max(...times);
  if (t1 === t0) { t0 -= 1e6; t1 += 1e6; }
  const dMax = Math.max(...traces.map((t) => t.duration)) * 1.05 || 1;
  const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * (width - pad.left - pad.right);
  const y = (d) => height - pad.bottom - (d / dMax) * (height - pad.top - pad.bottom);
  const plot = s("svg", { width, height, class: "scatter-svg", role: "img", "aria-label": "trace duration over time" });
  for (let i = 0; i <= 4; i++) {
    const d = (dMax * i) / 4;
    plot.append(s("line", { x1: pad.left, x2: width - pad.right, y1: y(d), y2: y(d), class: "grid" }),
      s("text", { x: pad.left - 6, y: y(d) + 4, class: "axis", "text-anchor": "end", text: duration(Math.round(d)) }));
  }
  for (const [t, anchor] of [[t0, "start"], [t1, "end"]]) {
    plot.append(s("text", { x: x(t), y: height - 6, class: "axis", "text-anchor": anchor, text: dateTime(t).slice(11) }));
  }
  const maxSpans = Math.max(...traces.map((t) => t.spanCount));
  for (const t of traces) {
    const r = 3 + 6 * Math.sqrt(t.spanCount / maxSpans);
    const circle = s("circle", { cx: x(t.startTime), cy: y(t.duration), r, class: t.errorCount ? "dot-point error" : "dot-point",
      dataset: { traceId: t.traceId }, tabindex: 0 },
      s("title", { text: `${t.rootService ?? "?"}: ${t.rootName ?? ""}\n${duration(t.duration)}, ${t.spanCount} spans` }));
    const open = () => location.assign(`/trace/${encodeURIComponent(t.traceId)}`);
    circle.addEventListener("click", open);
    circle.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
    plot.append(circle);
  }
  container.append(plot);
}
