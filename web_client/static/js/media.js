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
  client.on(Vox.Events.IncomingCall, (e) => offerToAnswer(Vox, e, card));
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
