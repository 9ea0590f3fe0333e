// Switchboard inbound call scenario (VoxEngine, plain ES2020, no modules).
//
// The scenario owns media; the backend owns decisions. It answers the caller,
// plays music on hold, records, registers the call with the backend, speaks
// queue announcements, and dials whichever operator the backend names through
// a `connect` command sent to this session's access URL.
//
// Deployment: a routing rule runs config.voxengine.js (defining
// SWITCHBOARD_CONFIG, see config.example.voxengine.js) before this file.

require(Modules.ASR); // the pin question listens for yes/no
require(Modules.Conference); // three or more parties on one call are mixed by a conference
require(Modules.Recorder); // a voicemail goes to its own file

const CONFIG = Object.assign(/** @type {SwitchboardConfig} */ ({
  backendUrl: 'https://switchboard.example.com',
  platformToken: 'CHANGE_ME',
  musicUrl: 'https://switchboard.example.com/static/hold-music.mp3',
  voice: null, // e.g. VoiceList.Google.en_US_Neural2_C; null means the platform default
  language: 'en-US', // sent as Accept-Language so the backend can choose its texts
  announceEverySec: 30,
  ringTimeoutSec: 25,
  goodbyeText: 'The operator has ended the call. Thank you for calling. Goodbye.',
  sorryText: 'We are sorry, we cannot take your call right now. Please try again later.',
  httpRetries: 4,
  httpTimeoutSec: 8,
  recordCalls: true,
  // Caller id for PSTN legs (overflow to a spare number) when the caller did not
  // come from the phone network: a number rented from Voximplant or a verified
  // caller id. An inbound PSTN caller's own number is passed on instead (the
  // platform allows that); SIP, Web SDK and anonymous callers need this one.
  pstnCallerId: '',
  rtpLostSec: 20, // a leg whose media stopped (RtpStopped) this long is hung up
  musicRetries: 3, // music that fails (PlaybackFinished with an error) is retried this often,
  musicRetrySec: 5, // after this many seconds times the failure count
  // The pin question ("should this operator answer your calls from now on?").
  asrProfile: 'Google.en_US', // ASRProfileList.<provider>.<language>; '' means DTMF only
  pinYesWords: ['yes', 'yeah', 'yep', 'yup', 'sure', 'of course', 'okay', 'ok', 'please do', 'correct', 'right', 'absolutely'],
  pinNoWords: ['no', 'nope', 'nah', 'no thanks', 'not really', "don't", 'do not', 'never'],
  pinMinConfidence: 0.4, // recognition results below this (0..1) are ignored
  pinTimeoutSec: 8, // when the backend's question names no timeout_s
  pinReplyWaitSec: 4, // how long goodbye waits for the backend's reply to operator_hung_up
  pinGoodbyeText: 'Thank you for calling. Goodbye.',
  // Voicemail (a group's action): a beep, then the caller's message to its own file.
  beepUrl: '', // '' means {backendUrl}/static/audio/beep.wav
  voicemailMaxSec: 120,
  voicemailEndKey: '#',
  voicemailThanksText: 'Thank you, we have your message. Goodbye.',
  // Queued callback: the caller confirms their number (1) or types another one (then #).
  callbackInputSec: 15,
  callbackConfirmText: 'We will call you back at {number}. Press 1 to confirm, or 2 to give another number.',
  callbackEnterText: 'Please enter the number we should call you back on, followed by the hash key.',
  callbackThanksText: 'Thank you. You keep your place in the queue, and we will call you back. Goodbye.',
  callbackHelloText: 'Hello, we are calling you back as you asked. Please hold while we connect you to an operator.',
  callbackSorryText: 'We are sorry, the operator could not take your call. We will call you again shortly. Goodbye.',
}), (typeof SWITCHBOARD_CONFIG !== 'undefined') ? SWITCHBOARD_CONFIG : {});

const API = '/api/v1/calls';
const MAX_IN_FLIGHT = 3; // the platform's limit of concurrent requests
const MAX_QUEUED = 30; // stay below the platform's 35 pending requests
const MAX_BACKOFF_SEC = 8;
const SAY_START_SAFETY_SEC = 10; // TTS that never reports PlaybackStarted
const SAY_END_MARGIN_SEC = 3; // past PlaybackStarted.duration, when PlaybackFinished never arrives
const DRAIN_LIMIT_SEC = 20; // how long to wait for reports before terminating
const PIN_YES_TONE = '1';
const PIN_NO_TONE = '2';
const SUPERVISE_MODES = ['listen', 'whisper', 'barge'];

/**
 * @typedef {{leg: Call, offerId: string, connected: boolean, cancelled: boolean, timer: number | null,
 *   rtpTimer: number | null}} Offer
 * @typedef {{method: string, path: string, body?: object, attempts: number, retries: number,
 *   onDone: (result: Net.HttpRequestResult) => void}} Job
 * @typedef {{body: Record<string, string | number>, onDone?: (result: Net.HttpRequestResult) => void}} PendingEvent
 * @typedef {{operator: string, asr: ASR | null, timer: number | null, done: boolean}} PinQuestion
 * @typedef {{leg: Call, partyId: string, connected: boolean, cancelled: boolean, timer: number | null,
 *   rtpTimer: number | null, mode: string, pstn: boolean}} PartyLeg
 *   mode is '' for a party, 'listen' | 'whisper' | 'barge' for a supervisor's leg
 * @typedef {{recorder: Recorder | null, url: string, maxSec: number, timer: number | null,
 *   stopped: boolean, reported: boolean}} Voicemail
 * @typedef {{number: string, digits: string, entering: boolean, timer: number | null, done: boolean}} CallbackAsk
 * @typedef {{offerId: string, number: string, target: any, timer: number | null}} CallbackSession
 */

const state = {
  sessionId: '',
  accessURL: '',
  accessSecureURL: '',
  /** @type {Call | null} */ customer: null,
  customerConnected: false, // media may flow only after the caller's Connected
  /** @type {{text: string, then: (() => void) | null} | null} */ pendingSay: null,
  /** @type {number | null} */ customerRtpTimer: null,
  musicFailures: 0,
  /** @type {AppEvents.CallAlertingEvent | null} */ alerting: null,
  callId: '',
  /** @type {Offer | null} */ offer: null,
  // Legs added to the call besides the owner's (help, conference, transfer), by party_id.
  /** @type {Record<string, PartyLeg>} */ parties: {},
  /** @type {Conference | null} */ conference: null, // created with the first added party
  /** @type {Conference | null} */ whisper: null, // the operators' mix while a supervisor whispers
  held: false, // the caller hears music and nobody hears the caller
  /** @type {string[]} */ removedParties: [], // removed before their add_party arrived
  playing: '', // '' | 'music' | 'say'
  /** @type {(() => void) | null} */ afterSay: null,
  /** @type {number | null} */ sayTimer: null,
  /** @type {number | null} */ announceTimer: null,
  customerGone: false,
  closing: false, // hangup decided: no more reports about legs we end ourselves
  /** @type {PendingEvent[]} */ pendingEvents: [],
  /** @type {PinQuestion | null} */ pin: null,
  /** @type {Voicemail | null} */ voicemail: null,
  /** @type {{key: string, say: string} | null} */ callbackOffer: null, // the backend offers callbacks
  /** @type {CallbackAsk | null} */ callbackAsk: null,
  /** @type {CallbackSession | null} */ callback: null, // this session IS a callback (StartScenarios)
  /** @type {Job[]} */ queue: [],
  inFlight: 0,
  retrying: 0, // jobs waiting out a back-off
  terminateWhenDrained: false,
};

// ---------------------------------------------------------------- errors

/**
 * Wraps a callback the platform runs (event handler, timer, Net continuation):
 * an uncaught error would end the whole session on the platform, so it is
 * logged and the call goes on.
 * @template {any[]} A
 * @template R
 * @param {string} label
 * @param {(...args: A) => R} fn
 * @param {R} [fallback] returned when fn throws
 * @returns {(...args: A) => R | undefined}
 */
function guard(label, fn, fallback) {
  return function () {
    try {
      return fn.apply(null, /** @type {A} */ (/** @type {unknown} */ (arguments)));
    } catch (err) {
      Logger.write('switchboard: error in ' + label + ': ' + (err && /** @type {Error} */ (err).stack ? /** @type {Error} */ (err).stack : err));
      return fallback;
    }
  };
}

/**
 * setTimeout with a guarded callback.
 * @param {string} label
 * @param {() => void} fn
 * @param {number} ms
 */
function later(label, fn, ms) {
  return setTimeout(guard(label, fn), ms);
}

// ---------------------------------------------------------------- HTTP to the backend

function backendHeaders() {
  return {
    'Content-Type': 'application/json',
    'Authorization': 'Bearer ' + CONFIG.platformToken,
    'Accept-Language': CONFIG.language,
  };
}

/** @param {Net.HttpRequestResult} result */
function isRetryable(result) {
  return result.code <= 0 || result.code >= 500;
}

/**
 * Queues a request; at most MAX_IN_FLIGHT run at once.
 * @param {string} method
 * @param {string} path
 * @param {object | undefined} body
 * @param {number} retries
 * @param {(result: Net.HttpRequestResult) => void} onDone
 */
function enqueue(method, path, body, retries, onDone) {
  if (state.queue.length >= MAX_QUEUED) {
    Logger.write('switchboard: request queue full, dropping ' + method + ' ' + path);
    return;
  }
  state.queue.push({ method: method, path: path, body: body, attempts: 0, retries: retries, onDone: onDone });
  pump();
}

function pump() {
  while (state.inFlight < MAX_IN_FLIGHT && state.queue.length > 0) {
    const job = /** @type {Job} */ (state.queue.shift());
    send(job);
  }
  if (state.terminateWhenDrained && state.inFlight === 0 && state.queue.length === 0 && state.retrying === 0) {
    terminate();
  }
}

/** @param {Job} job */
function send(job) {
  state.inFlight += 1;
  job.attempts += 1;
  /** @type {Net.HttpRequestOptions} */
  const options = {
    method: job.method,
    headers: backendHeaders(),
    timeout: CONFIG.httpTimeoutSec,
  };
  if (job.body !== undefined) options.postData = JSON.stringify(job.body);
  Net.httpRequestAsync(CONFIG.backendUrl + job.path, options).then(guard('HTTP reply to ' + job.method + ' ' + job.path, function (result) {
    state.inFlight -= 1;
    if (isRetryable(result) && job.attempts <= job.retries) {
      // Back off 1, 2, 4, 8 s; the job holds no in-flight slot meanwhile.
      const delay = Math.min(MAX_BACKOFF_SEC, Math.pow(2, job.attempts - 1));
      Logger.write('switchboard: ' + job.method + ' ' + job.path + ' got ' + result.code + ', retry in ' + delay + ' s');
      state.retrying += 1;
      later('retry', function () {
        state.retrying -= 1;
        state.queue.unshift(job);
        pump();
      }, delay * 1000);
    } else {
      // A failing onDone must not stall the queue.
      guard('handling ' + job.method + ' ' + job.path, job.onDone)(result);
    }
    pump();
  }));
}

/** @param {string | undefined} text (only `code` is always in a Net result) */
function parseJson(text) {
  if (typeof text !== 'string') return null;
  try {
    return JSON.parse(text);
  } catch (err) {
    return null;
  }
}

/**
 * Reports an event about this call; queued until the backend has given a call_id.
 * @param {string} type
 * @param {Record<string, string | number>} [fields]
 * @param {(result: Net.HttpRequestResult) => void} [onDone] gets the backend's reply
 */
function report(type, fields, onDone) {
  const body = Object.assign({ type: type }, fields || {});
  // A callback session's events name the offer it serves: the backend applies them to it only.
  if (state.callback && !body.offer_id) body.offer_id = state.callback.offerId;
  if (!state.callId) {
    state.pendingEvents.push({ body: body, onDone: onDone });
    return;
  }
  postEvent({ body: body, onDone: onDone });
}

/** @param {PendingEvent} event */
function postEvent(event) {
  const body = event.body;
  enqueue('POST', API + '/' + encodeURIComponent(state.callId) + '/events', body, CONFIG.httpRetries, function (result) {
    if (result.code < 200 || result.code >= 300) {
      Logger.write('switchboard: event ' + JSON.stringify(body) + ' failed with ' + result.code + ' ' + (result.error || ''));
    }
    if (event.onDone) event.onDone(result);
  });
}

// ---------------------------------------------------------------- call registration

/**
 * Whether the caller offers video. The typings describe the scheme as codec
 * information shaped {<stream>: {audio, video}} (CallParameters.scheme): a
 * stream with video codecs means video. A scheme that is not in that shape
 * says nothing, and then the Web SDK page's custom data decides
 * ({"media": "video"}); otherwise it is a voice call. The word "video"
 * anywhere in the scheme's text proves nothing: voice schemes name the kind too.
 * @param {AppEvents.CallAlertingEvent} e
 */
function isVideo(e) {
  const fromScheme = schemeVideo(e.scheme);
  if (fromScheme !== null) return fromScheme;
  const data = parseJson(e.customData);
  return Boolean(data && typeof data === 'object' && data.media === 'video');
}

/**
 * @param {unknown} scheme
 * @returns {boolean | null} null when the scheme is not in the documented shape
 */
function schemeVideo(scheme) {
  const value = typeof scheme === 'string' ? parseJson(scheme) : scheme;
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const streams = Object.keys(value).map(function (k) { return /** @type {Record<string, any>} */ (value)[k]; })
    .filter(function (v) { return v && typeof v === 'object' && ('audio' in v || 'video' in v); });
  if (streams.length === 0) return null;
  return streams.some(function (v) {
    const video = v.video;
    if (Array.isArray(video)) return video.length > 0;
    if (video && typeof video === 'object') return Object.keys(video).length > 0;
    return Boolean(video);
  });
}

/** @param {Record<string, string> | undefined} headers */
function xHeaders(headers) {
  /** @type {Record<string, string>} */
  const out = {};
  Object.keys(headers || {}).forEach(function (key) {
    if (/^x-/i.test(key)) out[key] = String((headers || {})[key]);
  });
  return out;
}

/** @param {AppEvents.CallAlertingEvent} e */
function registerCall(e) {
  const body = {
    session_id: state.sessionId,
    access_url: state.accessURL,
    access_secure_url: state.accessSecureURL,
    caller: String(e.callerid || ''),
    destination: String(e.destination || ''),
    display_name: String(e.displayName || ''),
    media: isVideo(e) ? 'video' : 'voice',
    custom_data: e.customData ? String(e.customData) : '',
    headers: xHeaders(e.headers),
  };
  enqueue('POST', API, body, CONFIG.httpRetries, function (result) {
    const reply = result.code === 200 || result.code === 201 ? parseJson(result.text) : null;
    if (!reply || !reply.call_id) {
      Logger.write('switchboard: cannot register the call: ' + result.code + ' ' + (result.error || result.text || ''));
      giveUp();
      return;
    }
    state.callId = String(reply.call_id);
    state.pendingEvents.splice(0).forEach(postEvent);
    if (state.customerGone || state.closing) return;
    state.callbackOffer = callbackOfferOf(reply.callback);
    if (state.callbackOffer && state.customer) state.customer.handleTones(true);
    if (reply.action && typeof reply.action === 'object') {
      // Closed, nobody to take the call, ...: the backend's action says what happens.
      if (onAction(reply.action)) return;
    } else if (reply.say) {
      say(String(reply.say) + (state.callbackOffer ? ' ' + state.callbackOffer.say : ''));
    }
    scheduleAnnouncement();
  });
}

/**
 * A group's action (closed, no agents, waited too long). Goodbye ends the
 * call after the words; another group or a number only needs the words (the
 * backend routes, and sends `connect` for a number).
 * @param {any} action
 * @returns {boolean} true when the call is ending
 */
function onAction(action) {
  const text = typeof action.say === 'string' ? action.say : '';
  if (action.type === 'goodbye') {
    closeWithWords(text || CONFIG.sorryText);
    return true;
  }
  if (action.type === 'voicemail') {
    startVoicemail(text, Number(action.max_length_s));
    return true;
  }
  if (action.type === 'callback') {
    askCallback(text);
    return true;
  }
  if (text) say(text);
  return false;
}

/**
 * Says the words, then ends the call (no report: the backend decided it).
 * @param {string} text
 */
function closeWithWords(text) {
  state.closing = true;
  if (state.offer) dropOffer(state.offer);
  if (state.announceTimer !== null) clearTimeout(state.announceTimer);
  state.announceTimer = null;
  say(text, hangUpAll);
}

// ---------------------------------------------------------------- caller media

function startMusic() {
  const customer = state.customer;
  if (!customer || !state.customerConnected || state.customerGone || state.closing) return;
  if (talkingLegs().length > 0 && !state.held) return;
  // End whatever still plays: a replaced looped playback may keep its media
  // player (10 per session) and play on to no one.
  customer.stopPlayback();
  customer.startPlayback(CONFIG.musicUrl, { loop: true });
  state.playing = 'music';
}

/** The caller hears the operator again, or music while waiting. */
function resumeAudio() {
  const customer = state.customer;
  if (!customer || state.customerGone) return;
  if (talkingLegs().length > 0 && !state.held) remix(true);
  else startMusic();
}

// ---------------------------------------------------------------- who hears whom

/**
 * The legs on the line with the caller now: the owner's and the added parties'.
 * @returns {Call[]}
 */
function talkingLegs() {
  /** @type {Call[]} */
  const legs = [];
  if (state.offer && state.offer.connected) legs.push(state.offer.leg);
  Object.keys(state.parties).forEach(function (id) {
    const p = state.parties[id];
    if (p.connected && !p.cancelled && !p.mode) legs.push(p.leg);
  });
  return legs;
}

/**
 * Supervisors' legs on the line (listen, whisper, barge). Not talking legs: they never keep
 * the call going and the caller's signalling never reaches them.
 * @returns {PartyLeg[]}
 */
function supervisorLegs() {
  return Object.keys(state.parties)
    .map(function (id) { return state.parties[id]; })
    .filter(function (p) { return p.mode && p.connected && !p.cancelled; });
}

/**
 * The operators' legs, which hear a whisper: the owner's and every added leg not dialled over
 * PSTN (an external number is always a PSTN leg; operators are Web SDK users or SIP).
 * @returns {Call[]}
 */
function operatorLegs() {
  /** @type {Call[]} */
  const legs = [];
  if (state.offer && state.offer.connected) legs.push(state.offer.leg);
  Object.keys(state.parties).forEach(function (id) {
    const p = state.parties[id];
    if (p.connected && !p.cancelled && !p.mode && !p.pstn) legs.push(p.leg);
  });
  return legs;
}

/**
 * Sets who hears whom from the state: one leg with the caller is bridged directly
 * (as before); from the first added party on, everyone is mixed by a conference
 * (VoxEngine.createConference, Modules.Conference) and stays in it, so when one of
 * three leaves the other two keep talking. On hold the caller hears the music and
 * sends nothing: the operators hear only each other.
 * @param {boolean} [afterSay] the caller heard an announcement: only their hearing changes
 */
function remix(afterSay) {
  remixTalkers(afterSay);
  routeSupervisors();
}

/** @param {boolean} [afterSay] */
function remixTalkers(afterSay) {
  const customer = state.customer;
  if (!customer || state.customerGone || !state.customerConnected) return;
  const legs = talkingLegs();
  const conf = state.conference;
  if (conf) {
    legs.forEach(function (leg) { VoxEngine.sendMediaBetween(leg, conf); });
  }
  if (legs.length === 0) {
    if (conf) customer.stopMediaTo(conf);
    startMusic();
    return;
  }
  if (state.held) {
    // Nobody hears the caller; the caller hears the music.
    if (conf) customer.stopMediaTo(conf);
    else customer.stopMediaTo(legs[0]);
    customer.stopPlayback();
    customer.startPlayback(CONFIG.musicUrl, { loop: true });
    state.playing = 'music';
    return;
  }
  if (state.playing === 'say') return; // the caller hears the end of the announcement first
  customer.stopPlayback();
  state.playing = '';
  if (conf) VoxEngine.sendMediaBetween(customer, conf);
  else if (afterSay) legs[0].sendMediaTo(customer); // the operator never stopped hearing the caller
  else VoxEngine.sendMediaBetween(customer, legs[0]);
}

/**
 * Who hears a supervisor, with one-way media (call.sendMediaTo / stopMediaTo, documented as
 * one-way; a call hears one stream and sends to any number of units). A supervisor always
 * hears the call's conference, which mixes everyone who talks. listen: the supervisor sends
 * nothing. barge: the supervisor sends to the conference too, so everyone hears them.
 * whisper: a second conference mixes everyone who sends to the first plus the supervisor,
 * and the operators hear that one instead (a conference never sends a leg its own voice):
 * the operators hear the supervisor, the caller and any number never do.
 */
function routeSupervisors() {
  const customer = state.customer;
  const conf = state.conference;
  if (!customer || state.customerGone || !state.customerConnected || !conf) return;
  const sups = supervisorLegs();
  const whisperers = sups.filter(function (p) { return p.mode === 'whisper'; });
  if (whisperers.length > 0) {
    if (!state.whisper) state.whisper = VoxEngine.createConference({ hd_audio: false });
    const w = state.whisper;
    talkingLegs().forEach(function (leg) { leg.sendMediaTo(w); });
    if (state.held) customer.stopMediaTo(w); // nobody hears a held caller
    else customer.sendMediaTo(w);
    whisperers.forEach(function (p) { p.leg.sendMediaTo(w); });
    operatorLegs().forEach(function (leg) { w.sendMediaTo(leg); }); // replaces the call's mix
  } else if (state.whisper) {
    state.whisper.stop();
    state.whisper = null;
    operatorLegs().forEach(function (leg) { conf.sendMediaTo(leg); }); // the call's mix again
  }
  sups.forEach(function (p) {
    conf.sendMediaTo(p.leg); // every supervisor hears the whole call
    if (p.mode === 'barge') p.leg.sendMediaTo(conf);
    else p.leg.stopMediaTo(conf);
    if (p.mode !== 'whisper' && state.whisper) p.leg.stopMediaTo(state.whisper);
  });
}

/** The conference, created when the call first gets a third party. */
function ensureConference() {
  if (!state.conference) state.conference = VoxEngine.createConference({ hd_audio: false });
  return state.conference;
}

/**
 * Speaks to the caller. A call hears one stream, so TTS replaces the music
 * (or the operator) until PlaybackFinished.
 * @param {string} text
 * @param {() => void} [then] runs instead of resuming audio
 */
function say(text, then) {
  const customer = state.customer;
  if (!customer || state.customerGone) return;
  if (!state.customerConnected) {
    // Media only after Connected; the latest text wins.
    state.pendingSay = { text: text, then: then || null };
    return;
  }
  state.afterSay = then || null;
  // Stop the music (or an earlier TTS) first: otherwise its PlaybackFinished
  // could arrive after this say() and end the announcement early.
  customer.stopPlayback();
  state.playing = 'say';
  armSayTimer(SAY_START_SAFETY_SEC);
  customer.say(text, CONFIG.voice ? { voice: CONFIG.voice } : {});
}

/** @param {number} seconds until the TTS counts as finished without PlaybackFinished */
function armSayTimer(seconds) {
  if (state.sayTimer !== null) clearTimeout(state.sayTimer);
  state.sayTimer = later('TTS safety timer', sayFinished, seconds * 1000);
}

/** @param {CallEvents.PlaybackStartedEvent} e */
function onPlaybackStarted(e) {
  if (state.playing !== 'say') return;
  // The safety timer follows the real length of this TTS (seconds).
  const duration = Number(e.duration);
  if (Number.isFinite(duration) && duration >= 0) armSayTimer(duration + SAY_END_MARGIN_SEC);
}

function sayFinished() {
  if (state.sayTimer !== null) clearTimeout(state.sayTimer);
  state.sayTimer = null;
  state.playing = '';
  const next = state.afterSay;
  state.afterSay = null;
  if (next) next();
  else resumeAudio();
}

/** @param {CallEvents.PlaybackFinishedEvent} e */
function onPlaybackFinished(e) {
  if (state.playing === 'beep') {
    state.playing = '';
    if (state.voicemail) startRecording(state.voicemail);
  } else if (state.playing === 'say') {
    if (e.error) Logger.write('switchboard: TTS failed: ' + e.error);
    sayFinished();
  } else if (state.playing === 'music') {
    // Looped music only ends on an error (a bad file or URL): retry a few
    // times with a pause, never in a tight loop; then the caller waits in silence.
    state.playing = '';
    state.musicFailures += 1;
    Logger.write('switchboard: music stopped: ' + (e.error || 'finished') + ' (failure ' + state.musicFailures + ')');
    if (state.musicFailures <= CONFIG.musicRetries) {
      later('music retry', function () {
        if (state.playing === '') startMusic();
      }, CONFIG.musicRetrySec * state.musicFailures * 1000);
    }
  }
}

/** The caller's leg is up: media may flow now. */
function onCustomerConnected() {
  const customer = /** @type {Call} */ (state.customer);
  state.customerConnected = true;
  if (CONFIG.recordCalls) customer.record({ stereo: true });
  // While closing, only a pending goodbye or apology is still spoken.
  if (state.customerGone || (state.closing && !state.pendingSay)) return;
  const pending = state.pendingSay;
  state.pendingSay = null;
  if (pending) say(pending.text, pending.then || undefined);
  else startMusic();
}

/**
 * RtpStopped: the party's media stopped (network lost, phone gone). If it
 * does not resume within rtpLostSec the leg is hung up, and its
 * Disconnected handler takes it from there.
 * @param {Call} call
 * @param {(timer: number | null) => void} setTimer
 * @param {string} who
 */
function watchRtp(call, setTimer, who) {
  /** @type {number | null} */
  let timer = null;
  call.addEventListener(CallEvents.RtpStopped, guard(who + ' RtpStopped', function () {
    Logger.write('switchboard: no media from the ' + who + ' (RtpStopped)');
    if (timer !== null) return;
    timer = later(who + ' RTP timeout', function () {
      timer = null;
      setTimer(null);
      Logger.write('switchboard: the ' + who + "'s media did not resume in " + CONFIG.rtpLostSec + ' s: hanging up');
      call.hangup();
    }, CONFIG.rtpLostSec * 1000);
    setTimer(timer);
  }));
  call.addEventListener(CallEvents.RtpResumed, guard(who + ' RtpResumed', function () {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    setTimer(null);
  }));
}

/**
 * Relays signalling between the caller and the legs on the line with them, as
 * the platform's easyProcess does for two: messages, SIP INFO and re-INVITEs
 * (video on/off, screen sharing, hold). The caller's go to every such leg; a
 * leg's go to the caller.
 * @param {Call} from
 * @param {() => Call[]} to the other legs (none when not bridged now)
 * @param {string} who
 */
function relaySignalling(from, to, who) {
  from.addEventListener(CallEvents.MessageReceived, guard(who + ' MessageReceived', function (e) {
    to().forEach(function (other) { other.sendMessage(e.text); });
  }));
  from.addEventListener(CallEvents.InfoReceived, guard(who + ' InfoReceived', function (e) {
    to().forEach(function (other) { other.sendInfo(e.mimeType, e.body, e.headers); });
  }));
  from.addEventListener(CallEvents.ReInviteReceived, guard(who + ' ReInviteReceived', function (e) {
    to().forEach(function (other) { other.reInvite(e.headers || {}, e.mimeType, e.body); });
  }));
  from.addEventListener(CallEvents.ReInviteAccepted, guard(who + ' ReInviteAccepted', function (e) {
    to().forEach(function (other) { other.acceptReInvite(e.headers || {}, e.mimeType, e.body); });
  }));
  from.addEventListener(CallEvents.ReInviteRejected, guard(who + ' ReInviteRejected', function (e) {
    to().forEach(function (other) { other.rejectReInvite(e.headers || {}); });
  }));
}

/**
 * Signalling from an added leg goes to the caller while that leg is on the line.
 * @param {PartyLeg} party
 * @returns {Call[]}
 */
function callerFor(party) {
  return party.connected && !party.cancelled && !state.customerGone && state.customer ? [state.customer] : [];
}

/**
 * The legs the caller's signalling goes to now (every leg on the line with them).
 * @returns {Call[]}
 */
function bridgedOperators() {
  return state.customerGone ? [] : talkingLegs();
}

// ---------------------------------------------------------------- queue announcements

function scheduleAnnouncement() {
  if (state.announceTimer !== null) clearTimeout(state.announceTimer);
  state.announceTimer = later('announcement', announce, CONFIG.announceEverySec * 1000);
}

function announce() {
  state.announceTimer = null;
  if (!state.callId || state.customerGone || state.closing || (state.offer && state.offer.connected)) return;
  enqueue('GET', API + '/' + encodeURIComponent(state.callId), undefined, 0, function (result) {
    const call = result.code === 200 ? parseJson(result.text) : null;
    if (state.customerGone || state.closing || (state.offer && state.offer.connected)) return;
    if (call && call.state === 'queued' && call.position && state.playing !== 'say' && !state.callbackAsk) {
      const offer = callbackOfferOf(call.callback);
      say(positionText(Number(call.position), call.estimated_wait_s) + (offer ? ' ' + offer.say : ''));
    }
    scheduleAnnouncement();
  });
}

/**
 * @param {number} position
 * @param {number | undefined} waitSeconds
 */
function positionText(position, waitSeconds) {
  let text = 'You are number ' + position + ' in the queue.';
  if (typeof waitSeconds === 'number' && waitSeconds >= 0) {
    const minutes = Math.max(1, Math.ceil(waitSeconds / 60));
    text += ' Estimated wait: about ' + minutes + (minutes === 1 ? ' minute.' : ' minutes.');
  }
  return text;
}

// ---------------------------------------------------------------- operator legs

/**
 * @param {string} text
 * @param {number} fallback
 */
function ringTimeout(text, fallback) {
  const n = Number(text);
  return Math.min(400, Math.max(10, Number.isFinite(n) && n > 0 ? Math.round(n) : fallback));
}

/**
 * @param {any} cmd the connect command
 * @returns {Call}
 */
function dial(cmd) {
  // A callback session has no CallAlerting: the operator sees the number called back.
  const e = state.alerting || { callerid: state.callback ? state.callback.number : '', displayName: '', scheme: undefined };
  const target = cmd.target;
  const address = String(target.address);
  const video = cmd.video === true;
  const timeoutSec = ringTimeout(cmd.ring_timeout_s, CONFIG.ringTimeoutSec);
  const headers = xHeaders(cmd.headers);
  if (target.type === 'user') {
    return VoxEngine.callUser({
      username: address,
      callerid: e.callerid,
      displayName: e.displayName,
      video: video,
      scheme: e.scheme,
      extraHeaders: Object.assign({}, headers, { 'VI-CallTimeout': String(timeoutSec) }),
    });
  }
  if (target.type === 'sip') {
    return VoxEngine.callSIP(address, {
      callerid: e.callerid,
      displayName: e.displayName,
      headers: headers,
      video: video,
      scheme: e.scheme,
    });
  }
  return VoxEngine.callPSTN(address, /** @type {string} */ (pstnCallerId()));
}

/** Whether the caller came in from the phone network (their number may then be passed on). */
function isPstnCaller() {
  const customer = state.customer;
  return Boolean(customer && customer.clientType() === 'pstn' && state.alerting && state.alerting.callerid);
}

/**
 * The caller id for a PSTN leg: an inbound PSTN caller's own number, else the
 * configured pstnCallerId (the platform refuses a SIP URI, a Web SDK username
 * or an empty id as a PSTN caller id). null when there is none.
 * @returns {string | null}
 */
function pstnCallerId() {
  if (isPstnCaller()) return String(/** @type {AppEvents.CallAlertingEvent} */ (state.alerting).callerid);
  return CONFIG.pstnCallerId ? String(CONFIG.pstnCallerId) : null;
}

/** @param {any} cmd */
function connect(cmd) {
  const target = cmd.target;
  if (!cmd.offer_id || !target || ['user', 'sip', 'pstn'].indexOf(target.type) < 0 || !target.address) {
    return { ok: false, command: 'connect', error: 'bad_request' };
  }
  const offerId = String(cmd.offer_id);
  if (!state.customer || state.customerGone || state.closing) {
    return { ok: false, command: 'connect', offer_id: offerId, error: 'call_ended' };
  }
  if (state.offer && state.offer.offerId === offerId) {
    return { ok: true, command: 'connect', offer_id: offerId, duplicate: true };
  }
  if (state.offer && state.offer.connected) {
    return { ok: false, command: 'connect', offer_id: offerId, error: 'already_connected' };
  }
  // A call never rings two targets: drop the leg that is still ringing.
  if (state.offer) dropOffer(state.offer);

  if (target.type === 'pstn' && pstnCallerId() === null) {
    // Accepted, then failed like a leg that could not be placed: the backend
    // moves on (a refused connect would end the call).
    Logger.write('switchboard: no caller id for a PSTN leg: set pstnCallerId (a rented or verified number)');
    report('operator_failed', { offer_id: offerId, code: 403, reason: 'No caller id for PSTN (pstnCallerId is not set)' });
    return { ok: true, command: 'connect', offer_id: offerId };
  }
  const leg = dial(cmd);
  /** @type {Offer} */
  const offer = { leg: leg, offerId: offerId, connected: false, cancelled: false, timer: null, rtpTimer: null };
  state.offer = offer;
  // callUser ends itself after VI-CallTimeout; SIP and PSTN legs need our own timer.
  const timeoutSec = ringTimeout(cmd.ring_timeout_s, CONFIG.ringTimeoutSec) + (target.type === 'user' ? 5 : 0);
  offer.timer = later('ring timeout', function () { ringTimedOut(offer); }, timeoutSec * 1000);
  leg.addEventListener(CallEvents.Connected, guard('operator Connected', function () { onOperatorConnected(offer); }));
  leg.addEventListener(CallEvents.Failed, guard('operator Failed', function (e) { onOperatorFailed(offer, e); }));
  leg.addEventListener(CallEvents.Disconnected, guard('operator Disconnected', function () { onOperatorDisconnected(offer); }));
  watchRtp(leg, function (t) { offer.rtpTimer = t; }, 'operator');
  relaySignalling(leg, function () { return state.offer === offer && offer.connected && !state.customerGone && state.customer ? [state.customer] : []; }, 'operator');
  return { ok: true, command: 'connect', offer_id: offerId };
}

/**
 * Hangs up a leg we no longer want; its Failed/Disconnected is not reported.
 * @param {Offer} offer
 */
function dropOffer(offer) {
  offer.cancelled = true;
  if (offer.timer !== null) clearTimeout(offer.timer);
  if (offer.rtpTimer !== null) clearTimeout(offer.rtpTimer);
  if (state.offer === offer) state.offer = null;
  offer.leg.hangup();
}

/** @param {Offer} offer */
function ringTimedOut(offer) {
  offer.timer = null;
  if (offer.connected || offer.cancelled) return;
  dropOffer(offer);
  report('operator_failed', { offer_id: offer.offerId, code: 408, reason: 'Ring timeout' });
  if (state.callback) closeWithWords(CONFIG.callbackSorryText);
}

/** @param {Offer} offer */
function onOperatorConnected(offer) {
  if (offer.cancelled || state.offer !== offer || state.customerGone || state.closing) {
    offer.cancelled = true;
    offer.leg.hangup();
    return;
  }
  if (offer.timer !== null) clearTimeout(offer.timer);
  offer.timer = null;
  offer.connected = true;
  const customer = /** @type {Call} */ (state.customer);
  customer.stopPlayback();
  state.playing = '';
  state.afterSay = null;
  if (state.sayTimer !== null) clearTimeout(state.sayTimer);
  state.sayTimer = null;
  remix();
  if (state.announceTimer !== null) clearTimeout(state.announceTimer);
  state.announceTimer = null;
  report('operator_connected', { offer_id: offer.offerId });
}

/**
 * @param {Offer} offer
 * @param {CallEvents.FailedEvent} e
 */
function onOperatorFailed(offer, e) {
  if (offer.timer !== null) clearTimeout(offer.timer);
  if (offer.rtpTimer !== null) clearTimeout(offer.rtpTimer);
  if (state.offer === offer) state.offer = null;
  if (offer.cancelled || state.closing) return;
  // The caller keeps hearing music; the backend decides what comes next.
  report('operator_failed', { offer_id: offer.offerId, code: e.code, reason: String(e.reason || '') });
  if (state.callback) closeWithWords(CONFIG.callbackSorryText); // a new callback comes later
}

/** @param {Offer} offer */
function onOperatorDisconnected(offer) {
  if (offer.rtpTimer !== null) clearTimeout(offer.rtpTimer);
  offer.rtpTimer = null;
  if (state.offer === offer) state.offer = null;
  if (offer.cancelled || state.closing || state.customerGone || !offer.connected) return;
  if (talkingLegs().length > 0) {
    // The owner left a call with more parties: the others keep talking.
    remix();
    report('party_hung_up', { party_id: offer.offerId });
    return;
  }
  lastLegGone('operator_hung_up', { offer_id: offer.offerId });
}

/**
 * The last leg on the line with the caller hung up: goodbye (or the pin question).
 * @param {string} type the report
 * @param {Record<string, string>} fields
 */
function lastLegGone(type, fields) {
  state.closing = true;
  // The backend's reply may ask the caller the pin question; goodbye waits for
  // it, but never longer than pinReplyWaitSec.
  let decided = false;
  /** @param {any} ask */
  const decide = function (ask) {
    if (decided) return;
    decided = true;
    clearTimeout(wait);
    if (ask && !state.customerGone) askPin(ask);
    else say(CONFIG.goodbyeText, hangUpAll);
  };
  const wait = later('pin reply wait', function () { decide(null); }, CONFIG.pinReplyWaitSec * 1000);
  report(type, fields, function (result) {
    const reply = result.code === 200 ? parseJson(result.text) : null;
    decide(reply ? pinQuestionOf(reply.ask_pin_manager) : null);
  });
}

// ---------------------------------------------------------------- the pin question

/**
 * The backend's ask_pin_manager, if usable.
 * @param {any} ask
 * @returns {{operator: string, text: string, timeoutSec: number} | null}
 */
function pinQuestionOf(ask) {
  if (!ask || typeof ask !== 'object' || typeof ask.text !== 'string' || !ask.text) return null;
  const n = Number(ask.timeout_s);
  return {
    operator: String(ask.operator || ''),
    text: ask.text,
    timeoutSec: Number.isFinite(n) && n > 0 ? Math.min(60, n) : CONFIG.pinTimeoutSec,
  };
}

/**
 * Speaks the question, then listens for yes/no by voice and by keys 1/2
 * until the timeout. Keys pressed while the question plays count already.
 * @param {{operator: string, text: string, timeoutSec: number}} ask
 */
function askPin(ask) {
  const customer = /** @type {Call} */ (state.customer);
  /** @type {PinQuestion} */
  const pin = { operator: ask.operator, asr: null, timer: null, done: false };
  state.pin = pin;
  customer.handleTones(true);
  say(ask.text, function () { listenForPin(pin, ask.timeoutSec); });
}

/** @returns {ASRProfile | null} CONFIG.asrProfile ('Provider.language') from ASRProfileList */
function asrProfile() {
  const parts = String(CONFIG.asrProfile || '').split('.');
  if (parts.length !== 2) return null;
  try {
    const table = /** @type {Record<string, Record<string, ASRProfile> | undefined>} */ (/** @type {unknown} */ (ASRProfileList));
    const provider = table[parts[0]];
    return (provider && provider[parts[1]]) || null;
  } catch (err) {
    return null;
  }
}

/**
 * @param {PinQuestion} pin
 * @param {number} timeoutSec
 */
function listenForPin(pin, timeoutSec) {
  if (pin.done || state.customerGone) return;
  const customer = /** @type {Call} */ (state.customer);
  pin.timer = later('pin timeout', function () { finishPin(pin, 'none', 'timeout'); }, timeoutSec * 1000);
  const profile = asrProfile();
  if (!profile) {
    Logger.write('switchboard: no ASR profile ' + CONFIG.asrProfile + '; the pin question takes keys only');
    return;
  }
  try {
    const asr = VoxEngine.createASR({
      profile: profile,
      singleUtterance: true,
      phraseHints: CONFIG.pinYesWords.concat(CONFIG.pinNoWords),
    });
    pin.asr = asr;
    asr.addEventListener(ASREvents.Result, guard('ASR Result', function (e) { onPinSpeech(pin, e); }));
    asr.addEventListener(ASREvents.ASRError, guard('ASR Error', function (e) {
      Logger.write('switchboard: ASR error, keys still work: ' + e.error);
    }));
    customer.sendMediaTo(asr);
  } catch (err) {
    Logger.write('switchboard: cannot start ASR, keys still work: ' + err);
  }
}

/**
 * @param {PinQuestion} pin
 * @param {ASREvents.ResultEvent} e
 */
function onPinSpeech(pin, e) {
  if (pin.done) return;
  const raw = Number(e.confidence);
  // Providers report 0..1 or 0..100; 0 or none means "not reported".
  const confidence = Number.isFinite(raw) && raw > 0 ? (raw > 1 ? raw / 100 : raw) : 1;
  const answer = yesOrNo(String(e.text || ''));
  Logger.write('switchboard: pin answer heard "' + e.text + '" (' + confidence.toFixed(2) + '): ' + (answer || 'unclear'));
  if (answer && confidence >= CONFIG.pinMinConfidence) finishPin(pin, answer, 'voice');
  // Otherwise keep listening until the timeout.
}

/**
 * 'yes' or 'no' by whichever configured word or phrase comes first in the text.
 * @param {string} text
 * @returns {'yes' | 'no' | null}
 */
function yesOrNo(text) {
  const words = text.toLowerCase().replace(/\u2019/g, "'").replace(/[^\p{L}\p{N}'\s]+/gu, ' ').split(/\s+/).filter(Boolean);
  /** @param {string[]} phrases */
  const firstAt = function (phrases) {
    let best = -1;
    phrases.forEach(function (phrase) {
      const p = phrase.toLowerCase().split(/\s+/).filter(Boolean);
      for (let i = 0; i + p.length <= words.length; i += 1) {
        if (p.every(function (w, j) { return words[i + j] === w; })) {
          if (best < 0 || i < best) best = i;
          break;
        }
      }
    });
    return best;
  };
  const yes = firstAt(CONFIG.pinYesWords);
  const no = firstAt(CONFIG.pinNoWords);
  if (yes < 0 && no < 0) return null;
  if (no < 0 || (yes >= 0 && yes < no)) return 'yes';
  return 'no';
}

/** @param {CallEvents.ToneReceivedEvent} e */
function onTone(e) {
  const vm = state.voicemail;
  if (vm && !vm.stopped && e.tone === CONFIG.voicemailEndKey) {
    stopVoicemail(vm, 'end key');
    return;
  }
  if (state.callbackAsk && !state.callbackAsk.done) {
    callbackKey(state.callbackAsk, String(e.tone));
    return;
  }
  if (state.callbackOffer && e.tone === state.callbackOffer.key && !state.closing && !state.customerGone
    && !(state.offer && state.offer.connected)) {
    askCallback('');
    return;
  }
  const pin = state.pin;
  if (!pin || pin.done) return;
  if (e.tone === PIN_YES_TONE) finishPin(pin, 'yes', 'dtmf');
  else if (e.tone === PIN_NO_TONE) finishPin(pin, 'no', 'dtmf');
}

/**
 * Stops listening, reports the answer, then says goodbye (or just ends when
 * the caller has gone).
 * @param {PinQuestion} pin
 * @param {'yes' | 'no' | 'none'} answer
 * @param {string} how
 */
function finishPin(pin, answer, how) {
  if (pin.done) return;
  stopPin(pin);
  report('manager_pin_answer', { answer: answer, via: how, operator: pin.operator });
  if (state.customerGone) {
    hangUpAll();
    return;
  }
  // A key pressed during the question: stop it quietly before the goodbye.
  if (state.playing === 'say') /** @type {Call} */ (state.customer).stopPlayback();
  say(answer === 'none' ? CONFIG.goodbyeText : CONFIG.pinGoodbyeText, hangUpAll);
}

/** @param {PinQuestion} pin */
function stopPin(pin) {
  pin.done = true;
  if (pin.timer !== null) clearTimeout(pin.timer);
  pin.timer = null;
  if (pin.asr) {
    if (state.customer && !state.customerGone) state.customer.stopMediaTo(pin.asr);
    pin.asr.stop();
    pin.asr = null;
  }
}

// ---------------------------------------------------------------- queued callback

/**
 * @param {any} value the backend's `callback` ({key, say}) when it offers callbacks
 * @returns {{key: string, say: string} | null}
 */
function callbackOfferOf(value) {
  if (!value || typeof value !== 'object' || typeof value.key !== 'string' || !value.key) return null;
  return { key: value.key, say: typeof value.say === 'string' ? value.say : '' };
}

/** The caller's own number, when it can be called back over PSTN. */
function callerNumber() {
  const id = state.alerting ? String(state.alerting.callerid || '') : '';
  return /^\+?[0-9]{3,16}$/.test(id) ? id : '';
}

/**
 * Asks for the callback number: 1 confirms the caller's own, or they type one and #.
 * @param {string} lead words said first (the group's action), may be ''
 */
function askCallback(lead) {
  const customer = state.customer;
  if (!customer || state.customerGone) return;
  const number = callerNumber();
  /** @type {CallbackAsk} */
  const ask = { number: number, digits: '', entering: !number, timer: null, done: false };
  state.callbackAsk = ask;
  if (state.announceTimer !== null) clearTimeout(state.announceTimer);
  state.announceTimer = null;
  customer.handleTones(true);
  const spoken = number.replace(/^\+/, '').split('').join(' ');
  const prompt = number ? CONFIG.callbackConfirmText.replace('{number}', spoken) : CONFIG.callbackEnterText;
  say((lead ? lead + ' ' : '') + prompt, function () {
    if (ask.done) return;
    ask.timer = later('callback number timeout', function () { callbackAskEnded(ask); }, CONFIG.callbackInputSec * 1000);
    startMusic();
  });
}

/**
 * @param {CallbackAsk} ask
 * @param {string} tone
 */
function callbackKey(ask, tone) {
  if (!ask.entering) {
    // 1: the caller's own number; 2: they type another one, then #.
    if (tone === '1') requestCallback(ask, ask.number);
    else if (tone === '2') {
      ask.entering = true;
      say(CONFIG.callbackEnterText, function () { if (!ask.done) startMusic(); });
    }
  } else if (tone === '#') {
    if (/^[0-9]{3,16}$/.test(ask.digits)) requestCallback(ask, ask.digits);
    else {
      ask.digits = '';
      say(CONFIG.callbackEnterText);
    }
  } else if (/^[0-9]$/.test(tone)) {
    ask.digits += tone;
  }
}

/**
 * No answer in time: the caller simply keeps waiting.
 * @param {CallbackAsk} ask
 */
function callbackAskEnded(ask) {
  if (ask.done) return;
  ask.done = true;
  ask.timer = null;
  state.callbackAsk = null;
  if (!state.customerGone && !state.closing) scheduleAnnouncement();
}

/**
 * @param {CallbackAsk} ask
 * @param {string} number
 */
function requestCallback(ask, number) {
  ask.done = true;
  if (ask.timer !== null) clearTimeout(ask.timer);
  ask.timer = null;
  state.callbackAsk = null;
  state.closing = true; // the caller leaves the line; the backend keeps their place
  report('callback_requested', { number: number }, function (result) {
    const reply = result.code === 200 ? parseJson(result.text) : null;
    if (state.customerGone) return;
    if (reply && reply.applied) say(CONFIG.callbackThanksText, hangUpAll);
    else {
      // Too late (an operator is taking the call) or refused: back to waiting.
      state.closing = false;
      startMusic();
      scheduleAnnouncement();
    }
  });
}

/**
 * This session was started by StartScenarios for a callback: no CallAlerting comes.
 * The backend says whom to call and which operator it reserved (GET the call).
 * @param {{callback: string, offer_id: string}} data from VoxEngine.customData()
 */
function startCallbackSession(data) {
  state.callId = String(data.callback);
  state.callback = { offerId: String(data.offer_id), number: '', target: null, timer: null };
  const callback = state.callback;
  enqueue('GET', API + '/' + encodeURIComponent(state.callId), undefined, CONFIG.httpRetries, function (result) {
    const call = result.code === 200 ? parseJson(result.text) : null;
    const offer = call && call.offer;
    if (!call || !offer || offer.offer_id !== callback.offerId || !call.callback_number || !offer.target) {
      Logger.write('switchboard: callback ' + state.callId + ' is no longer due');
      hangUpAll();
      return;
    }
    callback.number = String(call.callback_number);
    callback.target = offer.target;
    dialBack(callback);
  });
}

/** @param {CallbackSession} callback */
function dialBack(callback) {
  if (!CONFIG.pstnCallerId) {
    Logger.write('switchboard: no caller id for a callback: set pstnCallerId (a rented or verified number)');
    report('operator_failed', { code: 403, reason: 'No caller id for PSTN (pstnCallerId is not set)', party: 'caller' });
    hangUpAll();
    return;
  }
  const customer = VoxEngine.callPSTN(callback.number, CONFIG.pstnCallerId);
  state.customer = customer;
  customer.addEventListener(CallEvents.Connected, guard('callback Connected', function () {
    if (callback.timer !== null) clearTimeout(callback.timer);
    callback.timer = null;
    onCustomerConnected();
  }));
  customer.addEventListener(CallEvents.Failed, guard('callback Failed', function (e) {
    if (callback.timer !== null) clearTimeout(callback.timer);
    callback.timer = null;
    if (state.closing) return;
    report('operator_failed', { code: e.code, reason: String(e.reason || ''), party: 'caller' });
    hangUpAll();
  }));
  customer.addEventListener(CallEvents.RecordStarted, guard('RecordStarted', function (r) {
    report('recording_started', { url: r.url });
  }));
  customer.addEventListener(CallEvents.PlaybackStarted, guard('PlaybackStarted', onPlaybackStarted));
  customer.addEventListener(CallEvents.PlaybackFinished, guard('PlaybackFinished', onPlaybackFinished));
  customer.addEventListener(CallEvents.Disconnected, guard('caller Disconnected', onCustomerDisconnected));
  watchRtp(customer, function (t) { state.customerRtpTimer = t; }, 'caller');
  relaySignalling(customer, bridgedOperators, 'caller');
  // A PSTN leg rings until we give up on it.
  callback.timer = later('callback ring timeout', function () {
    callback.timer = null;
    if (state.customerConnected || state.closing) return;
    state.closing = true;
    report('operator_failed', { code: 408, reason: 'Ring timeout', party: 'caller' });
    hangUpAll();
  }, CONFIG.ringTimeoutSec * 1000);
  state.pendingSay = { text: CONFIG.callbackHelloText, then: function () { dialReservedOperator(callback); } };
}

/** @param {CallbackSession} callback */
function dialReservedOperator(callback) {
  if (state.customerGone || state.closing) return;
  startMusic();
  connect({ offer_id: callback.offerId, target: callback.target, ring_timeout_s: CONFIG.ringTimeoutSec });
}

// ---------------------------------------------------------------- voicemail

/**
 * The group's voicemail: the words, a beep, then the caller's audio goes to a
 * Recorder (its own file) until they hang up, press the end key or reach the
 * maximum length. The URL and length go to the backend as voicemail_recorded.
 * @param {string} text
 * @param {number} maxSec from the backend's action, if any
 */
function startVoicemail(text, maxSec) {
  const customer = /** @type {Call} */ (state.customer);
  /** @type {Voicemail} */
  const vm = {
    recorder: null,
    url: '',
    maxSec: Number.isFinite(maxSec) && maxSec > 0 ? Math.min(maxSec, CONFIG.voicemailMaxSec) : CONFIG.voicemailMaxSec,
    timer: null,
    stopped: false,
    reported: false,
  };
  state.voicemail = vm;
  state.closing = true; // no more queue announcements or operators
  if (state.announceTimer !== null) clearTimeout(state.announceTimer);
  state.announceTimer = null;
  if (state.offer) dropOffer(state.offer);
  customer.handleTones(true);
  say(text || CONFIG.sorryText, function () { playBeep(vm); });
}

function beepUrl() {
  return CONFIG.beepUrl || CONFIG.backendUrl + '/static/audio/beep.wav';
}

/** @param {Voicemail} vm */
function playBeep(vm) {
  if (vm.stopped || state.customerGone) return;
  const customer = /** @type {Call} */ (state.customer);
  customer.stopPlayback();
  state.playing = 'beep';
  customer.startPlayback(beepUrl());
  // A beep that never reports PlaybackFinished (a bad URL) must not stop the message.
  vm.timer = later('beep safety timer', function () { startRecording(vm); }, SAY_START_SAFETY_SEC * 1000);
}

/** @param {Voicemail} vm */
function startRecording(vm) {
  if (vm.timer !== null) clearTimeout(vm.timer);
  vm.timer = null;
  if (vm.recorder || vm.stopped || state.customerGone) return;
  const customer = /** @type {Call} */ (state.customer);
  if (state.playing === 'beep') customer.stopPlayback();
  state.playing = '';
  const recorder = VoxEngine.createRecorder({ recordNamePrefix: 'voicemail' });
  vm.recorder = recorder;
  recorder.addEventListener(RecorderEvents.Started, guard('Recorder Started', function (e) { vm.url = e.url; }));
  recorder.addEventListener(RecorderEvents.Stopped, guard('Recorder Stopped', function (e) { voicemailDone(vm, Number(e.duration)); }));
  recorder.addEventListener(RecorderEvents.RecorderError, guard('Recorder Error', function (e) {
    Logger.write('switchboard: voicemail recording failed: ' + e.error);
    voicemailDone(vm, 0);
  }));
  customer.sendMediaTo(recorder);
  vm.timer = later('voicemail maximum length', function () { stopVoicemail(vm, 'max_length'); }, vm.maxSec * 1000);
}

/**
 * @param {Voicemail} vm
 * @param {string} why
 */
function stopVoicemail(vm, why) {
  if (vm.stopped) return;
  vm.stopped = true;
  if (vm.timer !== null) clearTimeout(vm.timer);
  vm.timer = null;
  Logger.write('switchboard: voicemail ends: ' + why);
  if (!vm.recorder) {
    // Gone before the beep: nothing was recorded.
    if (state.customerGone) hangUpAll();
    else say(CONFIG.goodbyeText, hangUpAll);
    return;
  }
  if (state.customer && !state.customerGone) state.customer.stopMediaTo(vm.recorder);
  vm.recorder.stop(); // Stopped carries the length; voicemailDone goes on from there
}

/**
 * @param {Voicemail} vm
 * @param {number} duration seconds
 */
function voicemailDone(vm, duration) {
  if (vm.reported) return;
  vm.reported = true;
  vm.stopped = true;
  if (vm.url) {
    report('voicemail_recorded', { url: vm.url, duration_s: Number.isFinite(duration) ? duration : 0 });
  }
  if (state.customerGone) hangUpAll();
  else say(CONFIG.voicemailThanksText, hangUpAll);
}

// ---------------------------------------------------------------- ending

/** Ends both legs, sends what is queued, then terminates. */
function hangUpAll() {
  state.closing = true;
  if (state.pin && !state.pin.done) stopPin(state.pin);
  if (state.offer) dropOffer(state.offer);
  Object.keys(state.parties).forEach(function (id) { dropParty(state.parties[id]); });
  if (state.customer && !state.customerGone) state.customer.hangup();
  if (state.announceTimer !== null) clearTimeout(state.announceTimer);
  state.announceTimer = null;
  if (state.terminateWhenDrained) return;
  state.terminateWhenDrained = true;
  // Reports still queued or retrying get a bounded time before we give up on them.
  later('drain limit', terminate, DRAIN_LIMIT_SEC * 1000);
  pump();
}

let terminated = false;
function terminate() {
  if (terminated) return;
  terminated = true;
  VoxEngine.terminate();
}

/** The backend is unreachable: apologise and end the call. */
function giveUp() {
  if (state.closing || state.customerGone) {
    hangUpAll();
    return;
  }
  state.closing = true;
  say(CONFIG.sorryText, hangUpAll);
}

/** @param {CallEvents.DisconnectedEvent} e */
function onCustomerDisconnected(e) {
  if (state.customerGone) return;
  state.customerGone = true;
  if (state.customerRtpTimer !== null) clearTimeout(state.customerRtpTimer);
  state.customerRtpTimer = null;
  if (state.pin && !state.pin.done) {
    finishPin(state.pin, 'none', 'caller_hung_up');
    return;
  }
  if (state.voicemail && !state.voicemail.reported) {
    // The usual end of a message: the recorder's Stopped reports it, then the session ends.
    stopVoicemail(state.voicemail, 'caller hung up');
    if (state.voicemail.recorder) return;
  }
  if (state.closing) {
    hangUpAll();
    return;
  }
  /** @type {Record<string, string>} */
  const fields = {};
  if (state.offer) fields.offer_id = state.offer.offerId;
  report('caller_hung_up', fields);
  Logger.write('switchboard: caller hung up: ' + e.reason);
  hangUpAll();
}

// ---------------------------------------------------------------- commands from the backend

/**
 * @param {AppEvents.HttpRequestEvent} e
 * @returns {object} the HTTP reply body
 */
function onHttpRequest(e) {
  const cmd = parseJson(e.content);
  if (!cmd || typeof cmd !== 'object' || Array.isArray(cmd)) return { ok: false, error: 'bad_json' };
  switch (cmd.command) {
    case 'connect':
      return connect(cmd);
    case 'cancel':
      return cancel(cmd);
    case 'add_party':
      return addParty(cmd);
    case 'remove_party':
      return removeParty(cmd);
    case 'party_mode':
      return partyMode(cmd);
    case 'hold':
    case 'unhold':
      if (!state.customer || state.customerGone || state.closing) return { ok: false, command: cmd.command, error: 'call_ended' };
      state.held = cmd.command === 'hold';
      remix();
      return { ok: true, command: cmd.command };
    case 'say':
      if (typeof cmd.text !== 'string' || !cmd.text) return { ok: false, command: 'say', error: 'bad_request' };
      if (!state.customer || state.customerGone || state.closing) return { ok: false, command: 'say', error: 'call_ended' };
      say(cmd.text);
      return { ok: true, command: 'say' };
    case 'status':
      // Liveness probe: any reply but 404 means the session lives.
      return {
        ok: true,
        command: 'status',
        caller: state.customerGone ? 'gone' : (state.customer ? 'on_line' : 'none'),
        operator: state.offer ? (state.offer.connected ? 'connected' : 'ringing') : 'none',
        parties: Object.keys(state.parties).length,
        held: state.held,
        closing: state.closing,
      };
    case 'action':
      // A group's action while the caller waits (the maximum wait): as in the POST reply.
      if (!cmd.action || typeof cmd.action !== 'object') return { ok: false, command: 'action', error: 'bad_request' };
      if (!state.customer || state.customerGone || state.closing) return { ok: false, command: 'action', error: 'call_ended' };
      if (!onAction(cmd.action)) scheduleAnnouncement();
      return { ok: true, command: 'action' };
    case 'hangup':
      Logger.write('switchboard: backend hangs up: ' + (cmd.reason || ''));
      if (typeof cmd.say === 'string' && cmd.say && state.customer && !state.customerGone && !state.closing) {
        closeWithWords(cmd.say); // a goodbye, not a cut
        return { ok: true, command: 'hangup' };
      }
      hangUpAll();
      return { ok: true, command: 'hangup' };
    default:
      return { ok: false, command: String(cmd.command), error: 'unknown_command' };
  }
}

/**
 * Hangs up the offer's operator leg, ringing or bridged (the backend had
 * already given up on it); the caller goes back to waiting.
 * @param {any} cmd
 */
function cancel(cmd) {
  const offerId = String(cmd.offer_id || '');
  if (!offerId) return { ok: false, command: 'cancel', error: 'bad_request' };
  const offer = state.offer;
  if (!offer || offer.offerId !== offerId) return { ok: true, command: 'cancel', offer_id: offerId, found: false };
  const wasConnected = offer.connected;
  dropOffer(offer);
  if (wasConnected && !state.closing && !state.customerGone) afterLegDropped();
  return { ok: true, command: 'cancel', offer_id: offerId };
}

/** A leg we hung up ourselves: the others go on; alone, the caller waits with music. */
function afterLegDropped() {
  if (talkingLegs().length > 0) {
    remix();
    return;
  }
  state.held = false;
  startMusic();
  scheduleAnnouncement();
}

// ---------------------------------------------------------------- more parties

/**
 * Dials one more leg into the call (an operator's help offer, a transfer target, an
 * external number). When it answers, everyone is mixed in the conference.
 * @param {any} cmd
 */
function addParty(cmd) {
  const target = cmd.target;
  if (!cmd.party_id || !target || ['user', 'sip', 'pstn'].indexOf(target.type) < 0 || !target.address) {
    return { ok: false, command: 'add_party', error: 'bad_request' };
  }
  const partyId = String(cmd.party_id);
  if (!state.customer || state.customerGone || state.closing) {
    return { ok: false, command: 'add_party', party_id: partyId, error: 'call_ended' };
  }
  if (state.parties[partyId]) return { ok: true, command: 'add_party', party_id: partyId, duplicate: true };
  // Taken back before this (retried or slow) command arrived: never dialled.
  if (state.removedParties.indexOf(partyId) >= 0) return { ok: false, command: 'add_party', party_id: partyId, error: 'removed' };
  if (target.type === 'pstn' && pstnCallerId() === null) {
    Logger.write('switchboard: no caller id for a PSTN leg: set pstnCallerId (a rented or verified number)');
    report('party_failed', { party_id: partyId, code: 403, reason: 'No caller id for PSTN (pstnCallerId is not set)' });
    return { ok: true, command: 'add_party', party_id: partyId };
  }
  const leg = dial({ target: target, video: false, ring_timeout_s: cmd.ring_timeout_s, headers: cmd.headers });
  const mode = SUPERVISE_MODES.indexOf(String(cmd.mode || '')) >= 0 ? String(cmd.mode) : '';
  /** @type {PartyLeg} */
  const party = {
    leg: leg, partyId: partyId, connected: false, cancelled: false, timer: null, rtpTimer: null,
    mode: mode, pstn: target.type === 'pstn',
  };
  state.parties[partyId] = party;
  const timeoutSec = ringTimeout(cmd.ring_timeout_s, CONFIG.ringTimeoutSec) + (target.type === 'user' ? 5 : 0);
  party.timer = later('party ring timeout', function () { partyRingTimedOut(party); }, timeoutSec * 1000);
  leg.addEventListener(CallEvents.Connected, guard('party Connected', function () { onPartyConnected(party); }));
  leg.addEventListener(CallEvents.Failed, guard('party Failed', function (e) { onPartyFailed(party, e); }));
  leg.addEventListener(CallEvents.Disconnected, guard('party Disconnected', function () { onPartyDisconnected(party); }));
  watchRtp(leg, function (t) { party.rtpTimer = t; }, 'party');
  // A supervisor's leg exchanges no signalling with the caller.
  if (!mode) relaySignalling(leg, function () { return callerFor(party); }, 'party');
  return { ok: true, command: 'add_party', party_id: partyId };
}

/**
 * Hangs up an added leg we no longer want; its Failed/Disconnected is not reported.
 * @param {PartyLeg} party
 */
function dropParty(party) {
  party.cancelled = true;
  if (party.timer !== null) clearTimeout(party.timer);
  if (party.rtpTimer !== null) clearTimeout(party.rtpTimer);
  if (state.parties[party.partyId] === party) delete state.parties[party.partyId];
  party.leg.hangup();
}

/** @param {PartyLeg} party */
function partyRingTimedOut(party) {
  party.timer = null;
  if (party.connected || party.cancelled) return;
  dropParty(party);
  report('party_failed', { party_id: party.partyId, code: 408, reason: 'Ring timeout' });
}

/** @param {PartyLeg} party */
function onPartyConnected(party) {
  if (party.cancelled || state.parties[party.partyId] !== party || state.customerGone || state.closing) {
    party.cancelled = true;
    party.leg.hangup();
    return;
  }
  if (party.timer !== null) clearTimeout(party.timer);
  party.timer = null;
  party.connected = true;
  // A supervisor hears the call through the conference, even a call of two.
  if (talkingLegs().length > 1 || state.conference || party.mode) ensureConference();
  if (state.announceTimer !== null) clearTimeout(state.announceTimer);
  state.announceTimer = null;
  remix();
  report('party_connected', { party_id: party.partyId });
}

/**
 * @param {PartyLeg} party
 * @param {CallEvents.FailedEvent} e
 */
function onPartyFailed(party, e) {
  if (party.timer !== null) clearTimeout(party.timer);
  if (party.rtpTimer !== null) clearTimeout(party.rtpTimer);
  if (state.parties[party.partyId] === party) delete state.parties[party.partyId];
  if (party.cancelled || state.closing) return;
  report('party_failed', { party_id: party.partyId, code: e.code, reason: String(e.reason || '') });
}

/** @param {PartyLeg} party */
function onPartyDisconnected(party) {
  if (party.rtpTimer !== null) clearTimeout(party.rtpTimer);
  party.rtpTimer = null;
  if (state.parties[party.partyId] === party) delete state.parties[party.partyId];
  if (party.cancelled || state.closing || state.customerGone || !party.connected) return;
  if (talkingLegs().length > 0 || party.mode) {
    remix(); // the other two (or more) keep talking
    report('party_hung_up', { party_id: party.partyId });
    return;
  }
  lastLegGone('operator_hung_up', { party_id: party.partyId });
}

/**
 * Hangs up one leg, the owner's (its offer id) or an added one; the others stay.
 * @param {any} cmd
 */
function removeParty(cmd) {
  const partyId = String(cmd.party_id || '');
  if (!partyId) return { ok: false, command: 'remove_party', error: 'bad_request' };
  const offer = state.offer;
  if (offer && offer.offerId === partyId) {
    const wasConnected = offer.connected;
    dropOffer(offer);
    if (wasConnected && !state.closing && !state.customerGone) afterLegDropped();
    return { ok: true, command: 'remove_party', party_id: partyId };
  }
  const party = state.parties[partyId];
  if (!party) {
    if (state.removedParties.length < 50) state.removedParties.push(partyId);
    return { ok: true, command: 'remove_party', party_id: partyId, found: false };
  }
  const wasConnected = party.connected;
  dropParty(party);
  if (wasConnected && !state.closing && !state.customerGone) afterLegDropped();
  return { ok: true, command: 'remove_party', party_id: partyId };
}

/**
 * A supervisor's leg changes mode (listen, whisper, barge): its media is routed again.
 * @param {any} cmd
 */
function partyMode(cmd) {
  const partyId = String(cmd.party_id || '');
  const mode = String(cmd.mode || '');
  if (!partyId || SUPERVISE_MODES.indexOf(mode) < 0) return { ok: false, command: 'party_mode', error: 'bad_request' };
  const party = state.parties[partyId];
  if (!party || !party.mode) return { ok: false, command: 'party_mode', party_id: partyId, error: 'unknown_party' };
  party.mode = mode;
  remix();
  return { ok: true, command: 'party_mode', party_id: partyId, mode: mode };
}

// ---------------------------------------------------------------- platform events

VoxEngine.addEventListener(AppEvents.Started, guard('Started', function (e) {
  state.sessionId = String(e.sessionId);
  state.accessURL = e.accessURL;
  state.accessSecureURL = e.accessSecureURL;
  // StartScenarios (a queued callback) passes script_custom_data and sends no CallAlerting.
  const data = parseJson(VoxEngine.customData());
  if (data && typeof data === 'object' && typeof data.callback === 'string' && typeof data.offer_id === 'string') {
    startCallbackSession(data);
  }
}));

VoxEngine.addEventListener(AppEvents.CallAlerting, guard('CallAlerting', function (e) {
  const customer = e.call;
  state.customer = customer;
  state.alerting = e;
  // Recording, music and speech start on Connected, not right after answer().
  customer.addEventListener(CallEvents.Connected, guard('caller Connected', onCustomerConnected));
  customer.addEventListener(CallEvents.RecordStarted, guard('RecordStarted', function (r) {
    report('recording_started', { url: r.url });
  }));
  customer.addEventListener(CallEvents.RecordError, guard('RecordError', function (r) {
    // Recording is best effort: the call goes on without it.
    Logger.write('switchboard: recording failed: ' + r.error);
  }));
  customer.addEventListener(CallEvents.PlaybackStarted, guard('PlaybackStarted', onPlaybackStarted));
  customer.addEventListener(CallEvents.PlaybackFinished, guard('PlaybackFinished', onPlaybackFinished));
  customer.addEventListener(CallEvents.Disconnected, guard('caller Disconnected', onCustomerDisconnected));
  customer.addEventListener(CallEvents.ToneReceived, guard('ToneReceived', onTone));
  watchRtp(customer, function (t) { state.customerRtpTimer = t; }, 'caller');
  relaySignalling(customer, bridgedOperators, 'caller');
  // Passing the scheme on keeps a video caller's video.
  customer.answer({}, { scheme: e.scheme });
  registerCall(e);
}));

VoxEngine.addEventListener(AppEvents.HttpRequest, guard('HttpRequest', onHttpRequest, { ok: false, error: 'internal_error' }));

VoxEngine.addEventListener(AppEvents.Terminating, guard('Terminating', function () {
  // The one request the platform still allows after Terminating.
  if (!state.callId) return;
  Net.httpRequestAsync(CONFIG.backendUrl + API + '/' + encodeURIComponent(state.callId) + '/events', {
    method: 'POST',
    headers: backendHeaders(),
    postData: JSON.stringify(state.callback ? { type: 'session_ended', offer_id: state.callback.offerId } : { type: 'session_ended' }),
    timeout: CONFIG.httpTimeoutSec,
  });
}));
