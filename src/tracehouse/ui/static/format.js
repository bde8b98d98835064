// Formatting numbers, times and colours the same way on every page.

export function duration(ns) {
  if (ns === null || ns === undefined || Number.isNaN(ns)) return "";
  const abs = Math.abs(ns);
  if (abs < 1e3) return `${ns} ns`;
  if (abs < 1e6) return `${trim(ns / 1e3)} µs`;
  if (abs < 1e9) return `${trim(ns / 1e6)} ms`;
  if (abs < 60e9) return `${trim(ns / 1e9)} s`;
  const minutes = Math.floor(abs / 60e9);
  return `${ns < 0 ? "-" : ""}${minutes}m ${trim((abs - minutes * 60e9) / 1e9)}s`;
}

function trim(x) {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

export function dateTime(micros) {
  const d = new Date(micros / 1000);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function percent(x) {
  return `${(x * 100).toFixed(x > 0 && x < 0.01 ? 2 : 1)}%`;
}

const colours = new Map();

// A stable colour per service: hue from a string hash, so a service looks the same on every page.
export function serviceColour(name) {
  if (!colours.has(name)) {
    let hash = 2166136261;
    for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 16777619);
    // Multiplying by the golden ratio spreads similar names (fizzer, buzzer) far apart on the wheel.
    const hue = Math.round(((((hash >>> 0) * 0.618033988749895) % 1) * 360));
    colours.set(name, `hsl(${hue} 55% 48%)`);
  }
  return colours.get(name);
}

export function value(v) {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}
