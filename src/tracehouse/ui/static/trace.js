// The trace view: a virtualised waterfall (only the rows in sight exist in the DOM, so a
// 100,000-span trace opens as fast as a small one), a collapsible span tree, a time ruler, a
// minimap, span details, search within the trace, the critical path, download and upload.
import { h, mount, clear } from "./dom.js";
import { getJSON, postFile } from "./api.js";
import { duration, dateTime, serviceColour, value } from "./format.js";
import { traceLinks } from "./analysis_links.js";

const ROW = 24;          // px per row; fixed, so a row's position is index * ROW
const OVERSCAN = 12;     // rows drawn beyond the viewport on each side

export async function tracePage(traceId) {
  const status = h("p", { class: "muted", id: "trace-status", text: traceId ? "Loading trace…" : "" });
  const upload = uploadControl(async (file) => {
    status.textContent = `Reading ${file.name}…`;
    try {
      const view = await postFile("/api/view/upload", file);
      render(view, { fileName: file.name, original: file });
    } catch (err) {
      status.textContent = `Could not open ${file.name}: ${err.message}`;
      status.classList.add("error");
    }
  });
  if (!traceId) {
    mount(h("section", { class: "page" }, h("h1", { text: "Open a trace file" }),
      h("p", { text: "OTLP-JSON (as /api/v3/traces returns it or an exporter writes it) or Jaeger JSON (as Jaeger's UI downloads it). The file is read, shown, and not stored." }),
      upload, status));
    return;
  }
  mount(h("section", { class: "page" }, status));
  try {
    render(await getJSON(`/api/view/traces/${encodeURIComponent(traceId)}`), { traceId });
  } catch (err) {
    status.textContent = err.status === 404 ? `Trace ${traceId} was not found.` : `Could not load the trace: ${err.message}`;
    status.classList.add("error");
    status.parentElement.append(h("p", {}, "Open a trace file instead: "), upload);
  }
}

function uploadControl(onFile) {
  const input = h("input", { type: "file", accept: ".json,application/json", id: "upload-input",
    onchange: () => { if (input.files.length) onFile(input.files[0]); } });
  return h("label", { class: "upload" }, "Upload JSON trace ", input);
}

function render(view, source) {
  const spans = view.spans;
  const services = view.services;
  const total = Math.max(view.duration, 1);
  const state = { collapsed: new Set(), visible: null, selected: -1, matches: new Set(), matchList: [],
    matchCursor: -1, critical: true };

  // Critical-path segments per span position.
  const critical = new Map();
  for (const seg of view.criticalPath) {
    if (!critical.has(seg.span)) critical.set(seg.span, []);
    critical.get(seg.span).push(seg);
  }
  const byId = new Map(spans.map((sp, i) => [sp.id, i]));

  // ---- header and toolbar
  const root = spans[0];
  const errorCount = spans.reduce((n, sp) => n + (sp.status === "ERROR" ? 1 : 0), 0);
  const title = h("h1", { class: "trace-title" },
    h("span", { text: root ? `${services[root.svc]}: ${root.name}` : "(empty trace)" }),
    h("span", { class: "tid", text: view.traceId }));
  const facts = h("p", { class: "facts" },
    h("span", { text: `Started ${dateTime(Number(BigInt(view.startUnixNano) / 1000n))}` }),
    h("span", { text: `Duration ${duration(view.duration)}` }),
    h("span", { id: "span-total", text: `${spans.length} spans` }),
    h("span", { text: `${services.length} services` }),
    errorCount ? h("span", { class: "error-badge", text: `${errorCount} errors` }) : null,
    // Spans of a service whose clock is off are drawn where they ran (the one timeline, ADR 13).
    Object.keys(view.clockCorrections || {}).length ? h("span", { class: "chip", id: "clock-chip",
      title: "Each span's own duration is kept; only where it sits was corrected",
      text: "clock skew corrected: " + Object.entries(view.clockCorrections)
        .map(([svc, ns]) => `${svc} ${ns > 0 ? "+" : "−"}${duration(Math.abs(ns))}`).join(", ") }) : null,
    // Joined from fragments by inferred links (reconstruction): say so, with the weakest link.
    view.reconstructed ? h("span", { class: "chip inferred-chip", id: "reconstructed-chip",
      title: "Propagation was broken: the dashed links were inferred from timing, not received",
      text: `reconstructed: ${view.reconstructed.links} inferred link${view.reconstructed.links === 1 ? "" : "s"}, ` +
        `${view.reconstructed.traces.length} traces, lowest confidence ${Math.round(view.reconstructed.minConfidence * 100)}%` }) : null,
    source.fileName ? h("span", { class: "chip", text: `from file ${source.fileName}` }) : null);

  const find = h("input", { type: "search", id: "trace-find", placeholder: "Find in trace (name, service, attribute…)" });
  const findCount = h("span", { class: "muted", id: "find-count" });
  const nextMatch = h("button", { type: "button", id: "find-next", text: "Next", onclick: () => gotoMatch(1) });
  const cpToggle = h("input", { type: "checkbox", id: "cp-toggle", checked: true,
    onchange: () => { state.critical = cpToggle.checked; renderRows(true); } });
  const downloads = [];
  if (source.traceId) {
    downloads.push(h("a", { class: "button", id: "download-otlp", href: `/api/v3/traces/${encodeURIComponent(view.traceId)}`,
      download: `trace-${view.traceId}.otlp.json`, text: "Download OTLP-JSON" }));
    downloads.push(h("a", { class: "button", id: "download-jaeger", href: `/api/traces/${encodeURIComponent(view.traceId)}`,
      download: `trace-${view.traceId}.jaeger.json`, text: "Download Jaeger JSON" }));
  } else if (source.original) {
    const url = URL.createObjectURL(source.original);
    downloads.push(h("a", { class: "button", href: url, download: source.fileName, text: "Download file" }));
  }
  const toolbar = h("div", { class: "toolbar" },
    find, nextMatch, findCount,
    h("label", { class: "toggle" }, cpToggle, " Critical path"),
    h("button", { type: "button", id: "collapse-all", text: "Collapse all", onclick: () => {
      state.collapsed = new Set(spans.map((sp, i) => (sp.end > i + 1 ? i : -1)).filter((i) => i >= 0));
      if (spans.length) state.collapsed.delete(0);
      refresh();
    } }),
    h("button", { type: "button", id: "expand-all", text: "Expand all", onclick: () => { state.collapsed.clear(); refresh(); } }),
    downloads,
    uploadControl(async (file) => {
      const next = await postFile("/api/view/upload", file);
      history.pushState(null, "", "/trace");
      render(next, { fileName: file.name, original: file });
    }));

  // ---- minimap, ruler, rows, details
  const minimap = h("canvas", { class: "minimap", id: "minimap", height: 56 });
  const viewport = h("div", { class: "minimap-viewport" });
  const minimapBox = h("div", { class: "minimap-box" }, minimap, viewport);
  const ruler = h("div", { class: "ruler", id: "ruler" });
  const spacer = h("div", { class: "spacer" });
  const rows = h("div", { class: "rows", id: "rows", role: "tree" }, spacer);
  const details = h("aside", { class: "details", id: "span-details" }, h("p", { class: "muted", text: "Click a span to see its details." }));
  // Only a stored trace: an uploaded file's requests are not in the store the analyses read.
  const links = source.traceId && root ? traceLinks(view, services[root.svc], root.name) : null;
  mount(h("section", { class: "page trace-page" }, title, facts, links, toolbar, minimapBox,
    h("div", { class: "waterfall" }, h("div", { class: "waterfall-main" }, ruler, rows), details)));

  for (let i = 0; i <= 5; i++) {
    const tick = h("span", { class: "tick", text: duration(Math.round((total * i) / 5)) });
    tick.style.left = `calc(var(--name-width) + (100% - var(--name-width)) * ${i / 5})`;
    if (i === 5) tick.classList.add("last");
    ruler.append(tick);
  }

  function computeVisible() {
    const out = [];
    for (let i = 0; i < spans.length;) {
      out.push(i);
      i = state.collapsed.has(i) ? spans[i].end : i + 1;
    }
    state.visible = out;
    state.rowOf = new Map(out.map((pos, row) => [pos, row]));
    spacer.style.height = `${out.length * ROW}px`;
  }

  let drawnRange = "";
  function renderRows(force = false) {
    const first = Math.max(0, Math.floor(rows.scrollTop / ROW) - OVERSCAN);
    const last = Math.min(state.visible.length, Math.ceil((rows.scrollTop + rows.clientHeight) / ROW) + OVERSCAN);
    const key = `${first}:${last}`;
    if (!force && key === drawnRange) return;
    drawnRange = key;
    for (const el of rows.querySelectorAll(".row")) el.remove();
    const frag = document.createDocumentFragment();
    for (let r = first; r < last; r++) frag.append(rowFor(state.visible[r], r));
    rows.append(frag);
    updateViewport();
  }

  function rowFor(pos, r) {
    const sp = spans[pos];
    const service = services[sp.svc];
    const hasChildren = sp.end > pos + 1;
    const collapsed = state.collapsed.has(pos);
    const toggle = hasChildren
      ? h("button", { type: "button", class: "twist", "aria-label": collapsed ? "expand" : "collapse",
        text: collapsed ? "▸" : "▾", onclick: (e) => { e.stopPropagation(); toggleSpan(pos); } })
      : h("span", { class: "twist-space" });
    const name = h("div", { class: "name" }, toggle,
      sp.inferred ? h("span", { class: "inferred-link", title: `parent inferred from timing (${sp.inferred.method}), ` +
        `not received; received in trace ${sp.inferred.trace}`, text: `⇢ ${Math.round(sp.inferred.confidence * 100)}%` }) : null,
      h("span", { class: "svc", text: service }), h("span", { class: "op", text: sp.name }),
      collapsed ? h("span", { class: "hidden-count", text: `+${sp.end - pos - 1}` }) : null,
      sp.status === "ERROR" ? h("span", { class: "err-mark", title: "status ERROR", text: "!" }) : null);
    name.style.paddingLeft = `${4 + Math.min(sp.depth, 60) * 14}px`;
    name.querySelector(".svc").style.borderLeftColor = serviceColour(service);
    const bar = h("div", { class: sp.status === "ERROR" ? "bar error" : "bar" });
    bar.style.left = `${(sp.start / total) * 100}%`;
    bar.style.width = `max(2px, ${(sp.dur / total) * 100}%)`;
    bar.style.background = serviceColour(service);
    const label = h("span", { class: "bar-label", text: duration(sp.dur) });
    // Beside the bar: after it, or before it when the bar reaches the right edge.
    if ((sp.start + sp.dur) / total > 0.85) label.style.right = `calc(${(1 - sp.start / total) * 100}% + 4px)`;
    else label.style.left = `calc(${((sp.start + sp.dur) / total) * 100}% + 4px)`;
    const timeline = h("div", { class: "timeline" }, bar, label);
    if (state.critical && critical.has(pos)) {
      for (const seg of critical.get(pos)) {
        const cp = h("div", { class: "cp", title: "critical path" });
        cp.style.left = `${(seg.start / total) * 100}%`;
        cp.style.width = `max(2px, ${((seg.end - seg.start) / total) * 100}%)`;
        timeline.append(cp);
      }
    }
    const classes = ["row"];
    if (sp.inferred) classes.push("inferred");
    if (pos === state.selected) classes.push("selected");
    if (state.matches.has(pos)) classes.push("match");
    if (state.critical && critical.has(pos)) classes.push("on-cp");
    const row = h("div", { class: classes.join(" "), role: "treeitem", dataset: { pos: String(pos), spanId: sp.id },
      onclick: () => select(pos) }, name, timeline);
    row.style.top = `${r * ROW}px`;
    return row;
  }

  function toggleSpan(pos) {
    if (state.collapsed.has(pos)) state.collapsed.delete(pos); else state.collapsed.add(pos);
    refresh();
  }

  function refresh() {
    computeVisible();
    drawMinimap();
    renderRows(true);
  }

  function select(pos) {
    state.selected = pos;
    renderRows(true);
    showDetails(details, view, pos);
  }

  function reveal(pos) {
    // Expand collapsed ancestors so the span has a row, then scroll it into the middle.
    let p = spans[pos].parent ? byId.get(spans[pos].parent) : undefined;
    while (p !== undefined) {
      state.collapsed.delete(p);
      p = spans[p].parent ? byId.get(spans[p].parent) : undefined;
    }
    refresh();
    const r = state.rowOf.get(pos);
    rows.scrollTop = Math.max(0, r * ROW - rows.clientHeight / 2);
    renderRows(true);
  }

  function drawMinimap() {
    const width = minimap.clientWidth || 800;
    minimap.width = width;
    const ctx = minimap.getContext("2d");
    const height = minimap.height;
    ctx.clearRect(0, 0, width, height);
    const n = state.visible.length;
    for (let r = 0; r < n; r++) {
      const sp = spans[state.visible[r]];
      ctx.fillStyle = sp.status === "ERROR" ? "#d23c3c" : serviceColour(services[sp.svc]);
      ctx.fillRect((sp.start / total) * width, (r / n) * height, Math.max(1, (sp.dur / total) * width), Math.max(1, height / n));
    }
  }

  function updateViewport() {
    const n = Math.max(state.visible.length, 1);
    const top = rows.scrollTop / ROW / n;
    const shown = rows.clientHeight / ROW / n;
    viewport.style.top = `${Math.min(1, top) * 100}%`;
    viewport.style.height = `${Math.min(1, Math.max(shown, 0.02)) * 100}%`;
  }

  function scrollFromMinimap(event) {
    const rect = minimap.getBoundingClientRect();
    const fraction = (event.clientY - rect.top) / rect.height;
    rows.scrollTop = fraction * state.visible.length * ROW - rows.clientHeight / 2;
  }
  minimapBox.addEventListener("mousedown", (event) => {
    scrollFromMinimap(event);
    const move = (e) => scrollFromMinimap(e);
    window.addEventListener("mousemove", move);
    window.addEventListener("mouseup", () => window.removeEventListener("mousemove", move), { once: true });
  });

  let frame = 0;
  rows.addEventListener("scroll", () => {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; renderRows(); });
  });

  function runFind() {
    const needle = find.value.trim().toLowerCase();
    state.matches = new Set();
    if (needle) {
      spans.forEach((sp, i) => {
        if (matches(sp, services[sp.svc], needle)) state.matches.add(i);
      });
    }
    state.matchList = [...state.matches].sort((a, b) => a - b);
    state.matchCursor = -1;
    findCount.textContent = needle ? `${state.matches.size} match${state.matches.size === 1 ? "" : "es"}` : "";
    renderRows(true);
  }
  function gotoMatch(step) {
    if (!state.matchList.length) return;
    state.matchCursor = (state.matchCursor + step + state.matchList.length) % state.matchList.length;
    const pos = state.matchList[state.matchCursor];
    reveal(pos);
    select(pos);
  }
  find.addEventListener("input", runFind);
  find.addEventListener("keydown", (e) => { if (e.key === "Enter") gotoMatch(1); });

  computeVisible();
  drawMinimap();
  renderRows(true);
  if (spans.length) select(0);
  // For tests and the benchmark: the first screen of rows is in the DOM.
  document.body.dataset.traceDrawn = "true";
  performance.mark("trace-drawn");
}

function matches(sp, service, needle) {
  if (sp.name.toLowerCase().includes(needle) || service.toLowerCase().includes(needle) || sp.id.includes(needle)) return true;
  for (const [k, v] of Object.entries(sp.attrs)) {
    if (k.toLowerCase().includes(needle) || value(v).toLowerCase().includes(needle)) return true;
  }
  return false;
}

function kvCell(v) {
  return /\n/.test(value(v)) ? h("pre", { text: value(v) }) : value(v);
}

// `cut`: key -> full length of the values the server cut (long strings arrive shortened so a trace
// of megabyte values opens at once); `fetchFull(key)` fetches one in full when asked.
function kvTable(obj, id, cut = {}, fetchFull = null) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return h("p", { class: "muted", text: "none" });
  return h("table", { class: "kv", id },
    h("tbody", {}, entries.sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => {
      const cell = h("td", {}, kvCell(v));
      if (cut && cut[k] && fetchFull) {
        const more = h("button", { type: "button", class: "link show-full",
          text: `… show all ${cut[k].toLocaleString()} characters`,
          onclick: async () => {
            more.disabled = true;
            try {
              const full = await fetchFull(k);
              clear(cell).append(kvCell(full.value));
            } catch (err) {
              more.textContent = `could not load the full value: ${err.message}`;
            }
          } });
        cell.append(" ", more);
      }
      return h("tr", {}, h("th", { text: k }), cell);
    })));
}

function showDetails(panel, view, pos) {
  const sp = view.spans[pos];
  const resource = view.resources[sp.res];
  const section = (title, ...body) => h("section", {}, h("h3", { text: title }), ...body);
  const fetchFull = (where) => view.traceId ? (key) => getJSON(
    `/api/view/traces/${encodeURIComponent(view.traceId)}/spans/${encodeURIComponent(sp.id)}/value?` +
    new URLSearchParams({ key, where })) : null;
  clear(panel).append(
    h("h2", { text: sp.name }),
    h("p", { class: "muted" }, h("span", { text: view.services[sp.svc] }), ` · ${sp.kind.toLowerCase()} · `,
      h("span", { text: duration(sp.dur) }), ` at +${duration(sp.start)}`),
    h("dl", { class: "facts-list" },
      h("dt", { text: "Span ID" }), h("dd", { text: sp.id }),
      h("dt", { text: "Parent" }), h("dd", { text: sp.parent || "none (root)" }),
      sp.inferred ? [h("dt", { text: "Inferred" }), h("dd", { id: "span-inferred",
        text: `this parent was inferred from timing (${sp.inferred.method}), confidence ` +
          `${(sp.inferred.confidence * 100).toFixed(1)}%; the span arrived without a parent, in trace ${sp.inferred.trace}` })] : null,
      h("dt", { text: "Status" }), h("dd", { class: sp.status === "ERROR" ? "error" : "", id: "span-status",
        text: sp.msg ? `${sp.status}: ${sp.msg}` : sp.status }),
      sp.scope ? [h("dt", { text: "Scope" }), h("dd", { text: `${sp.scope} ${sp.scopeVersion || ""}` })] : null,
      sp.orphan ? [h("dt", { text: "Note" }), h("dd", { text: "parent span not in this trace" })] : null),
    section("Attributes", kvTable(sp.attrs, "span-attributes", sp.cut, fetchFull("span"))),
    section(`Resource (${resource.service})`, kvTable(resource.attributes, "span-resource", resource.cut,
      fetchFull("resource"))),
    section(`Events (${sp.events.length})`, sp.events.length ? h("ol", { class: "events", id: "span-events" },
      sp.events.map((ev, i) => h("li", { class: ev.name === "exception" ? "event exception" : "event" },
        h("div", { class: "event-head" }, h("strong", { text: ev.name }), h("span", { class: "muted", text: ` +${duration(ev.t)}` })),
        ev.attrs["exception.stacktrace"] !== undefined
          ? [kvTable(Object.fromEntries(Object.entries(ev.attrs).filter(([k]) => k !== "exception.stacktrace"))),
            h("pre", { class: "stacktrace", text: value(ev.attrs["exception.stacktrace"]) })]
          : kvTable(ev.attrs, undefined, ev.cut, fetchFull(`event:${i}`))))) : h("p", { class: "muted", text: "none" })),
    section(`Links (${sp.links.length})`, sp.links.length ? h("ul", { class: "links", id: "span-links" },
      sp.links.map((l) => h("li", {},
        h("a", { href: `/trace/${encodeURIComponent(l.trace_id)}`, text: `trace ${l.trace_id}` }),
        h("span", { text: ` span ${l.span_id}` }), kvTable(l.attributes)))) : h("p", { class: "muted", text: "none" })));
}
