// Media through the Voximplant Web SDK (voximplant-websdk from npm, served as a static file).
// Login uses the one-time-key flow: the backend turns the SDK's key into the hash, so the page
// never holds a password. Without a Voximplant configuration the desk says media is off.
import { get, post } from "./api.js";
import { $ } from "./dom.js";

const RETRY_MAX_MS = 30000;

function setStatus(text, state) {
  const node = $("media-status");
  node.textContent = text;
  node.dataset.state = state;
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(script);
  });
}

async function oneTimeKey(client, username) {
  // The SDK answers a key request with AuthResult {result: false, code: 302, key}; some
  // versions resolve with it, others reject with it.
  const r = await client.requestOneTimeLoginKey(username).catch((e) => e);
  if (!r || !r.key) {
    throw new Error(r instanceof Error ? r.message : `no one-time key (code ${r && r.code})`);
  }
  return r.key;
}

export async function startMedia(config, card) {
  let info;
  try {
    info = await get("/api/v1/me/media");
  } catch (err) {
    setStatus(`Media is not connected: ${err.message}`, "off");
    return;
  }
  if (!info.enabled) {
    setStatus(info.reason.replace(/^media/, "Media"), "off");
    return;
  }
  if (!config.websdk_url) {
    setStatus("Media is not connected: the Web SDK is not installed", "off");
    return;
  }
  setStatus("Media: connecting…", "connecting");
  try {
    await loadScript(config.websdk_url);
  } catch (err) {
    setStatus(`Media is not connected: ${err.message}`, "off");
    return;
  }
  const Vox = window.VoxImplant;
  const client = Vox.getInstance();
  const init = {
    micRequired: false,
    progressTone: false,
    showDebugInfo: false,
    remoteVideoContainerId: "remote-video",
    localVideoContainerId: "local-video",
  };
  init.node = (Vox.ConnectionNode && Vox.ConnectionNode[info.node]) || info.node;
  try {
    await client.init(init);
  } catch (err) {
    setStatus(`Media is not connected: ${err.message || err}`, "off");
    return;
  }
  const incoming = new IncomingOffers(Vox, card);
  client.on(Vox.Events.IncomingCall, (e) => incoming.arrived(e));
  let delay = 1000;
  const login = async () => {
    try {
      if ((await client.connect()) === false) throw new Error("cannot reach Voximplant");
      const key = await oneTimeKey(client, info.username);
      const { hash } = await post("/api/v1/me/media/login_hash", { key });
      const auth = await client.loginWithOneTimeKey(info.username, hash);
      if (!auth.result) throw new Error(`login refused (code ${auth.code})`);
      delay = 1000;
      setStatus("Media connected", "on");
    } catch (err) {
      setStatus(`Media is not connected: ${err.message || err} — retrying`, "off");
      window.setTimeout(login, delay);
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  };
  client.on(Vox.Events.ConnectionClosed, () => {
    setStatus("Media is not connected: connection closed — retrying", "off");
    window.setTimeout(login, delay);
  });
  await login();
}

// How long an incoming call whose offer the desk has not heard of yet may wait for the
// operator state that names it (the SDK's call and the backend's push race each other).
const UNKNOWN_OFFER_WAIT_MS = 5000;

function headerOf(event, name) {
  const fromCall = event.call && typeof event.call.headers === "function" ? event.call.headers() : {};
  const all = { ...(fromCall || {}), ...(event.headers || {}) };
  const key = Object.keys(all).find((k) => k.toLowerCase() === name.toLowerCase());
  return key ? String(all[key]) : "";
}

// The scenario dials the operator with X-Call-Id and X-Offer-Id. Only the offer the desk was
// told about (the operator's offer_id) may be answered: an older offer's leg still ringing
// here, or a call that names no offer, is rejected on this device and never shown.
class IncomingOffers {
  constructor(Vox, card) {
    this.Vox = Vox;
    this.card = card;
    this.waiting = null; // {event, offerId, timer}: its offer is not the desk's (yet)
    card.onOperator(() => this.recheck());
  }

  currentOffer() {
    const op = this.card.operator;
    return op && op.offer_id ? { offerId: op.offer_id, callId: op.call_id } : null;
  }

  matches(event) {
    const current = this.currentOffer();
    const offerId = headerOf(event, "X-Offer-Id");
    const callId = headerOf(event, "X-Call-Id");
    return Boolean(current && offerId === current.offerId && (!callId || callId === current.callId));
  }

  arrived(event) {
    const offerId = headerOf(event, "X-Offer-Id");
    if (this.matches(event)) {
      offerToAnswer(this.Vox, event, this.card);
      return;
    }
    if (!offerId || this.currentOffer()) {
      // No offer named, or the desk knows a different one: this call is stale.
      this.refuse(event);
      return;
    }
    if (this.waiting) this.refuse(this.waiting.event);
    const timer = window.setTimeout(() => {
      if (this.waiting && this.waiting.event === event) {
        this.waiting = null;
        this.refuse(event);
      }
    }, UNKNOWN_OFFER_WAIT_MS);
    this.waiting = { event, timer };
  }

  recheck() {
    const w = this.waiting;
    if (!w) return;
    if (this.matches(w.event)) {
      window.clearTimeout(w.timer);
      this.waiting = null;
      offerToAnswer(this.Vox, w.event, this.card);
    } else if (this.currentOffer()) {
      window.clearTimeout(w.timer);
      this.waiting = null;
      this.refuse(w.event);
    }
  }

  refuse(event) {
    // reject() ends it on this device only; the scenario sees the leg fail.
    try {
      event.call.reject();
    } catch (err) {
      // Already ended: nothing to refuse.
    }
  }
}

function offerToAnswer(Vox, event, card) {
  const call = event.call;
  const answer = $("btn-answer");
  const decline = $("btn-decline");
  const video = Boolean(event.video) || (card.call && card.call.media === "video");
  const done = () => {
    answer.hidden = true;
    decline.hidden = true;
  };
  answer.hidden = false;
  decline.hidden = false;
  answer.textContent = video ? "Answer with video" : "Answer";
  answer.onclick = () => {
    call.answer("", {}, { sendVideo: video, receiveVideo: video });
    done();
    $("video-panel").hidden = !video;
  };
  // Declined here, the scenario reports a failed leg and the call goes to the next operator.
  decline.onclick = () => {
    call.decline();
    done();
  };
  answer.focus();
  const ended = () => {
    done();
    $("video-panel").hidden = true;
  };
  call.on(Vox.CallEvents.Disconnected, ended);
  call.on(Vox.CallEvents.Failed, ended);
}
