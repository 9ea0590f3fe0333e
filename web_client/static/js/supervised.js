// The operator's desk says when a supervisor is on their call, pushed with the call itself:
// listening (nobody hears them), whispering (only the operators hear them) or on the call
// (everyone hears them).
import { $ } from "./dom.js";

const DOING = {
  listen: "is listening",
  whisper: "is whispering to you (the caller does not hear them)",
  barge: "is on the call (everyone hears them)",
};

export function renderSupervised(call) {
  const node = $("supervised");
  const on = call && call.state === "connected" ? call.parties || [] : [];
  const sups = on.filter((p) => p.kind === "supervisor" && p.state === "connected");
  node.hidden = sups.length === 0;
  node.textContent = sups.map((p) => `Supervisor ${p.login} ${DOING[p.mode] || "is on the call"}`).join(" · ");
  node.dataset.mode = sups.length ? sups[0].mode : "";
}
