// The SQL console: editor, schema browser, result table, chart, CSV/JSON download.
// Every value from the store is shown with textContent (never innerHTML), so data cannot become markup.

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let last = null; // the last successful result: {columns, types, rows, truncated}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

async function loadCatalog() {
  const box = $("relations");
  try {
    const res = await fetch("/api/sql/catalog");
    const cat = await res.json();
    box.replaceChildren();
    for (const rel of cat.relations) {
      const details = el("details");
      const summary = el("summary", rel.name);
      summary.title = rel.description;
      details.append(summary, el("div", rel.description, "th-muted"));
      const ul = el("ul");
      for (const col of rel.columns) {
        const li = el("li", col.name);
        li.append(el("span", col.type, "th-type"));
        ul.append(li);
      }
      details.append(ul);
      box.append(details);
    }
    const examples = $("examples");
    for (const ex of cat.examples) {
      const button = el("button", ex.title);
      button.type = "button";
      button.addEventListener("click", () => { $("sql").value = ex.sql; run(); });
      const li = el("li");
      li.append(button);
      examples.append(li);
    }
  } catch (err) {
    box.replaceChildren(el("p", `Could not load the schema: ${err}`, "th-error"));
  }
}

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL.*|REAL)$/i;
const TEMPORAL = /^(TIMESTAMP.*|DATE|TIME.*)$/i;

function cellText(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function renderTable(result) {
  const table = $("result");
  table.replaceChildren();
  const head = el("tr");
  result.columns.forEach((c, i) => { const th = el("th", c); th.title = result.types[i]; head.append(th); });
  const thead = el("thead"); thead.append(head);
  const tbody = el("tbody");
  for (const row of result.rows) {
    const tr = el("tr");
    row.forEach((v, i) => tr.append(el("td", cellText(v), NUMERIC.test(result.types[i]) ? "th-num" : "")));
    tbody.append(tr);
  }
  table.append(thead, tbody);
}

function setupChart(result) {
  const controls = $("chart-controls");
  const numeric = result.columns.filter((_, i) => NUMERIC.test(result.types[i]));
  if (!result.rows.length || !numeric.length) { controls.hidden = true; $("chart").replaceChildren(); return; }
  controls.hidden = false;
  const xs = $("chart-x"), ys = $("chart-y");
  xs.replaceChildren(); ys.replaceChildren();
  result.columns.forEach((c) => xs.append(new Option(c, c)));
  numeric.forEach((c) => ys.append(new Option(c, c)));
  // Pick sensible defaults: time on x makes a line, two numbers make a scatter, text makes bars.
  const temporal = result.columns.find((_, i) => TEMPORAL.test(result.types[i]));
  const x = temporal || result.columns.find((c) => !numeric.includes(c)) || result.columns[0];
  const y = numeric.find((c) => c !== x) || numeric[0];
  xs.value = x; ys.value = y;
  const xType = result.types[result.columns.indexOf(x)];
  $("chart-kind").value = TEMPORAL.test(xType) ? "line" : NUMERIC.test(xType) ? "scatter" : "bar";
  drawChart();
}

function drawChart() {
  const box = $("chart");
  box.replaceChildren();
  if (!last) return;
  const xi = last.columns.indexOf($("chart-x").value), yi = last.columns.indexOf($("chart-y").value);
  const kind = $("chart-kind").value;
  const xType = last.types[xi];
  const W = 760, H = 260, P = 40;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("width", W); svg.setAttribute("height", H); svg.setAttribute("role", "img");
  const rows = last.rows.filter((r) => r[yi] !== null && r[yi] !== undefined);
  const ys = rows.map((r) => Number(r[yi]));
  const yMax = Math.max(0, ...ys), yMin = Math.min(0, ...ys);
  const yPos = (v) => H - P - ((v - yMin) / ((yMax - yMin) || 1)) * (H - 2 * P);
  let xPos, labels = null;
  if (kind === "bar" || !(NUMERIC.test(xType) || TEMPORAL.test(xType))) {
    labels = rows.map((r) => cellText(r[xi]));
    const step = (W - 2 * P) / Math.max(rows.length, 1);
    xPos = (_, i) => P + step * i + step / 2;
  } else {
    const xv = rows.map((r) => (TEMPORAL.test(xType) ? Date.parse(r[xi]) : Number(r[xi])));
    const xMin = Math.min(...xv), xMax = Math.max(...xv);
    xPos = (_, i) => P + ((xv[i] - xMin) / ((xMax - xMin) || 1)) * (W - 2 * P);
  }
  const axis = document.createElementNS(SVG, "path");
  axis.setAttribute("d", `M${P},${P / 2} V${H - P} H${W - P / 2}`);
  axis.setAttribute("class", "th-axis"); axis.setAttribute("fill", "none");
  svg.append(axis);
  for (const [v, y] of [[yMax, yPos(yMax)], [yMin, yPos(yMin)]]) {
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", 2); t.setAttribute("y", y + 3); t.textContent = v.toLocaleString();
    svg.append(t);
  }
  if (kind === "line") {
    const order = rows.map((_, i) => i).sort((a, b) => xPos(null, a) - xPos(null, b));
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", order.map((i) => `${xPos(null, i)},${yPos(ys[i])}`).join(" "));
    line.setAttribute("fill", "none"); line.setAttribute("stroke", "#2f6fde"); line.setAttribute("stroke-width", 1.5);
    svg.append(line);
  } else if (kind === "bar") {
    const step = (W - 2 * P) / Math.max(rows.length, 1);
    rows.forEach((r, i) => {
      const rect = document.createElementNS(SVG, "rect");
      const top = Math.min(yPos(ys[i]), yPos(0));
      rect.setAttribute("x", xPos(null, i) - step * 0.4); rect.setAttribute("width", Math.max(step * 0.8, 1));
      rect.setAttribute("y", top); rect.setAttribute("height", Math.abs(yPos(0) - yPos(ys[i])));
      rect.setAttribute("fill", "#2f6fde");
      const title = document.createElementNS(SVG, "title");
      title.textContent = `${labels ? labels[i] : cellText(r[xi])}: ${ys[i]}`;
      rect.append(title);
      svg.append(rect);
    });
  } else {
    rows.forEach((r, i) => {
      const dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("cx", xPos(null, i)); dot.setAttribute("cy", yPos(ys[i])); dot.setAttribute("r", 2.5);
      dot.setAttribute("fill", "#2f6fde");
      svg.append(dot);
    });
  }
  box.append(svg);
}

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el("a"); a.href = url; a.download = name; a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function toCsv(result) {
  const quote = (v) => { const s = cellText(v); return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s; };
  return [result.columns.map(quote).join(","), ...result.rows.map((r) => r.map(quote).join(","))].join("\n") + "\n";
}

async function run() {
  const status = $("status"), error = $("error");
  error.hidden = true;
  status.textContent = "Running…";
  try {
    const res = await fetch("/api/sql", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sql: $("sql").value }) });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
    last = body;
    renderTable(body);
    setupChart(body);
    status.textContent = `${body.rows.length} row(s) in ${body.elapsed_ms} ms` +
      (body.truncated ? ` — truncated to the row cap of ${body.rows.length}` : "");
    $("csv").disabled = $("json").disabled = false;
  } catch (err) {
    status.textContent = "";
    error.textContent = err.message;
    error.hidden = false;
  }
}

$("run").addEventListener("click", run);
$("sql").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); } });
for (const id of ["chart-kind", "chart-x", "chart-y"]) $(id).addEventListener("change", drawChart);
$("csv").addEventListener("click", () => last && download("result.csv", "text/csv", toCsv(last)));
$("json").addEventListener("click", () => last && download("result.json", "application/json",
  JSON.stringify(last.rows.map((r) => Object.fromEntries(last.columns.map((c, i) => [c, r[i]]))), null, 2)));
const initial = new URLSearchParams(location.search).get("sql");
if (initial) $("sql").value = initial;
loadCatalog();
if (initial) run();
