// Small DOM and formatting helpers (text only: nothing from the server is parsed as HTML).

export const $ = (id) => document.getElementById(id);

export function setText(id, value) {
  const node = $(id);
  if (node) node.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
}

export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

export function fillList(dl, pairs) {
  dl.replaceChildren();
  for (const [key, value] of pairs) {
    dl.append(el("dt", key), el("dd", value === "" || value === null ? "—" : value));
  }
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

export function clock(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

export const words = (code) => (code ? String(code).replaceAll("_", " ") : "");
