// Calls with more than two parties on the desk: talk timer, Hold/Resume, Mute (the Web SDK's
// own), Add party (a live picker), Transfer (blind or consult, reason required), Leave, and the
// list of parties with their states.
import { del, get, post } from "./api.js";
import { $, duration, el, words } from "./dom.js";

const PARTY_STATE = { dialing: "ringing", connected: "on the line", held: "on hold", left: "left" };

export class PartyPanel {
  constructor(card) {
    this.card = card;
    this.targets = { operators: [], groups: [] };
    $("btn-hold").addEventListener("click", () => this.hold(true));
    $("btn-unhold").addEventListener("click", () => this.hold(false));
    $("btn-mute").addEventListener("click", () => this.toggleMute());
    $("btn-leave").addEventListener("click", () => this.leave());
    $("party-form").addEventListener("submit", (e) => this.addParty(e));
    $("transfer-form").addEventListener("submit", (e) => this.transfer(e));
    for (const prefix of ["party", "transfer"]) {
      $(`${prefix}-type`).addEventListener("change", () => this.renderPicker(prefix));
    }
    $("btn-refresh-targets").addEventListener("click", () => this.loadTargets());
    window.setInterval(() => this.renderTalk(), 1000);
    // The picker stays live while on a call (read from the server's view: no query there).
    window.setInterval(() => {
      if (this.onLine() && document.visibilityState === "visible") this.loadTargets();
    }, 5000);
  }

  get call() {
    return this.card.call;
  }

  // My own party on the call (the owner's or a helper's), if I am on the line.
  mine() {
    const me = this.card.operator ? this.card.operator.login : null;
    const parties = (this.call && this.call.parties) || [];
    return parties.find((p) => p.login === me && p.state !== "left") || null;
  }

  onLine() {
    const p = this.mine();
    // A voicemail or callback task handled on the desk has no parties to manage.
    const c = this.call;
    const desk = c && ["voicemail", "callback_failed"].includes(c.task);
    return Boolean(c && !desk && c.state === "connected" && p && p.state === "connected");
  }

  render() {
    const c = this.call;
    const onLine = this.onLine();
    $("in-call").hidden = !onLine;
    const held = Boolean(c && c.held_since);
    $("btn-hold").hidden = !onLine || held;
    $("btn-unhold").hidden = !onLine || !held;
    $("btn-leave").hidden = !onLine;
    const media = this.card.mediaCall;
    $("btn-mute").hidden = !onLine || !media;
    if (media) this.renderMute();
    this.renderParties();
    this.renderTalk();
    if (onLine && !this.loadedFor) {
      this.loadedFor = c.call_id;
      this.loadTargets();
    }
    if (!onLine) this.loadedFor = null;
  }

  renderParties() {
    const parties = (this.call && this.call.parties) || [];
    $("parties-list").replaceChildren(
      ...parties.map((p) => {
        const who = p.kind === "caller" ? `Caller ${p.address}` : p.login || p.address;
        const role = p.kind === "supervisor" ? ` (supervisor, ${words(p.mode || "")})`
          : p.role && p.role !== "owner" ? ` (${words(p.role)})` : "";
        const state = PARTY_STATE[p.state] || p.state;
        const outcome = p.state === "left" && p.outcome ? `: ${words(p.outcome)}` : "";
        const item = el("li", `${who}${role} — ${state}${outcome}`);
        item.dataset.state = p.state;
        item.dataset.party = p.party_id;
        return item;
      }),
    );
  }

  renderTalk() {
    const c = this.call;
    const p = this.mine();
    const since = p ? p.connected_at : c && c.connected_at;
    if (!c || !since || c.state !== "connected") {
      $("f-talk").textContent = "—";
      return;
    }
    $("f-talk").textContent = duration((Date.now() - Date.parse(since)) / 1000);
  }

  renderMute() {
    const media = this.card.mediaCall;
    const muted = Boolean(media && media.isMicrophoneMuted());
    $("btn-mute").textContent = muted ? "Unmute" : "Mute";
    $("btn-mute").setAttribute("aria-pressed", String(muted));
  }

  toggleMute() {
    const media = this.card.mediaCall;
    if (!media) return;
    if (media.isMicrophoneMuted()) media.unmuteMicrophone();
    else media.muteMicrophone();
    this.renderMute();
  }

  async loadTargets() {
    try {
      this.targets = await get("/api/v1/me/party_targets");
    } catch (err) {
      $("party-message").textContent = `Could not load operators: ${err.message}`;
      return;
    }
    this.renderPicker("party");
    this.renderPicker("transfer");
  }

  renderPicker(prefix) {
    const type = $(`${prefix}-type`).value;
    const select = $(`${prefix}-target`);
    const chosen = select.value; // kept across refreshes
    $(`${prefix}-number`).hidden = type !== "number";
    $(`${prefix}-number-label`).hidden = type !== "number";
    select.hidden = type === "number";
    $(`${prefix}-target-label`).hidden = type === "number";
    const options =
      type === "group"
        ? this.targets.groups.map((g) => [g.name, `${g.name} (${g.routable} routable)`, g.routable > 0])
        : this.targets.operators.map((o) => [
            o.login,
            `${o.login} — ${words(o.presence)}, ${words(o.activity)}`,
            o.routable,
          ]);
    select.replaceChildren(
      ...options.map(([value, text, ok]) => {
        const option = el("option", text);
        option.value = value;
        option.dataset.routable = String(ok);
        return option;
      }),
    );
    if (options.some(([value]) => value === chosen)) select.value = chosen;
  }

  target(prefix) {
    const type = $(`${prefix}-type`).value;
    const address = type === "number" ? $(`${prefix}-number`).value.trim() : $(`${prefix}-target`).value;
    return { type, address };
  }

  async act(action, done) {
    $("party-message").textContent = "";
    try {
      const reply = await action();
      if (reply && reply.parties) this.card.updateCall(reply);
      if (done) this.card.onMessage(done);
      return true;
    } catch (err) {
      $("party-message").textContent = err.message;
      return false;
    }
  }

  path(suffix) {
    return `/api/v1/calls/${encodeURIComponent(this.call.call_id)}/${suffix}`;
  }

  hold(on) {
    return this.act(() => post(this.path(on ? "hold" : "unhold"), {}), on ? "Caller on hold." : "Caller back.");
  }

  async leave() {
    const p = this.mine();
    if (!p) return;
    await this.act(() => del(this.path(`parties/${encodeURIComponent(p.party_id)}`)), "You left the call.");
  }

  async addParty(event) {
    event.preventDefault();
    const to = this.target("party");
    if (!to.address) {
      $("party-message").textContent = "Choose whom to add, or type a number.";
      return;
    }
    const reason = $("party-reason").value.trim();
    const body = reason ? { to, reason } : { to };
    await this.act(() => post(this.path("parties"), body), `Calling ${to.address}…`);
    this.loadTargets();
  }

  async transfer(event) {
    event.preventDefault();
    const to = this.target("transfer");
    const reason = $("transfer-reason").value.trim();
    if (!to.address) {
      $("party-message").textContent = "Choose the transfer target, or type a number.";
      return;
    }
    if (!reason) {
      $("party-message").textContent = "Give the reason for the transfer.";
      $("transfer-reason").focus();
      return;
    }
    const mode = document.querySelector('input[name="transfer-mode"]:checked').value;
    const ok = await this.act(
      () => post(this.path("transfer"), { to, mode, reason }),
      mode === "blind" ? "Transferred." : `Consulting ${to.address}…`,
    );
    if (ok) $("transfer-reason").value = "";
  }
}
