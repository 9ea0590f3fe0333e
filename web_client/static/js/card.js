// The call card: shown the moment an offer is pushed, enriched from GET /api/v1/calls/{id}/card.
import { get, post, put } from "./api.js";
import { $, clock, duration, el, fillList, setText, words } from "./dom.js";
import { renderHistory } from "./history.js";
import { PartyPanel } from "./parties.js";
import { renderSupervised } from "./supervised.js";

const STATE_TEXT = {
  queued: "Waiting",
  offering: "Ringing",
  connected: "Connected",
  ended: "Ended",
  missed: "Not answered — back in the queue",
  caller_left: "The caller hung up while it rang",
};
// Whether copy `a` of a call predates copy `b` (each change of state raises `rev`).
const isOlder = (a, b) => typeof a.rev === "number" && typeof b.rev === "number" && a.rev < b.rev;
const CONTEXT_SHOWN = ["customer_id", "page", "category", "kiosk"];
// Tasks: offered on the desk like a call; the desk ones are taken and closed here.
const TASK_KIND = {
  voicemail: "Voicemail",
  callback: "Callback",
  callback_failed: "Callback not answered",
};
const DESK_TASKS = ["voicemail", "callback_failed"];

export class CallCard {
  constructor({ config, onMessage }) {
    this.config = config;
    this.call = null;
    this.operator = null;
    this.operatorListeners = [];
    // Set when the offer that opened the card went to someone else or back to the queue.
    this.lost = false;
    this.onMessage = onMessage;
    this.mediaCall = null; // the Web SDK call answered on this desk
    $("note-form").addEventListener("submit", (e) => this.saveNote(e));
    $("disposition-form").addEventListener("submit", (e) => this.saveDisposition(e));
    $("personal-form").addEventListener("submit", (e) => this.savePersonal(e));
    $("btn-hangup").addEventListener("click", () => this.hangup());
    $("btn-video-invite").addEventListener("click", () => this.inviteToVideo());
    $("btn-video-release").addEventListener("click", () => this.releaseVideo());
    $("btn-finish").addEventListener("click", () => this.finishWrapUp());
    $("btn-close").addEventListener("click", () => this.clear());
    $("btn-manager").addEventListener("click", () => this.becomeManager());
    $("btn-take-task").addEventListener("click", () => this.takeTask());
    $("btn-close-task").addEventListener("click", () => this.closeTask());
    window.setInterval(() => this.renderWaited(), 1000);
    this.parties = new PartyPanel(this);
  }

  setMediaCall(call) {
    this.mediaCall = call;
    this.parties.render();
  }

  // The party this desk's offer is, when it is a help or transfer request (not a customer's).
  helpParty() {
    const c = this.call;
    const op = this.operator;
    if (!c || !op || !op.offer_id) return null;
    const p = (c.parties || []).find((x) => x.party_id === op.offer_id);
    return p && (p.role === "help" || p.role === "transfer") ? p : null;
  }

  get id() {
    return this.call ? this.call.call_id : null;
  }

  // A call pushed with the operator's state: a new one opens the card at once.
  show(call) {
    if (!call) return;
    if (call.call_id === this.id && !this.lost) {
      this.updateCall(call);
      return;
    }
    this.call = call;
    this.lost = false;
    $("card-empty").hidden = true;
    $("card-body").hidden = false;
    $("card-message").textContent = "";
    $("note-text").value = "";
    $("disposition").value = "";
    $("notes-list").replaceChildren();
    $("disposition-saved").textContent = "";
    $("personal-saved").textContent = "";
    for (const name of this.config.personal_fields) $(`personal-${name}`).value = "";
    $("crm-status").textContent = "Looking up…";
    $("crm-fields").replaceChildren();
    this.renderBasics();
    const kind = call.media === "video" ? "video" : "voice";
    const who = call.display_name || call.caller;
    const help = this.helpParty();
    $("card-announce").textContent = help
      ? `${help.requested_by || "A colleague"} asks for your help`
      : call.task
        ? `${TASK_KIND[call.task] || words(call.task)} from ${who}`
        : `Incoming ${kind} call from ${who}`;
    this.load();
  }

  // What the media (the Web SDK's call) says about this call: answered elsewhere, failed, …
  mediaMessage(text) {
    $("card-message").textContent = text;
  }

  updateCall(call) {
    if (!call || call.call_id !== this.id) return;
    if (isOlder(call, this.call)) return; // a push overtaken by a newer copy
    const before = this.call.manager;
    this.call = { ...this.call, ...call };
    this.renderBasics();
    // The call names the contact's manager when it changes (the caller said yes to the pin
    // question): the card shows them and stops offering "Become their manager".
    if (call.manager && call.manager !== before) this.renderManager(this.managerOf(call.manager));
  }

  managerOf(login) {
    const me = this.operator;
    return { login, name: me && me.login === login ? me.name : "" };
  }

  async load() {
    const id = this.id;
    try {
      const card = await get(`/api/v1/calls/${encodeURIComponent(id)}/card`);
      if (id !== this.id) return;
      // A push may have brought a newer state while this was read: the newer one wins.
      this.call = isOlder(card.call, this.call)
        ? { ...card.call, ...this.call }
        : { ...this.call, ...card.call };
      this.renderBasics();
      this.renderCard(card);
    } catch (err) {
      $("card-message").textContent = `Could not load the card: ${err.message}`;
    }
  }

  renderBasics() {
    const c = this.call;
    renderSupervised(c);
    const ctx = c.context || {};
    const help = this.helpParty();
    const mineParty = (c.parties || []).find((p) => this.operator && p.login === this.operator.login);
    const asked = help || (mineParty && mineParty.role !== "owner" ? mineParty : null);
    $("card-kind").textContent = asked
      ? asked.role === "transfer"
        ? "Transfer request"
        : "Help request"
      : c.task
        ? TASK_KIND[c.task] || words(c.task)
        : c.media === "video"
          ? "Video call"
          : "Voice call";
    $("card-kind").dataset.media = c.task || c.media;
    $("card").dataset.kind = asked ? asked.role : "customer";
    $("card-help").hidden = !asked;
    if (asked) {
      const why = asked.reason ? `: ${asked.reason}` : "";
      $("card-help").textContent = `${asked.requested_by || "A colleague"} asks you in${why}`;
      // The offer may be pushed a moment before the call records the party: say it once known.
      if (help && this.announcedHelp !== help.party_id) {
        this.announcedHelp = help.party_id;
        $("card-announce").textContent = `${help.requested_by || "A colleague"} asks for your help`;
      }
    }
    this.renderTask();
    const state = this.shownState();
    $("card-state").textContent = STATE_TEXT[state] || words(state);
    $("card-state").dataset.state = state;
    $("card-body").dataset.state = state;
    setText("f-caller", c.caller);
    setText("f-name", c.display_name);
    setText("f-customer", ctx.customer_id);
    setText("f-page", ctx.page);
    setText("f-category", words(ctx.category));
    setText("f-kiosk", ctx.kiosk);
    setText("f-group", c.group);
    const shown = Object.entries(ctx).map(([k, v]) => [words(k), typeof v === "string" ? v : JSON.stringify(v)]);
    const headers = Object.entries(c.headers || {});
    fillList($("attached"), [...shown, ...headers, ["Call id", c.call_id], ["Arrived", clock(c.created_at)]]);
    this.renderWaited();
    this.renderButtons();
  }

  // A voicemail (with its player) or a callback: what it is, and take / close on the desk.
  renderTask() {
    const c = this.call;
    const panel = $("task-panel");
    panel.hidden = !c.task;
    if (!c.task) return;
    $("task-title").textContent = TASK_KIND[c.task] || words(c.task);
    const player = $("voicemail-player");
    const url = c.task === "voicemail" ? c.voicemail_url : null;
    player.hidden = !url;
    if (url && player.getAttribute("src") !== url) player.setAttribute("src", url);
    let what = "";
    if (c.task === "voicemail") {
      const length = c.voicemail_s ? ` (${duration(c.voicemail_s)})` : "";
      what = `${c.caller || "A caller"} left a message${length}. Listen, then close it with a disposition.`;
    } else if (c.task === "callback") {
      what = `Calling ${c.callback_number} back for you: your phone rings once they answer.`;
    } else if (c.task === "callback_failed") {
      const n = c.callback_attempts || 0;
      what = `${c.callback_number} did not answer ${n} callback${n === 1 ? "" : "s"}. Call them yourself, then close it with a disposition.`;
    }
    $("task-what").textContent = what;
  }

  async takeTask() {
    const id = this.id;
    await this.act(() => post(`/api/v1/calls/${encodeURIComponent(id)}/accept`, {}), "Task taken.");
  }

  async closeTask() {
    const code = $("disposition").value;
    if (!code) {
      $("card-message").textContent = "Choose a disposition code first.";
      $("disposition").focus();
      return;
    }
    const id = this.id;
    await this.act(
      () => post(`/api/v1/calls/${encodeURIComponent(id)}/close`, { disposition: code }),
      "Task closed.",
    );
  }

  renderWaited() {
    const c = this.call;
    if (!c || !c.enqueued_at) return;
    const end = c.connected_at || c.ended_at;
    const seconds = ((end ? Date.parse(end) : Date.now()) - Date.parse(c.enqueued_at)) / 1000;
    setText("f-waited", duration(seconds));
  }

  renderManager(m) {
    setText("f-manager", m ? `${m.name || m.login} (${m.login})` : "");
    const me = this.operator ? this.operator.login : null;
    $("btn-manager").hidden = !me || (m && m.login === me);
  }

  // "Your manager" from the desk: this caller's calls come to me first from now on.
  async becomeManager() {
    const id = this.id;
    if (!id) return;
    try {
      const r = await put(`/api/v1/calls/${encodeURIComponent(id)}/manager`, { manager: "me" });
      if (id !== this.id) return;
      this.renderManager({ login: r.manager, name: r.name });
      this.onMessage("You are now this caller's manager.");
    } catch (err) {
      this.onMessage(`Could not set the manager: ${err.message}`);
    }
  }

  renderCard(card) {
    const { contact, crm, history } = card;
    this.renderManager(contact.manager);
    const crmText = {
      ok: "",
      not_found: "No CRM record for this contact.",
      unavailable: crm.message || "CRM unavailable",
      not_configured: "No CRM is configured.",
    };
    $("crm-status").textContent = crmText[crm.status] ?? crm.message;
    $("crm-status").dataset.status = crm.status;
    fillList($("crm-fields"), Object.entries(crm.fields || {}).map(([k, v]) => [words(k), v]));
    for (const [name, value] of Object.entries(contact.personal || {})) {
      const input = $(`personal-${name}`);
      if (input) input.value = value;
    }
    this.renderNotes(card.call.notes || []);
    $("disposition").value = card.call.disposition || "";
    $("disposition-required").hidden = !card.require_disposition;
    $("disposition-timeout").hidden = !card.require_disposition;
    renderHistory(history);
  }

  renderNotes(notes) {
    const list = $("notes-list");
    list.replaceChildren(...notes.map((n) => el("li", `${clock(n.at)} · ${n.operator}: ${n.text}`)));
  }

  // A call that left me before it was connected shows as missed, whatever the queue does next;
  // one whose caller hung up while it rang says so (it was not a no-answer).
  shownState() {
    const c = this.call;
    if (c.state === "ended" && c.end_reason === "abandoned_while_ringing") return "caller_left";
    const help = this.helpParty();
    if (help && help.state === "dialing" && c.state === "connected") return "offering";
    return this.lost && c.state !== "ended" ? "missed" : c.state;
  }

  // Called with every operator state: media.js matches the SDK's incoming call to the offer.
  onOperator(fn) {
    this.operatorListeners.push(fn);
  }

  setOperator(op) {
    this.operator = op;
    for (const fn of this.operatorListeners) fn(op);
    const c = this.call;
    // The card can open while the call still reads "queued" (the claim writes the operator
    // first), so any not-yet-connected call that is no longer mine is a lost offer.
    const pending = c && (c.state === "queued" || c.state === "offering");
    if (pending && !this.lost && op.call_id !== c.call_id) {
      this.lost = true;
      this.renderBasics();
      return;
    }
    this.renderButtons();
  }

  renderButtons() {
    const c = this.call;
    const op = this.operator || {};
    const mine = c && op.call_id === c.call_id;
    const deskTask = Boolean(c && DESK_TASKS.includes(c.task));
    // Hang up ends the whole call: the owner's button (a helper leaves instead).
    const owns = Boolean(c && c.operator === op.login);
    $("btn-hangup").hidden = !(c && c.state === "connected" && mine && owns && !deskTask);
    $("btn-take-task").hidden = !(deskTask && mine && c.state === "offering" && !this.lost);
    $("btn-close-task").hidden = !(deskTask && mine && c.state === "connected");
    const voice = c && c.state === "connected" && mine && c.media === "voice" && !c.task;
    $("btn-video-invite").hidden = !voice;
    $("btn-video-release").hidden = op.activity !== "video_reserved";
    $("btn-finish").hidden = !(mine && op.activity === "wrap_up");
    const over = c && (c.state === "ended" || this.lost);
    $("btn-close").hidden = !(over && !(mine && op.activity === "wrap_up"));
    if (this.parties) this.parties.render();
  }

  clear() {
    this.call = null;
    renderSupervised(null);
    $("card-body").hidden = true;
    $("card-empty").hidden = false;
    $("card-empty").textContent = "No call now. The next call offered to you will appear here.";
  }

  async act(action, okMessage) {
    $("card-message").textContent = "";
    try {
      await action();
      if (okMessage) this.onMessage(okMessage);
      return true;
    } catch (err) {
      $("card-message").textContent = err.message;
      return false;
    }
  }

  async saveNote(event) {
    event.preventDefault();
    const text = $("note-text").value.trim();
    if (!text) {
      $("card-message").textContent = "Write the note first.";
      $("note-text").focus();
      return;
    }
    const id = this.id;
    await this.act(async () => {
      const note = await post(`/api/v1/calls/${encodeURIComponent(id)}/notes`, { text });
      $("notes-list").append(el("li", `${clock(note.at)} · ${note.operator}: ${note.text}`));
      $("note-text").value = "";
    });
  }

  async saveDisposition(event) {
    event.preventDefault();
    const code = $("disposition").value;
    if (!code) {
      $("card-message").textContent = "Choose a disposition code first.";
      $("disposition").focus();
      return;
    }
    const id = this.id;
    await this.act(async () => {
      await put(`/api/v1/calls/${encodeURIComponent(id)}/disposition`, { code });
      $("disposition-saved").textContent = `Saved: ${words(code)}`;
    });
  }

  async savePersonal(event) {
    event.preventDefault();
    const fields = {};
    for (const name of this.config.personal_fields) fields[name] = $(`personal-${name}`).value.trim();
    const id = this.id;
    await this.act(async () => {
      await put(`/api/v1/calls/${encodeURIComponent(id)}/personal`, { fields });
      $("personal-saved").textContent = "Saved";
    });
  }

  async hangup() {
    const id = this.id;
    await this.act(() => post(`/api/v1/calls/${encodeURIComponent(id)}/hangup`, {}), "Call ended.");
  }

  // Voice to video: an SMS with a link; when this call ends the operator waits for the video call.
  async inviteToVideo() {
    const id = this.id;
    await this.act(async () => {
      const sent = await post(`/api/v1/calls/${encodeURIComponent(id)}/video_invite`, {});
      const how = sent.sms === "sent" ? "sent by SMS" : "written to the call's log (SMS not configured)";
      this.onMessage(`Video invitation ${how}. Ask the caller to end this call and open the link.`);
    });
  }

  async releaseVideo() {
    await this.act(() => post("/api/v1/me/video/release", {}), "You no longer wait for the video call.");
  }

  async finishWrapUp() {
    const done = await this.act(() => post("/api/v1/me/wrap_up/finish"), "Wrap-up finished.");
    if (done) this.clear();
  }
}
