// The contact's earlier calls with their notes and disposition codes.
import { $, clock, el, words } from "./dom.js";

export function renderHistory(history) {
  const list = $("history-list");
  list.replaceChildren();
  $("history-empty").hidden = history.length > 0;
  for (const h of history) {
    const item = el("li", null, "history-item");
    const head = el("p", null, "history-head");
    head.append(
      el("strong", clock(h.created_at)),
      ` · ${h.media === "video" ? "video" : "voice"} · ${words(h.outcome || h.state)}`,
      h.operator ? ` · ${h.operator}` : "",
    );
    item.append(head);
    if (h.disposition) item.append(el("p", `Disposition: ${words(h.disposition)}`, "disposition"));
    if (h.notes.length) {
      const notes = el("ul", null, "notes");
      for (const n of h.notes) notes.append(el("li", `${n.operator}: ${n.text}`));
      item.append(notes);
    }
    list.append(item);
  }
}
