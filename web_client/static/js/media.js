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

// A refused log-in or key request rejects with a plain object, not an Error:
// {name: "AuthResult", code, result: false} (voximplant-websdk 4.13.1, AuthResultCode).
const AUTH_FAILURES = {
  401: "Voximplant refused your media password",
  402: "the Voximplant account's monthly user limit is reached",
  403: "the Voximplant account is frozen",
  404: "Voximplant does not know your media user",
  409: "the connection to Voximplant closed while logging in",
  491: "Voximplant says a log-in is already under way",
  500: "Voximplant had an internal error",
  701: "the Voximplant log-in token has expired",
};
// Errors the SDK throws, by their message.
const SDK_ERRORS = {
  NOT_CONNECTED_TO_VOXIMPLANT: "not connected to Voximplant",
  WRONG_CALL_STATE: "the call has already ended",
};

// A short human text for whatever the SDK rejected or threw: never "[object Object]".
export function failureText(err) {
  if (err instanceof Error) return SDK_ERRORS[err.message] || err.message || "unknown error";
  if (typeof err === "string" && err) return SDK_ERRORS[err] || err;
  if (err && typeof err === "object") {
    const code = Number(err.code);
    if (err.name === "AuthResult" || (Number.isFinite(code) && code > 0 && !err.message)) {
      const text = AUTH_FAILURES[code];
      return text ? `${text} (${code})` : `Voximplant refused the log-in (code ${err.code})`;
    }
    if (typeof err.message === "string" && err.message) return err.message;
  }
  return "unknown error";
}

async function oneTimeKey(client, username) {
  // The SDK answers a key request with AuthResult {result: false, code: 302, key}; some
  // versions resolve with it, others reject with it (a refusal rejects with another code).
  const r = await client.requestOneTimeLoginKey(username).catch((e) => e);
  if (!r || !r.key) throw (r instanceof Error || (r && r.code)) ? r : new Error("no one-time key");
  return r.key;
}

// The desk: an incoming call is answered only when it is the offer the desk was told about.
export async function startMedia(config, card) {
  await connectMedia(config, (Vox, client) => {
    const incoming = new IncomingOffers(Vox, card);
    client.on(Vox.Events.IncomingCall, (e) => incoming.arrived(e));
  });
}

// Loads the SDK and logs in with a one-time key (the desk and the supervisor's page alike);
// onClient(Vox, client) sets up what incoming calls do before the first log-in.
export async function connectMedia(config, onClient) {
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
    setStatus(`Media is not connected: ${failureText(err)}`, "off");
    return;
  }
  onClient(Vox, client);
  // One log-in at a time: a retry is scheduled only when none is running or waiting, so a
  // connection that closes during a log-in (which rejects it with 409) retries once, not twice.
  let delay = 1000;
  let loggingIn = false;
  let retry = null;
  const retryLater = (why) => {
    setStatus(`Media is not connected: ${why} — retrying`, "off");
    if (loggingIn || retry !== null) return;
    retry = window.setTimeout(() => {
      retry = null;
      login();
    }, delay);
    delay = Math.min(delay * 2, RETRY_MAX_MS);
  };
  const login = async () => {
    loggingIn = true;
    let failure = null;
    try {
      // connect() resolves false when the cloud cannot be reached (it fires ConnectionFailed).
      if ((await client.connect()) === false) throw new Error("cannot reach Voximplant");
      const key = await oneTimeKey(client, info.username);
      const { hash } = await post("/api/v1/me/media/login_hash", { key });
      const auth = await client.loginWithOneTimeKey(info.username, hash);
      if (!auth || !auth.result) throw auth || new Error("no answer to the log-in");
      delay = 1000;
      setStatus("Media connected", "on");
    } catch (err) {
      failure = err;
    } finally {
      loggingIn = false;
    }
    if (failure !== null) retryLater(failureText(failure));
  };
  client.on(Vox.Events.ConnectionClosed, () => {
    // A log-in under way fails with 409 and retries by itself.
    if (loggingIn) return;
    retryLater("the connection to Voximplant closed");
  });
  await login();
}

// How long an incoming call whose offer the desk has not heard of yet may wait for the
// operator state that names it (the SDK's call and the backend's push race each other).
const UNKNOWN_OFFER_WAIT_MS = 5000;

export function headerOf(event, name) {
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

// Why a call failed, from CallEvents.Failed {code, reason} (the SIP status and its text).
const CALL_FAILURES = {
  402: "insufficient funds on the Voximplant account",
  404: "invalid number",
  408: "no answer in time",
  409: "the connection to Voximplant closed",
  480: "the destination is unavailable",
  486: "the line is busy",
  487: "the call was cancelled before it was answered",
  603: "the call was declined",
};

export function callFailureText(event) {
  const code = Number(event && event.code);
  const reason = event && typeof event.reason === "string" ? event.reason : "";
  const text = CALL_FAILURES[code] || reason || "unknown reason";
  return Number.isFinite(code) && code > 0 ? `${text} (${code})` : text;
}

function offerToAnswer(Vox, event, card) {
  const call = event.call;
  const answer = $("btn-answer");
  const decline = $("btn-decline");
  const video = Boolean(event.video) || (card.call && card.call.media === "video");
  let answered = false;
  let declined = false;
  const done = () => {
    answer.hidden = true;
    decline.hidden = true;
  };
  answer.hidden = false;
  decline.hidden = false;
  answer.textContent = video ? "Answer with video" : "Answer";
  answer.onclick = () => {
    done();
    const couldNot = (err) => card.mediaMessage(`Could not answer: ${failureText(err)}.`);
    try {
      // 4.13.1's Call.answer throws WRONG_CALL_STATE when the call no longer rings, and
      // returns a promise (the d.ts says void) that rejects if the media cannot start.
      const started = call.answer("", {}, { sendVideo: video, receiveVideo: video });
      if (started && typeof started.catch === "function") started.catch(couldNot);
    } catch (err) {
      couldNot(err);
      return;
    }
    answered = true;
    card.setMediaCall(call); // Mute acts on this call (the Web SDK's own microphone mute)
    $("video-panel").hidden = !video;
    if (video) videoControls(call, card);
  };
  // Declined here, the scenario reports a failed leg and the call goes to the next operator.
  decline.onclick = () => {
    done();
    try {
      call.decline();
    } catch (err) {
      card.mediaMessage(`Could not decline: ${failureText(err)}.`);
      return;
    }
    declined = true;
    card.mediaMessage("You declined the call; it goes to the next operator.");
  };
  answer.focus();
  const ended = (message) => {
    done();
    card.setMediaCall(null);
    $("video-panel").hidden = true;
    // After a decline the cloud ends the leg: that is no news to the operator.
    if (!declined) card.mediaMessage(message);
  };
  call.on(Vox.CallEvents.Disconnected, (e) => {
    const elsewhere = Boolean(e && e.params && e.params.answeredElsewhere);
    if (elsewhere) ended("The call was answered on another of your devices.");
    else ended(answered ? "The call has ended." : "The call stopped ringing before you answered.");
  });
  call.on(Vox.CallEvents.Failed, (e) => ended(`The call failed: ${callFailureText(e)}.`));
}

// During a video call: the operator's own video off and on (Call.sendVideo), and pushing video
// to the caller — a screen, a window or a tab the browser offers (Call.shareScreen, which
// replaces the camera in the sent video) — and stopping it (Call.stopSharingScreen). The
// scenario relays the re-INVITEs these cause to the caller's leg.
function videoControls(call, card) {
  const camera = $("btn-camera");
  const push = $("btn-push");
  let sending = true;
  let pushing = false;
  const render = () => {
    camera.setAttribute("aria-pressed", String(sending));
    camera.textContent = sending ? "Turn my video off" : "Turn my video on";
    push.setAttribute("aria-pressed", String(pushing));
    push.textContent = pushing ? "Stop pushing video" : "Push video (share a screen or tab)";
  };
  const failed = (what) => (err) => card.mediaMessage(`Could not ${what}: ${failureText(err)}.`);
  camera.onclick = async () => {
    try {
      await call.sendVideo(!sending);
      sending = !sending;
      render();
    } catch (err) {
      failed(sending ? "turn your video off" : "turn your video on")(err);
    }
  };
  push.onclick = async () => {
    try {
      if (pushing) await call.stopSharingScreen();
      else await call.shareScreen(true, true);
      pushing = !pushing;
      render();
    } catch (err) {
      failed(pushing ? "stop pushing video" : "push video")(err);
    }
  };
  render();
}
