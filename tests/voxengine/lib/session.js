'use strict';
// One VoxEngine JavaScript session: a vm context running the rule's scenario
// files concatenated, the calls it owns, its timers, HTTP and its log.

const crypto = require('node:crypto');
const vm = require('node:vm');
const { performance } = require('node:perf_hooks');

const { AppEvents } = require('./events');
const { Leg } = require('./call');
const { Listeners } = require('./listeners');
const { MediaGraph } = require('./media');
const { Net } = require('./net');
const { buildGlobals, UNMODELLED_GLOBALS, MODULE_GLOBALS } = require('./globals');
const { matches } = require('./match');

const CALLBACK_LIMIT_MS = 1000;
const MAX_TIMERS = 100;
const TERMINATING_HTTP_ALLOWANCE = 1;
const DRAIN_LIMIT_MS = 90 * 1000;
const SCRIPT_FILENAME = 'voxengine-session.js';

let sessionCounter = 0;

class Session {
  /**
   * @param {object} emulator the owning Emulator (options, callees, URLs)
   * @param {object} spec scripts [{name, source}], call {callerid, destination,
   *   display_name, headers, custom_data, video}, script_custom_data
   * @param {object} options the emulator's options with per-call overrides
   */
  constructor(emulator, spec, options = emulator.options) {
    sessionCounter += 1;
    this.emulator = emulator;
    this.options = options;
    this.id = String(emulator.sessionIdBase + sessionCounter);
    this.hexId = crypto.randomBytes(12).toString('hex');
    this.token = crypto.randomBytes(16).toString('hex');
    this.accessURL = `${emulator.accessBaseUrl}/request/${this.hexId}/${this.token}`;
    this.accessSecureURL = this.accessURL.replace(/^http:/, `${this.options.secureAccessScheme}:`);
    this.startedAt = performance.now();
    this.phase = 'running'; // running | draining | terminating | terminated
    this.entries = [];
    this.waiters = new Set();
    this.legs = [];
    this.asrs = [];
    this.conferences = [];
    this.recorders = [];
    this.players = new Set(); // media players in use (playbacks and TTS), at most 10
    this.modules = new Set(); // require()d modules
    this.appListeners = new Listeners();
    this.media = new MediaGraph(this);
    this.net = new Net(this);
    this.scenarioTimers = new Map();
    this.timerSeq = 0;
    this.hostTimers = new Set();
    this.idleTimer = null;
    this.terminatingHttpLeft = TERMINATING_HTTP_ALLOWANCE;
    // null: started like StartScenarios (no inbound call, no CallAlerting).
    this.hasCall = spec.call !== null;
    this.callSpec = spec.call || {};
    this.callerClientType = this.callSpec.client_type || 'pstn';
    this.sessionCustomData = String(spec.script_custom_data || '');
    this.files = spec.scripts;
    this.createContext();
  }

  // ---- log ----

  log(kind, details = {}) {
    const entry = { seq: this.entries.length + 1, t: Math.round(performance.now() - this.startedAt), kind, ...details };
    this.entries.push(entry);
    if (this.options.verbose) process.stderr.write(`[session ${this.id}] ${JSON.stringify(entry)}\n`);
    for (const waiter of [...this.waiters]) waiter.check(entry);
    return entry;
  }

  violation(rule, details = {}) {
    this.log('violation', { rule, ...details });
  }

  /** Resolves with the first entry (seq > after) matching the filter, or null on timeout. */
  waitFor({ kind, match, after = 0, timeoutMs }) {
    const test = (entry) => entry.seq > after && (!kind || entry.kind === kind) && matches(entry, match || {});
    const found = this.entries.find(test);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => {
      const waiter = {
        finish: (entry) => {
          this.waiters.delete(waiter);
          clearTimeout(waiter.timer);
          resolve(entry);
        },
        check: (entry) => {
          if (test(entry)) waiter.finish(entry);
        },
        timer: setTimeout(() => waiter.finish(null), timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  snapshot() {
    return {
      session_id: this.id,
      phase: this.phase,
      access_url: this.accessURL,
      access_secure_url: this.accessSecureURL,
      legs: this.legs.map((leg) => ({ ...leg.summary(), hears: this.media.hears(leg) })),
      asrs: this.asrs.map((asr) => asr.summary()),
      conferences: this.conferences.map((c) => c.summary()),
      log: this.entries,
    };
  }

  // ---- the vm context ----

  createContext() {
    const sandbox = {};
    this.context = vm.createContext(sandbox, { name: `voxengine-session-${this.id}`, microtaskMode: 'afterEvaluate' });
    // V8 gives every context these; the platform has neither.
    vm.runInContext('delete globalThis.console; delete globalThis.WebAssembly;', this.context);
    this.realm = vm.runInContext('({ Promise, Error, JSON })', this.context);
    const globals = buildGlobals(this);
    for (const [name, value] of Object.entries(globals)) {
      Object.defineProperty(sandbox, name, { value, enumerable: true, configurable: false, writable: false });
    }
    for (const [name, { module, value }] of Object.entries(MODULE_GLOBALS)) {
      Object.defineProperty(sandbox, name, {
        enumerable: false,
        configurable: false,
        get: () => {
          if (!this.modules.has(module)) throw new ReferenceError(`${name} is not defined: require(Modules.${module.replace(/^module:/, '')}) first`);
          return value;
        },
      });
    }
    for (const name of UNMODELLED_GLOBALS) {
      Object.defineProperty(sandbox, name, {
        enumerable: false,
        configurable: false,
        get() {
          throw new ReferenceError(`${name} is not modelled by the VoxEngine emulator`);
        },
      });
    }
    // All entries into scenario code run through this one evaluation, so the
    // run time is bounded by vm's timeout and promise continuations drain
    // inside the measured call (microtaskMode afterEvaluate).
    let pending = null;
    Object.defineProperty(sandbox, '__voxengineEmulatorInvoke', {
      enumerable: false,
      value: () => {
        const fn = pending;
        pending = null;
        return fn();
      },
    });
    this.setPending = (fn) => { pending = fn; };
    this.trampoline = new vm.Script('__voxengineEmulatorInvoke()', { filename: 'voxengine-emulator-dispatch' });
  }

  /** A host value rebuilt from JSON inside the session's realm. */
  toRealm(value) {
    return this.realm.JSON.parse(JSON.stringify(value));
  }

  /** Runs scenario code: measured, bounded, errors logged. */
  invoke(label, fn, thisArg, args = []) {
    if (this.phase === 'terminated' && label !== 'Application.Terminated') return undefined;
    this.setPending(() => fn.apply(thisArg, args));
    return this.evaluate(label, this.trampoline);
  }

  evaluate(label, script) {
    const began = performance.now();
    let result;
    try {
      result = script.runInContext(this.context, { timeout: this.options.hardCallbackLimitMs, displayErrors: false });
    } catch (err) {
      this.scriptError(label, err);
    }
    const ms = performance.now() - began;
    if (ms > CALLBACK_LIMIT_MS) this.violation('callback_over_1s', { label, ms: Math.round(ms) });
    return result;
  }

  scriptError(label, err) {
    const message = err && err.message ? err.message : String(err);
    const stack = this.mapStack(err && err.stack ? String(err.stack) : '');
    this.log('error', { label, message, stack });
    // On the platform an uncaught error ends the JavaScript session: every call
    // is dropped and only Terminating/Terminated follow. (Deferred, so the
    // entry into scenario code that threw finishes first.)
    if (this.phase === 'running' && label !== 'compile') {
      setImmediate(() => this.terminate('uncaught_error'));
    }
  }

  /** Rewrites positions in the concatenated script back to the scenario files. */
  mapStack(stack) {
    return stack
      .split('\n')
      .filter((line) => line.includes(SCRIPT_FILENAME) || !line.trim().startsWith('at '))
      .map((line) => line.replace(new RegExp(`${SCRIPT_FILENAME}:(\\d+):(\\d+)`, 'g'), (all, row, col) => {
        const n = Number(row);
        const part = this.parts.find((p) => n >= p.first && n <= p.last);
        return part ? `${part.name}:${n - part.first + 1}:${col}` : all;
      }))
      .join('\n');
  }

  // ---- start-up ----

  start() {
    const chunks = [];
    this.parts = [];
    let line = 1;
    for (const file of this.files) {
      const source = file.source.endsWith('\n') ? file.source : `${file.source}\n`;
      const count = source.split('\n').length - 1;
      this.parts.push({ name: file.name, first: line, last: line + count - 1 });
      chunks.push(source);
      line += count;
    }
    this.log('session_started', { scenarios: this.files.map((f) => f.name), access_url: this.accessURL });
    let script;
    try {
      script = new vm.Script(chunks.join(''), { filename: SCRIPT_FILENAME });
    } catch (err) {
      this.scriptError('compile', err);
      this.finish('compile_error');
      return;
    }
    this.evaluate('top level', script);
    setImmediate(() => this.fireStarted());
  }

  fireStarted() {
    if (this.phase !== 'running') return;
    this.dispatch(this.appListeners, AppEvents.Started, {
      name: AppEvents.Started,
      accessURL: this.accessURL,
      accessSecureURL: this.accessSecureURL,
      sessionId: Number(this.id),
      accountId: 1,
      applicationId: 1,
      logURL: `${this.emulator.controlBaseUrl}/sessions/${this.id}`,
    });
    if (this.hasCall) setImmediate(() => this.fireCallAlerting());
  }

  fireCallAlerting() {
    if (this.phase !== 'running') return;
    const c = this.callSpec;
    const scheme = c.scheme !== undefined ? c.scheme : this.emulator.schemeFor(Boolean(c.video));
    const leg = this.addLeg({
      direction: 'in',
      type: 'incoming',
      address: c.destination,
      callerid: c.callerid,
      displayName: c.display_name,
      headers: c.headers,
      video: Boolean(c.video),
      scheme,
      customData: c.custom_data,
    });
    this.caller = leg;
    leg.after(this.options.alertingTimeoutMs, () => {
      if (leg.state === 'ALERTING' && !leg.answerRequested) {
        leg.end('disconnected', { code: 408, reason: 'Incoming call was not answered in time' }, { by: 'platform' });
      }
    });
    this.dispatch(this.appListeners, AppEvents.CallAlerting, {
      name: AppEvents.CallAlerting,
      call: leg.facade,
      callerid: leg.callerid,
      destination: c.destination,
      displayName: leg.displayName,
      headers: { ...leg.headers },
      customData: c.custom_data === undefined ? undefined : String(c.custom_data),
      scheme,
      toURI: `${c.destination}@${this.emulator.domain}`,
      fromURI: `${leg.callerid}@${this.emulator.domain}`,
    });
  }

  // ---- events ----

  /** Logs an event and runs its listeners; returns the last defined return value. */
  dispatch(listeners, name, payload, meta = {}) {
    // After terminate() only Terminating (and Terminated, below) reach the scenario.
    if (this.phase !== 'running' && name !== AppEvents.Terminating) return undefined;
    const handlers = listeners.get(name);
    this.log('event', { name, ...meta, ...eventDetails(payload), handlers: handlers.length });
    let reply;
    for (const handler of handlers) {
      const value = this.invoke(name, handler, null, [payload]);
      if (value !== undefined) reply = value;
    }
    return reply;
  }

  // ---- legs ----

  addLeg(init) {
    const leg = new Leg(this, init);
    this.legs.push(leg);
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    return leg;
  }

  dial(init, ringTimeoutS) {
    if (this.phase !== 'running') throw new this.realm.Error('The session is terminating');
    const leg = this.addLeg({ direction: 'out', ...init });
    this.log('dialled', {
      leg: leg.id,
      type: leg.type,
      address: leg.address,
      callerid: leg.callerid,
      display_name: leg.displayName,
      video: leg.video,
      scheme: leg.scheme === undefined ? null : leg.scheme,
      headers: leg.headers,
    });
    this.emulator.callees.drive(leg, ringTimeoutS * 1000);
    return leg.facade;
  }

  legOf(unit) {
    const leg = this.legs.find((l) => l.facade === unit);
    if (!leg) throw new TypeError('Only Call objects of this session are modelled as media units');
    return leg;
  }

  /** A media unit a call may send its audio to: a Call, an ASR or a Conference of this session. */
  unitOf(unit) {
    const found = this.legs.find((l) => l.facade === unit) || this.asrs.find((a) => a.facade === unit)
      || this.conferences.find((c) => c.facade === unit)
      || this.recorders.find((r) => r.facade === unit);
    if (!found) throw new TypeError('Only Call, ASR, Conference and Recorder objects of this session are modelled as media units');
    return found;
  }

  /** What sendMediaBetween takes: a Call or a Conference of this session. */
  mixUnitOf(unit) {
    const found = this.conferences.find((c) => c.facade === unit);
    return found || this.legOf(unit);
  }

  /**
   * A party speaks on `leg`: every running recogniser that receives the leg's
   * audio now gets the utterance. Returns the ids of those that heard it.
   */
  speak(leg, text, confidence) {
    const words = text.split(/\s+/).filter(Boolean).length;
    const ms = Math.max(1, Math.round(words * this.options.sayMsPerWord));
    const heardBy = this.asrs.filter((asr) => asr.hears(leg));
    this.log('caller_said', { leg: leg.id, text, confidence, heard_by: heardBy.map((a) => a.id) });
    for (const asr of heardBy) asr.utterance(text, confidence, ms);
    return heardBy.map((a) => a.id);
  }

  findLeg(ref) {
    const alive = this.legs.filter((l) => l.alive);
    return this.legs.find((l) => l.id === ref)
      || [...alive].reverse().find((l) => l.address === ref)
      || (ref === 'caller' ? this.caller : undefined);
  }

  legEnded() {
    if (this.phase !== 'running' || this.legs.some((l) => l.alive)) return;
    // The platform ends a session 60 s after its last call.
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.terminate('idle'), this.options.idleTimeoutMs);
  }

  // ---- timers ----

  hostTimer(ms, fn) {
    const timer = setTimeout(() => {
      this.hostTimers.delete(timer);
      if (this.phase === 'running') fn();
    }, ms);
    this.hostTimers.add(timer);
    return timer;
  }

  clearHostTimer(timer) {
    clearTimeout(timer);
    this.hostTimers.delete(timer);
  }

  setScenarioTimer(fn, ms, repeat, args) {
    if (typeof fn !== 'function') throw new TypeError('Timer callback must be a function');
    if (this.phase !== 'running') {
      this.violation('timer_after_terminate', {});
      return 0;
    }
    if (this.scenarioTimers.size >= MAX_TIMERS) {
      this.violation('too_many_timers', { limit: MAX_TIMERS });
      throw new this.realm.Error(`Too many timers: at most ${MAX_TIMERS} may be active`);
    }
    this.timerSeq += 1;
    const id = this.timerSeq;
    const delay = Math.max(0, Number(ms) || 0);
    const run = () => {
      if (!repeat) this.scenarioTimers.delete(id);
      this.invoke(repeat ? 'setInterval' : 'setTimeout', fn, null, args);
    };
    this.scenarioTimers.set(id, repeat ? setInterval(run, Math.max(1, delay)) : setTimeout(run, delay));
    return id;
  }

  clearScenarioTimer(id) {
    const handle = this.scenarioTimers.get(id);
    if (handle === undefined) return;
    clearTimeout(handle);
    clearInterval(handle);
    this.scenarioTimers.delete(id);
  }

  // ---- HTTP policy across the session's phases ----

  mayStartHttp(job) {
    if (this.phase === 'running') return true;
    if (this.phase === 'terminating' && this.terminatingHttpLeft > 0) {
      this.terminatingHttpLeft -= 1;
      return true;
    }
    this.log('http_dropped', { req: job.id, url: job.url, phase: this.phase });
    if (this.phase === 'terminating') this.violation('http_after_terminating', { url: job.url });
    return false;
  }

  // ---- termination ----

  terminate(reason) {
    if (this.phase !== 'running') return;
    this.phase = 'draining';
    this.log('terminate', { reason });
    clearTimeout(this.idleTimer);
    for (const handle of this.scenarioTimers.values()) {
      clearTimeout(handle);
      clearInterval(handle);
    }
    this.scenarioTimers.clear();
    for (const timer of this.hostTimers) clearTimeout(timer);
    this.hostTimers.clear();
    // terminate() disconnects every call without further call events.
    for (const leg of this.legs) leg.end('disconnected', { code: 200, reason: 'Session terminated' }, { by: 'terminate', silent: true });
    for (const asr of this.asrs) asr.stop({ silent: true });
    for (const conference of this.conferences) conference.stop();
    for (const recorder of this.recorders) recorder.stop({ silent: true });
    this.net.dropQueued();
    this.drainTimer = setTimeout(() => this.fireTerminating(), DRAIN_LIMIT_MS);
    this.net.whenIdle(() => {
      clearTimeout(this.drainTimer);
      setImmediate(() => this.fireTerminating());
    });
  }

  fireTerminating() {
    if (this.phase !== 'draining') return;
    this.phase = 'terminating';
    this.dispatch(this.appListeners, AppEvents.Terminating, { name: AppEvents.Terminating });
    this.drainTimer = setTimeout(() => this.fireTerminated(), DRAIN_LIMIT_MS);
    this.net.whenIdle(() => {
      clearTimeout(this.drainTimer);
      setImmediate(() => this.fireTerminated());
    });
  }

  fireTerminated() {
    if (this.phase !== 'terminating') return;
    this.phase = 'terminated';
    this.net.dropQueued();
    // In Terminated only Logger.write works; the handlers still run.
    const handlers = this.appListeners.get(AppEvents.Terminated);
    this.log('event', { name: AppEvents.Terminated, handlers: handlers.length });
    for (const handler of handlers) this.invoke(AppEvents.Terminated, handler, null, [{ name: AppEvents.Terminated }]);
    this.finish('terminated');
  }

  /** Stops the session at once, with no further events: the emulator is shutting down. */
  kill() {
    if (this.phase === 'terminated') return;
    this.phase = 'terminated';
    clearTimeout(this.idleTimer);
    clearTimeout(this.drainTimer);
    for (const handle of this.scenarioTimers.values()) {
      clearTimeout(handle);
      clearInterval(handle);
    }
    this.scenarioTimers.clear();
    for (const leg of this.legs) {
      for (const timer of leg.timers) clearTimeout(timer);
      leg.timers.clear();
    }
    this.net.abortAll();
    this.finish('emulator_stopped');
    for (const waiter of [...this.waiters]) waiter.finish(null);
  }

  finish(reason) {
    this.phase = 'terminated';
    for (const timer of this.hostTimers) clearTimeout(timer);
    this.hostTimers.clear();
    this.log('terminated', { reason });
    this.emulator.sessionEnded(this);
  }
}

/** The loggable part of an event payload (no Call objects). */
function eventDetails(payload) {
  const out = {};
  for (const [key, value] of Object.entries(payload)) {
    if (key === 'call' || key === 'asr' || key === 'name' || key === 'id' || typeof value === 'function') continue;
    if (key === 'headers' && value && Object.keys(value).length === 0) continue;
    out[key] = value;
  }
  return out;
}

module.exports = { Session };
