// The end-user's page: a video call to the operator who sent the SMS, through the Voximplant
// Web SDK. The caller has no Voximplant account: the page logs in as one of the application's
// guest users with a one-time key (the backend signs it for this link only, so the page never
// holds a password), then calls the number the routing rule runs the scenario for, with the
// link's token in customData. The scenario posts the call with media "video" and the token in
// custom_data, and the backend routes it back to the inviting operator.
const config = JSON.parse(document.getElementById("video-config").textContent);
const texts = config.texts;
const startButton = document.getElementById("start");
const hangupButton = document.getElementById("hangup");
const statusNode = document.getElementById("call-status");
let client = null;
let call = null;

function say(text, state) {
  statusNode.textContent = text;
  statusNode.dataset.state = state;
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    if (window.VoxImplant) return resolve();
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error("the video service could not be loaded"));
    document.head.append(script);
  });
}

// A refused log-in rejects with {name: "AuthResult", code, result: false}; errors are Errors.
function reason(err) {
  if (err instanceof Error) return err.message;
  if (err && typeof err === "object" && err.code) return `code ${err.code}`;
  return "unknown error";
}

async function oneTimeKey(username) {
  // Resolved (some SDK versions reject) with AuthResult {result: false, code: 302, key}.
  const r = await client.requestOneTimeLoginKey(username).catch((e) => e);
  if (!r || !r.key) throw r instanceof Error ? r : new Error(`no one-time key (${reason(r)})`);
  return r.key;
}

async function loginHash(key) {
  const res = await fetch(`/video/${encodeURIComponent(config.token)}/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ key }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error((body.error && body.error.message) || `HTTP ${res.status}`);
  return body;
}

async function connectAndLogin() {
  await loadScript(config.websdk_url);
  const Vox = window.VoxImplant;
  client = Vox.getInstance();
  const init = {
    micRequired: true,
    progressTone: true,
    remoteVideoContainerId: "remote-video",
    localVideoContainerId: "local-video",
  };
  if (config.media.node) init.node = (Vox.ConnectionNode && Vox.ConnectionNode[config.media.node]) || config.media.node;
  await client.init(init);
  if ((await client.connect()) === false) throw new Error("the video service cannot be reached");
  const key = await oneTimeKey(config.media.username);
  const { username, hash } = await loginHash(key);
  const auth = await client.loginWithOneTimeKey(username, hash);
  if (!auth || !auth.result) throw auth || new Error("no answer to the log-in");
}

async function start() {
  startButton.disabled = true;
  say(texts.calling, "calling");
  try {
    if (client === null) await connectAndLogin();
    const Vox = window.VoxImplant;
    call = client.call({
      number: config.media.number,
      video: { sendVideo: true, receiveVideo: true },
      customData: config.media.custom_data,
    });
    call.on(Vox.CallEvents.Connected, () => {
      say(texts.connected.replace("{operator}", config.operator), "connected");
      hangupButton.hidden = false;
      startButton.hidden = true;
    });
    call.on(Vox.CallEvents.Disconnected, () => {
      say(texts.ended, "ended");
      hangupButton.hidden = true;
      call = null;
    });
    call.on(Vox.CallEvents.Failed, (e) => {
      say(texts.failed.replace("{reason}", e.reason || `code ${e.code}`), "failed");
      startButton.disabled = false;
      call = null;
    });
  } catch (err) {
    client = null;
    say(texts.failed.replace("{reason}", reason(err)), "failed");
    startButton.disabled = false;
  }
}

startButton.addEventListener("click", start);
hangupButton.addEventListener("click", () => {
  if (call) call.hangup();
});
