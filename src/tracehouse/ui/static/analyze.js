// The analyses page: /analyze/NAME?since=1h&service=... draws the JSON of /api/analyze/NAME with the
// same query string, so the page, the API and `tracehouse analyze NAME` show the same numbers.
// Data is shown with textContent only.

const $ = (id) => document.getElementById(id);
const ANALYSES = {
  paths: { label: "Routes", fields: ["slowest", "sample"] },
  origins: { label: "Origins", fields: [], target: true },
  latency: { label: "Latency", fields: ["what_if", "sample"] },
  compare: { label: "Compare", fields: ["slowest", "min_duration", "errors"] },
  errors: { label: "Errors", fields: [] },
  doctor: { label: "Doctor", fields: [] },
};
const FIELDS = {
  since: ["Last", "1h"], start: ["Start", "2026-01-31T12:00"], end: ["End", ""],
  service: ["Service", ""], operation: ["Operation", ""], attr: ["Attributes (k=v, k=v)", "traffic.type=user"],
  slowest: ["Slowest", "5%"], min_duration: ["Min duration", "250ms"], errors: ["Errors only", ""],
  what_if: ["What if", "fizzer=-50%"], sample: ["Sample traces", "10000"],
};

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
    const input = el("input");
    input.name = key;
    if (key === "errors") { input.type = "checkbox"; input.checked = params.get("errors") === "true"; }
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
    for (const input of form.querySelectorAll("input")) {
      if (input.type === "checkbox") { if (input.checked) next.set(input.name, "true"); }
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

function render(report) {
  $("title").textContent = report.title;
  document.title = `${report.title} · tracehouse`;
  $("findings").replaceChildren(...report.findings.map((f) => el("li", f)));
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
