// The status bar: the operator's chosen presence and the system's activity, with countdowns.
import { post } from "./api.js";
import { $, duration, words } from "./dom.js";

const PRESENCE = { ready: "Ready", not_ready: "Not ready", offline: "Offline" };
const ACTIVITY = {
  idle: () => "Idle",
  offered: () => "Call offered — ringing",
  in_call: () => "In a call",
  wrap_up: (left) => `Wrap-up — ${left} left`,
  video_reserved: (left) => `Reserved for a video call — ${left} left`,
  paused_no_answer: (left) => `Paused after a missed call — ${left} left`,
  banned: (left) => `Banned after repeated missed calls — ${left} left`,
};

export class StatusBar {
  constructor({ onChanged }) {
    this.operator = null;
    this.onChanged = onChanged;
    this.pushes = 0; // operator states pushed over the socket so far
    this.replies = 0; // replies to this page's own status changes, handled
    this.lastAnnounced = "";
    for (const id of ["btn-ready", "btn-not-ready", "btn-offline"]) {
      $(id).addEventListener("click", (e) => this.choose(e.currentTarget.dataset.status));
    }
    window.setInterval(() => this.renderActivity(), 1000);
  }

  async choose(status) {
    const body = { status };
    if (status === "not_ready") body.reason = $("reason").value;
    $("status-message").textContent = "";
    const pushesBefore = this.pushes;
    try {
      const operator = await post("/api/v1/me/status", body);
      // Every change is pushed: a push that came while this request was out is as new as the
      // reply or newer (a call offered the moment Ready was written), and a slow reply
      // must not take the desk back to the state before it.
      if (this.pushes === pushesBefore) this.update(operator);
    } catch (err) {
      $("status-message").textContent = err.status === 409 ? `Not now: ${err.message}` : err.message;
    }
    this.replies += 1;
    document.body.dataset.statusReplies = String(this.replies); // tests wait on it
  }

  // The operator's state as pushed over the socket: always the newest the desk has.
  pushed(operator) {
    this.pushes += 1;
    this.update(operator);
  }

  update(operator) {
    this.operator = operator;
    const { presence, reason } = operator;
    const named = PRESENCE[presence] || words(presence);
    $("presence").textContent =
      presence === "not_ready" && reason ? `${named} (${words(reason)})` : named;
    $("presence").dataset.presence = presence;
    for (const [id, value] of [["btn-ready", "ready"], ["btn-not-ready", "not_ready"], ["btn-offline", "offline"]]) {
      $(id).setAttribute("aria-pressed", String(presence === value));
    }
    if (presence === "not_ready" && reason && [...$("reason").options].some((o) => o.value === reason)) {
      $("reason").value = reason;
    }
    this.renderActivity();
    this.onChanged(operator);
  }

  renderActivity() {
    const op = this.operator;
    if (!op) return;
    const left = op.activity_until ? (Date.parse(op.activity_until) - Date.now()) / 1000 : null;
    const describe = ACTIVITY[op.activity] || (() => words(op.activity));
    let text = describe(duration(left));
    if (op.activity === "idle") {
      text = op.presence === "ready" ? "Idle — waiting for a call" : "Idle — not taking calls";
    }
    const node = $("activity");
    node.textContent = text;
    node.dataset.activity = op.activity;
    // Announce changes of activity, not every tick of a countdown.
    const key = `${op.presence}/${op.activity}`;
    if (key !== this.lastAnnounced) {
      this.lastAnnounced = key;
      $("activity-announce").textContent = text;
    }
  }
}
