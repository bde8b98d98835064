// The analyses page: /analyze/NAME?since=1h&service=... draws the JSON of /api/analyze/NAME with the
// same query string, so the page, the API and `tracehouse analyze NAME` show the same numbers.
// Data is shown with textContent only.

const $ = (id) => document.getElementById(id);
// Every analysis takes a baseline: its rows are then ranked by their change against it.
const BASELINE = ["baseline", "baseline_start", "baseline_end", "reconstructed"];
const ANALYSES = {
  paths: { label: "Routes", fields: ["slowest", "sample", ...BASELINE] },
  origins: { label: "Origins", fields: [...BASELINE], target: true },
  latency: { label: "Latency", fields: ["what_if", "sample", ...BASELINE] },
  compare: { label: "Compare", fields: ["slowest", "min_duration", "errors", ...BASELINE] },
  errors: { label: "Errors", fields: [...BASELINE] },
  doctor: { label: "Doctor", fields: ["baseline", "baseline_start", "baseline_end", "sample", "reconstructed"] },
};
const FIELDS = {
  since: ["Last", "1h"], start: ["Start", "2026-01-31T12:00"], end: ["End", ""],
  service: ["Service", ""], operation: ["Operation", ""], attr: ["Attributes (k=v, k=v)", "traffic.type=user"],
  slowest: ["Slowest", "5%"], min_duration: ["Min duration", "250ms"], errors: ["Errors only", ""],
  what_if: ["What if", "fizzer=-50%"], sample: ["Sample traces", "10000"],
  baseline: ["Baseline (before the window)", "1h"], baseline_start: ["Baseline start", ""],
  baseline_end: ["Baseline end", ""],
  reconstructed: ["Reconstructed traces", ""],
};
// Choices rather than free text: what the analysis does with traces joined by inferred links.
const CHOICES = { reconstructed: [["received", "as received"], ["include", "include, joined"], ["exclude", "leave out"],
  ["only", "only these"]] };
const SVG = "http://www.w3.org/2000/svg";

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

const name = location.pathname.split("/")[2] || "doctor";
const params = new URLSearchParams(location.search);

function buildTabs() {
  for (const [key, spec] of Object.entries(ANALYSES)) {
    const a = el("a", spec.label);
    a.href = `/analyze/${key}${location.search}`;
    if (key === name) a.setAttribute("aria-current", "page");
    $("tabs").append(a);
  }
}

function buildForm() {
  const form = $("form");
  const spec = ANALYSES[name] || ANALYSES.doctor;
  const keys = ["since", "start", "end", "service", "operation", "attr", ...spec.fields];
  for (const key of keys) {
    const [label, placeholder] = FIELDS[key];
    const wrap = el("label", key === "service" && spec.target ? "Service (called)" : label);
    const input = el(CHOICES[key] ? "select" : "input");
    input.name = key;
    if (CHOICES[key]) {
      for (const [value, text] of CHOICES[key]) {
        const option = el("option", text);
        option.value = value;
        option.selected = (params.get(key) || CHOICES[key][0][0]) === value;
        input.append(option);
      }
    } else if (key === "errors") { input.type = "checkbox"; input.checked = params.get("errors") === "true"; }
    else {
      input.placeholder = placeholder;
      input.value = key === "attr" ? params.getAll("attr").join(", ") : (params.get(key) || "");
    }
    wrap.append(input);
    form.append(wrap);
  }
  const go = el("button", "Analyze"); go.type = "submit";
  form.append(go);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const input of form.querySelectorAll("input, select")) {
      if (input.tagName === "SELECT") { if (input.value !== CHOICES[input.name][0][0]) next.set(input.name, input.value); }
      else if (input.type === "checkbox") { if (input.checked) next.set(input.name, "true"); }
      else if (input.name === "attr") input.value.split(",").map((s) => s.trim()).filter(Boolean).forEach((a) => next.append("attr", a));
      else if (input.value.trim()) next.set(input.name, input.value.trim());
    }
    location.search = next.toString();
  });
}

function show(value, kind) {
  if (value === null || value === undefined) return "-";
  if (kind === "ms") return Number(value).toLocaleString(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  if (kind === "percent") return `${Number(value).toFixed(1)}%`;
  if (kind === "count") return Number(value).toLocaleString();
  return String(value);
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

const QUANTILE_LABELS = ["p10", "p25", "p50", "p75", "p90", "p95", "p99"];

// Baseline against incident: the quantiles of the location's per-request value, side by side.
function distributionChart(cause) {
  const w = 260, h = 90, base = cause.baseline_quantiles_ms, now = cause.incident_quantiles_ms;
  const top = Math.max(...base, ...now, 1e-9);
  const chart = svg("svg", { width: w, height: h, role: "img" });
  const slot = (w - 20) / base.length;
  base.forEach((v, i) => {
    const x = 10 + i * slot;
    const hb = (v / top) * (h - 22), hn = (now[i] / top) * (h - 22);
    chart.append(svg("rect", { class: "base", x, y: h - 14 - hb, width: slot / 2 - 2, height: hb }));
    chart.append(svg("rect", { class: "now", x: x + slot / 2 - 2, y: h - 14 - hn, width: slot / 2 - 2, height: hn }));
    const label = svg("text", { x: x + 2, y: h - 2, "font-size": 9 });
    label.textContent = QUANTILE_LABELS[i];
    chart.append(label);
  });
  const title = svg("title", {});
  title.textContent = base.map((v, i) => `${QUANTILE_LABELS[i]}: ${v.toFixed(1)} -> ${now[i].toFixed(1)}`).join(", ");
  chart.append(title);
  return chart;
}

// The timeline of the location's p50 and p90 (baseline, then window), with the change point.
function timelineChart(cause, diagnosis) {
  const w = 300, h = 90, points = cause.timeline.filter((p) => p[3] > 0);
  const chart = svg("svg", { width: w, height: h, role: "img" });
  if (!points.length) return chart;
  const t0 = cause.timeline[0][0], t1 = cause.timeline[cause.timeline.length - 1][0] || t0 + 1;
  const top = Math.max(...points.map((p) => p[2]), 1e-9);
  const x = (t) => 8 + ((t - t0) / Math.max(t1 - t0, 1e-9)) * (w - 16);
  const y = (v) => h - 8 - (v / top) * (h - 16);
  for (const [idx, cls] of [[1, "base"], [2, "now"]]) {
    chart.append(svg("polyline", { class: cls, fill: "none", "stroke-width": 1.5,
      points: points.map((p) => `${x(p[0]).toFixed(1)},${y(p[idx]).toFixed(1)}`).join(" ") }));
  }
  const mark = (ns, cls) => chart.append(svg("line", { class: cls, x1: x(ns / 1e9), x2: x(ns / 1e9), y1: 2, y2: h - 2 }));
  if (diagnosis.window_start_ns) mark(diagnosis.window_start_ns, "base");
  if (cause.since_ns) mark(cause.since_ns, "change");
  return chart;
}

function causeCard(cause, diagnosis) {
  const card = el("article", null, "th-cause");
  const tie = cause.tied ? " (tie)" : "";
  const segment = cause.segment ? `, for ${cause.segment.key}=${cause.segment.value} (on ${cause.segment.carried_by})` : "";
  card.append(el("h3", `${cause.rank}.${tie} ${locationLabel(cause.location)}: ${cause.kind}${segment}`));
  card.append(el("p", cause.summary));
  const s = cause.support;
  card.append(el("p", `Evidence: ${s.incident_traces.toLocaleString()} traces through it in the window, ` +
    `${s.baseline_traces.toLocaleString()} in the baseline; q = ${cause.q_value.toPrecision(1)} (${cause.test}); ` +
    `costs ${cause.effect.impact_ms.toFixed(1)} ms per request.`));
  const links = el("p");
  const see = el("a", "Show these requests"); see.href = cause.link;
  links.append(see);
  if (cause.example_trace_id) {
    links.append(document.createTextNode(" · "));
    const ex = el("a", "an example trace"); ex.href = `/trace/${encodeURIComponent(cause.example_trace_id)}`;
    links.append(ex);
  }
  card.append(links);
  const charts = el("div", null, "th-charts");
  const unit = cause.kind === "errors" ? "error (0/1)" : cause.kind === "repeated calls" ? "calls" : "ms";
  for (const [chart, caption] of [[distributionChart(cause), `baseline (grey) vs window (blue), ${unit} per request`],
    [timelineChart(cause, diagnosis), "p50 (grey) and p90 (blue) over time; dashed: the change point"]]) {
    const fig = el("figure");
    fig.append(chart, el("figcaption", caption));
    charts.append(fig);
  }
  card.append(charts);
  return card;
}

function locationLabel(loc) {
  if (loc.kind === "edge") return `${loc.caller === "*" ? "callers" : loc.caller} → ${loc.service}`;
  if (loc.kind === "queue") return `${loc.caller} ⇢ queue ⇢ ${loc.service}`;
  if (loc.kind === "operation") return `${loc.service}:${loc.operation}`;
  return loc.service;
}

function renderDiagnosis(report) {
  const diagnosis = report.params && report.params.diagnosis;
  const verdict = $("verdict");
  if (!diagnosis) { verdict.hidden = true; $("causes").replaceChildren(); return false; }
  verdict.textContent = diagnosis.verdict;
  verdict.hidden = false;
  $("causes").replaceChildren(...diagnosis.causes.map((c) => causeCard(c, diagnosis)));
  const context = report.params.context;
  const lines = [`Baseline: ${diagnosis.baseline_how}`, ...diagnosis.looked_at.map((l) => `Looked at: ${l}`)];
  if (context) lines.push(...context.findings.map((f) => `${context.title}: ${f}`));
  $("findings").replaceChildren(...lines.map((f) => el("li", f)));
  return true;
}

function render(report) {
  $("title").textContent = report.title;
  document.title = `${report.title} · tracehouse`;
  if (!renderDiagnosis(report)) $("findings").replaceChildren(...report.findings.map((f) => el("li", f)));
  $("notes").replaceChildren(...report.notes.map((n) => el("li", n)));
  const table = $("table");
  const head = el("tr");
  report.columns.forEach((c) => head.append(el("th", c.title)));
  const thead = el("thead"); thead.append(head);
  const tbody = el("tbody");
  for (const row of report.rows) {
    const tr = el("tr");
    for (const c of report.columns) {
      const td = el("td", null, ["ms", "percent", "count"].includes(c.kind) ? "th-num" : "");
      const value = row[c.key];
      if (c.kind === "trace" && value) {
        const a = el("a", String(value).slice(0, 16));
        a.href = `/trace/${encodeURIComponent(value)}`;
        td.append(a);
      } else if (typeof value === "string" && value.includes("\n")) {
        td.append(el("pre", value));
      } else {
        td.textContent = show(value, c.kind);
      }
      tr.append(td);
    }
    tbody.append(tr);
  }
  table.replaceChildren(thead, tbody);
}

async function load() {
  const error = $("error");
  $("title").textContent = "Analyzing…";
  try {
    const res = await fetch(`/api/analyze/${encodeURIComponent(name)}?${params}`);
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
    render(body);
  } catch (err) {
    $("title").textContent = "";
    error.textContent = err.message;
    error.hidden = false;
  }
}

buildTabs();
buildForm();
if (name !== "origins" || params.get("service")) load();
else $("title").textContent = "Name the service whose callers you want to see.";
