// Listen, whisper, barge on the supervisor's page: buttons on each connected call of the live
// floor, and the supervisor's own media (the Web SDK, logged in as on the desk). The leg the
// scenario dials for the supervisor's own request (X-Supervise, and X-Call-Id naming the call
// asked for) is answered here by itself; any other incoming call is refused on this device.
import { del, patch, post } from "./api.js";
import { $, el } from "./dom.js";
import { connectMedia, failureText, headerOf } from "./media.js";

const MODES = [
  ["listen", "Listen"],
  ["whisper", "Whisper"],
  ["barge", "Barge"],
];

export class Supervise {
  constructor(config) {
    this.me = config.login;
    this.asked = null; // the call the supervisor asked to join: its leg is answered here
    this.media = null; // the Web SDK's call of the supervisor's leg
    if (config.websdk_url) {
      connectMedia(config, (Vox, client) => {
        client.on(Vox.Events.IncomingCall, (e) => this.incoming(Vox, e));
      });
    } else {
      $("media-status").textContent = "Media is not connected: the Web SDK is not installed";
    }
  }

  // My own supervisor's party on this call (ringing or on the line), if any.
  mine(call) {
    const parties = (call && call.parties) || [];
    return parties.find((p) => p.kind === "supervisor" && p.login === this.me && p.state !== "left") || null;
  }

  incoming(Vox, event) {
    const call = event.call;
    const ours = headerOf(event, "X-Supervise") && headerOf(event, "X-Call-Id") === this.asked;
    if (!ours) {
      try {
        call.reject();
      } catch (err) {
        // Already ended: nothing to refuse.
      }
      return;
    }
    try {
      const started = call.answer("", {}, { sendVideo: false, receiveVideo: false });
      if (started && typeof started.catch === "function") {
        started.catch((err) => this.say(`Could not join the call: ${failureText(err)}.`));
      }
    } catch (err) {
      this.say(`Could not join the call: ${failureText(err)}.`);
      return;
    }
    this.media = call;
    call.on(Vox.CallEvents.Disconnected, () => {
      if (this.media === call) this.media = null;
    });
  }

  // The Supervise cell of an operator's row: Listen / Whisper / Barge (the current mode
  // pressed) and Leave once on the call; empty unless the call is connected.
  cell(call, operator) {
    const td = el("td");
    if (!call || call.state !== "connected") return td;
    const mine = this.mine(call);
    const group = el("span", null, "supervise");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", `Supervise ${operator}'s call`);
    for (const [mode, label] of MODES) {
      const button = el("button", label);
      button.type = "button";
      button.dataset.mode = mode;
      button.setAttribute("aria-pressed", String(Boolean(mine && mine.mode === mode)));
      button.addEventListener("click", () => this.choose(call.call_id, mode));
      group.append(button);
    }
    if (mine) {
      const leave = el("button", "Leave", "quiet");
      leave.type = "button";
      leave.addEventListener("click", () => this.leave(call.call_id, mine.party_id));
      group.append(leave);
      if (mine.state === "dialing") group.append(el("span", " joining…", "muted"));
    }
    td.append(group);
    return td;
  }

  // Joins with a mode, or switches the mode of the party already on the call.
  async choose(callId, mode) {
    const base = `/api/v1/calls/${encodeURIComponent(callId)}`;
    const mine = this.mine(this.calls ? this.calls(callId) : null);
    try {
      if (mine) {
        if (mine.mode === mode) return;
        await patch(`${base}/parties/${encodeURIComponent(mine.party_id)}`, { mode });
      } else {
        this.asked = callId;
        await post(`${base}/supervise`, { mode });
      }
      this.say("");
    } catch (err) {
      this.say(err.message);
    }
  }

  async leave(callId, partyId) {
    try {
      await del(`/api/v1/calls/${encodeURIComponent(callId)}/parties/${encodeURIComponent(partyId)}`);
      this.say("");
    } catch (err) {
      this.say(err.message);
    }
  }

  say(text) {
    $("supervise-message").textContent = text;
  }
}
