'use strict';
// The globals a scenario sees: VoxEngine, AppEvents, CallEvents, Net, Logger
// and timers. Everything else the platform (or Node) offers throws.

const { AppEvents, CallEvents } = require('./events');
const { ringTimeoutSeconds } = require('./callees');
const { strict } = require('./strict');
const { ASREvents, ASRProfileList, Modules, MODELLED_MODULES, createASR } = require('./asr');
const { Recorder, RecorderEvents } = require('./recorder');

// Platform names we know exist but do not model, plus host names the
// platform lacks; reading any of them (even with typeof) throws.
const UNMODELLED_GLOBALS = [
  'VoiceList', 'Language', 'ASRLanguage', 'ASRModelList',
  'ACDEvents', 'SmartQueueEvents', 'ConferenceEvents', 'PlayerEvents',
  'ApplicationStorage', 'VoximplantAPI', 'str2bytes', 'bytes2str', 'base64_encode', 'base64_decode',
  'uuidgen', 'console', 'process', 'Buffer', 'module', 'exports', 'global', 'setImmediate',
  'clearImmediate', 'queueMicrotask', 'fetch', 'XMLHttpRequest', 'WebSocket', 'URL',
  'URLSearchParams', 'TextEncoder', 'TextDecoder', 'structuredClone', 'performance', 'crypto',
  'atob', 'btoa', 'WebAssembly', 'window', 'document',
];

// Globals a module brings: reading one before require(Modules.X) throws.
const MODULE_GLOBALS = {
  ASREvents: { module: Modules.ASR, value: strict(ASREvents, 'ASREvents') },
  ASRProfileList: { module: Modules.ASR, value: strict(ASRProfileList, 'ASRProfileList') },
  RecorderEvents: { module: Modules.Recorder, value: strict(RecorderEvents, 'RecorderEvents') },
};

const MAX_CUSTOM_DATA_BYTES = 200;

function isObject(value) {
  return value !== null && typeof value === 'object';
}

function buildVoxEngine(session) {
  const requireString = (value, what) => {
    if (value === undefined || value === null || value === '') throw new TypeError(`${what} is required`);
    return String(value);
  };

  return {
    addEventListener(name, handler) {
      session.appListeners.add(name, handler, 'VoxEngine');
    },
    removeEventListener(name, handler) {
      session.appListeners.remove(name, handler);
    },
    // callUser({...}) or the legacy callUser(username, callerid, displayName, headers, video, scheme).
    callUser(first, callerid, displayName, headers, video, scheme) {
      const p = isObject(first) ? first : { username: first, callerid, displayName, extraHeaders: headers, video, scheme };
      return session.dial({
        type: 'user',
        address: requireString(p.username, 'callUser: username'),
        callerid: requireString(p.callerid, 'callUser: callerid'),
        displayName: p.displayName,
        headers: p.extraHeaders,
        video: Boolean(p.video),
        scheme: p.scheme,
      }, ringTimeoutSeconds(p.extraHeaders));
    },
    // callSIP(to, {...}) or callSIP(to, callerid, displayName, password, authUser, headers, video, outProxy).
    callSIP(to, second, displayName, password, authUser, headers, video) {
      const p = isObject(second) ? second : { callerid: second, displayName, password, authUser, headers, video };
      return session.dial({
        type: 'sip',
        address: requireString(to, 'callSIP: SIP URI'),
        callerid: p.callerid === undefined ? '' : String(p.callerid),
        displayName: p.displayName,
        headers: p.headers,
        video: Boolean(p.video),
        scheme: p.scheme,
      // The typings give VI-CallTimeout to callUser only: a SIP leg rings until
      // the platform's 60 s, whatever its headers say.
      }, ringTimeoutSeconds(undefined));
    },
    callPSTN(number, callerid) {
      return session.dial({
        type: 'pstn',
        address: requireString(number, 'callPSTN: number'),
        callerid: requireString(callerid, 'callPSTN: callerid'),
      }, ringTimeoutSeconds(undefined));
    },
    createASR(params) {
      return createASR(session, params);
    },
    createRecorder(params) {
      if (!session.modules.has(Modules.Recorder)) {
        throw new session.realm.Error('VoxEngine.createRecorder needs require(Modules.Recorder) first');
      }
      const recorder = new Recorder(session, params);
      session.recorders.push(recorder);
      session.log('recorder_created', { recorder: recorder.id, params: params || {} });
      return recorder.facade;
    },
    sendMediaBetween(a, b) {
      session.media.sendMediaBetween(session.legOf(a), session.legOf(b));
    },
    stopMediaBetween(a, b) {
      session.media.stopMediaBetween(session.legOf(a), session.legOf(b));
    },
    easyProcess(call1, call2, onEstablished) {
      easyProcess(session, call1, call2, onEstablished);
    },
    terminate() {
      session.terminate('scenario');
    },
    customData(value) {
      if (value === undefined) return session.sessionCustomData;
      const text = String(value);
      if (Buffer.byteLength(text) > MAX_CUSTOM_DATA_BYTES) {
        throw new session.realm.Error(`customData may be at most ${MAX_CUSTOM_DATA_BYTES} bytes`);
      }
      session.sessionCustomData = text;
      return text;
    },
  };
}

/** The platform helper: bridge now, answer leg 1 when leg 2 answers, end on any failure. */
function easyProcess(session, call1, call2, onEstablished) {
  const first = session.legOf(call1);
  const second = session.legOf(call2);
  session.media.sendMediaBetween(first, second);
  second.listeners.add(CallEvents.Ringing, () => call1.ring(), 'Call');
  second.listeners.add(CallEvents.Connected, (e) => {
    if (first.state === 'ALERTING') call1.answer({}, e.scheme ? { scheme: e.scheme } : undefined);
    if (typeof onEstablished === 'function') onEstablished(call1, call2);
  }, 'Call');
  for (const leg of [first, second]) {
    leg.listeners.add(CallEvents.Failed, () => session.terminate('easyProcess'), 'Call');
    leg.listeners.add(CallEvents.Disconnected, () => session.terminate('easyProcess'), 'Call');
  }
}

/** require(Modules.X): loads a modelled module; the others throw. */
function buildRequire(session) {
  const names = new Map(Object.entries(Modules).map(([name, value]) => [value, name]));
  return function require(module) {
    if (!names.has(module)) throw new TypeError(`require: expected a Modules value, got ${String(module)}`);
    if (!MODELLED_MODULES.has(module)) {
      throw new session.realm.Error(`Modules.${names.get(module)} is not modelled by the VoxEngine emulator`);
    }
    if (!session.modules.has(module)) {
      session.modules.add(module);
      session.log('module_loaded', { module: names.get(module) });
    }
  };
}

function buildGlobals(session) {
  return {
    require: buildRequire(session),
    Modules: strict(Modules, 'Modules'),
    VoxEngine: strict(buildVoxEngine(session), 'VoxEngine'),
    AppEvents: strict(AppEvents, 'AppEvents'),
    CallEvents: strict(CallEvents, 'CallEvents'),
    Net: strict(session.net.api(), 'Net'),
    Logger: strict({
      write(text) {
        session.log('logger', { text: String(text) });
      },
    }, 'Logger'),
    setTimeout: (fn, ms, ...args) => session.setScenarioTimer(fn, ms, false, args),
    setInterval: (fn, ms, ...args) => session.setScenarioTimer(fn, ms, true, args),
    clearTimeout: (id) => session.clearScenarioTimer(id),
    clearInterval: (id) => session.clearScenarioTimer(id),
  };
}

module.exports = { buildGlobals, UNMODELLED_GLOBALS, MODULE_GLOBALS };
