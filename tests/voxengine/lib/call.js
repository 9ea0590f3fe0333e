'use strict';
// One call leg. `Leg` holds the emulator's view (state, media, timers);
// `leg.facade` is the object the scenario sees, exposing only Call methods.

const { CallEvents } = require('./events');
const { Listeners } = require('./listeners');
const { strict } = require('./strict');
const { schemeHasVideo } = require('./scheme');

const MAX_SAY_CHARS = 1500;
const MAX_PLAYERS = 10; // media players per session (platform limit)

let legCounter = 0;

class Leg {
  /**
   * @param {import('./session').Session} session
   * @param {object} init direction 'in'|'out', type 'incoming'|'user'|'sip'|'pstn',
   *   address, callerid, displayName, headers, video, scheme, customData
   */
  constructor(session, init) {
    legCounter += 1;
    this.session = session;
    this.id = `${session.hexId.slice(0, 8)}-${legCounter}`;
    this.direction = init.direction;
    this.type = init.type;
    this.address = init.address;
    this.callerid = init.callerid || '';
    this.displayName = init.displayName || '';
    this.headers = { ...(init.headers || {}) };
    this.video = Boolean(init.video);
    this.scheme = init.scheme;
    this.customData = init.customData || '';
    this.state = init.direction === 'in' ? 'ALERTING' : 'PROGRESSING';
    this.answerRequested = false;
    this.connectedAt = null;
    this.endedBy = null;
    this.hearing = null; // what this leg's single incoming stream carries
    this.playback = null; // {kind, url|text, timer}
    this.recording = null; // {url, requested, startedAt}
    this.tones = false; // handleTones(true): DTMF reaches the scenario as ToneReceived
    this.orphans = new Set(); // looped playbacks replaced by another stream: still playing, to no one
    this.timers = new Set();
    this.listeners = new Listeners();
    this.facade = strict(this.buildFacade(), 'Call');
  }

  get alive() {
    return this.state !== 'TERMINATED';
  }

  get hasMedia() {
    return this.state === 'CONNECTED' || this.answerRequested || this.direction === 'out';
  }

  summary() {
    return {
      id: this.id,
      direction: this.direction,
      type: this.type,
      address: this.address,
      callerid: this.callerid,
      display_name: this.displayName,
      state: this.state,
      video: this.video,
      scheme: this.scheme,
      headers: this.headers,
      hearing: this.hearing,
      tones: this.tones,
      recording: this.recording ? this.recording.url : null,
      ended_by: this.endedBy,
    };
  }

  // ---- timers owned by this leg (scripted callee behaviour, media) ----

  after(ms, fn) {
    const timer = this.session.hostTimer(ms, () => {
      this.timers.delete(timer);
      fn();
    });
    this.timers.add(timer);
    return timer;
  }

  cancel(timer) {
    if (timer && this.timers.delete(timer)) this.session.clearHostTimer(timer);
  }

  // ---- events to the scenario ----

  emit(name, extra = {}) {
    const payload = { call: this.facade, name, id: this.id, headers: {}, ...extra };
    this.session.dispatch(this.listeners, name, payload, { leg: this.id });
  }

  emitLater(name, extra) {
    // Platform events never fire inside the call that caused them.
    setImmediate(() => this.emit(name, extra));
  }

  // ---- state transitions ----

  connect(extra = {}) {
    if (this.state !== 'ALERTING' && this.state !== 'PROGRESSING') return;
    this.state = 'CONNECTED';
    this.connectedAt = Date.now();
    this.session.log('connected', { leg: this.id });
    this.emitLater(CallEvents.Connected, extra);
    if (this.recording && !this.recording.url) this.startRecording();
  }

  /** Ends the leg: `how` is 'disconnected' or 'failed'; silent skips the event. */
  end(how, details, { by, silent = false } = {}) {
    if (!this.alive) return;
    const wasConnected = this.state === 'CONNECTED';
    this.state = 'TERMINATED';
    this.endedBy = by;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.stopPlaybackQuietly('call_ended');
    for (const orphan of this.orphans) this.session.players.delete(orphan);
    this.orphans.clear();
    this.session.media.detach(this);
    this.session.log('ended', { leg: this.id, how, by, ...details });
    if (!silent) {
      if (how === 'failed') {
        this.emitLater(CallEvents.Failed, { code: details.code, reason: details.reason });
      } else {
        const duration = wasConnected ? Math.round((Date.now() - this.connectedAt) / 1000) : 0;
        this.emitLater(CallEvents.Disconnected, {
          internalCode: details.code,
          reason: details.reason,
          duration,
          cost: 0,
          direction: this.direction === 'in' ? 'INCOMING' : 'OUTGOING',
        });
      }
    }
    if (this.recording && this.recording.url && !silent) {
      const { url, startedAt } = this.recording;
      const duration = Math.round((Date.now() - startedAt) / 1000);
      setImmediate(() => this.emitLater(CallEvents.RecordStopped, { url, cost: 0, duration }));
    }
    this.session.legEnded(this);
  }

  /** The remote party hangs up (control API or scripted callee). */
  remoteHangup(by) {
    if (this.state === 'CONNECTED') {
      this.end('disconnected', { code: 200, reason: 'Normal call clearing' }, { by });
    } else if (this.direction === 'out') {
      this.end('failed', { code: 603, reason: 'Decline' }, { by });
    } else {
      this.end('disconnected', { code: 487, reason: 'Request terminated' }, { by });
    }
  }

  // ---- media ----

  requireMedia(what) {
    if (!this.alive || !this.hasMedia) {
      this.session.violation('media_without_call', { leg: this.id, what, state: this.state });
      return false;
    }
    return true;
  }

  setHearing(source) {
    // A call receives a single stream: whatever came before is replaced.
    this.stopPlaybackQuietly('replaced');
    this.session.media.clearSenderTo(this);
    this.hearing = source;
  }

  stopPlaybackQuietly(reason) {
    if (!this.playback) return;
    const playback = this.playback;
    const { kind, url, text, timer, loop } = playback;
    this.cancel(timer);
    this.playback = null;
    this.hearing = null;
    const replaced = reason === 'replaced';
    const finishes = replaced && this.session.options.replacedPlaybackFinishes;
    // Unconfirmed platform behaviour, both modelled: a replaced playback either
    // ends with PlaybackFinished (option replaced_playback_finishes), or, when
    // looped, goes on playing to no one and keeps its media player.
    const orphaned = replaced && !finishes && loop;
    if (orphaned) this.orphans.add(playback);
    else this.session.players.delete(playback);
    this.session.log('stopped', { leg: this.id, what: kind, url, text, reason, ...(orphaned ? { orphaned: true } : {}) });
    if (finishes) this.emitLater(CallEvents.PlaybackFinished, {});
  }

  /** A playback or TTS takes one of the session's media players. */
  takePlayer(playback, what) {
    const players = this.session.players;
    if (players.size >= MAX_PLAYERS) {
      this.session.violation('too_many_players', { leg: this.id, what, limit: MAX_PLAYERS });
      throw new this.session.realm.Error(`Too many media players: at most ${MAX_PLAYERS} per session`);
    }
    players.add(playback);
  }

  startPlayback(url, options) {
    // Legacy form: startPlayback(url, loop:boolean).
    const loop = typeof options === 'boolean' ? options : Boolean(options && options.loop);
    if (typeof url !== 'string' || !url) throw new TypeError('startPlayback needs a URL');
    if (!this.requireMedia('startPlayback')) return;
    this.setHearing({ kind: 'playback', url, loop });
    const playback = { kind: 'playback', url, loop, timer: null };
    this.takePlayer(playback, 'startPlayback');
    this.playback = playback;
    this.session.log('played', { leg: this.id, url, loop });
    this.startedLater(playback, loop ? 0 : this.session.options.playbackMs / 1000);
    if (!loop) playback.timer = this.after(this.session.options.playbackMs, () => this.finishPlayback(playback));
  }

  say(text, options) {
    if (!this.requireMedia('say')) return;
    text = String(text);
    const voice = options && typeof options === 'object' && 'voice' in options ? options.voice : options;
    this.setHearing({ kind: 'say', text });
    const playback = { kind: 'say', text, loop: false, timer: null };
    this.takePlayer(playback, 'say');
    this.playback = playback;
    this.session.log('said', { leg: this.id, text, voice: voice === undefined ? null : voice });
    if (text.length > MAX_SAY_CHARS) {
      playback.timer = this.after(0, () => this.finishPlayback(playback, 'Text is too long'));
      return;
    }
    const words = text.split(/\s+/).filter(Boolean).length;
    const ms = Math.max(1, Math.round(words * this.session.options.sayMsPerWord));
    this.startedLater(playback, ms / 1000);
    playback.timer = this.after(ms, () => this.finishPlayback(playback));
  }

  startedLater(playback, duration) {
    setImmediate(() => {
      if (this.playback === playback) this.emit(CallEvents.PlaybackStarted, { duration });
    });
  }

  finishPlayback(playback, error) {
    if (this.playback !== playback) return;
    this.playback = null;
    this.hearing = null;
    this.session.players.delete(playback);
    this.session.log('stopped', { leg: this.id, what: playback.kind, url: playback.url, text: playback.text, reason: error ? 'error' : 'finished' });
    // Option drop_playback_finished: the event is lost (what a scenario's safety timer is for).
    if (this.session.options.dropPlaybackFinished) {
      this.session.log('event_dropped', { leg: this.id, name: CallEvents.PlaybackFinished });
      return;
    }
    this.emitLater(CallEvents.PlaybackFinished, error ? { error } : {});
  }

  stopPlayback() {
    // stopPlayback never fires PlaybackFinished.
    this.stopPlaybackQuietly('stopPlayback');
  }

  record(params) {
    if (!this.requireMedia('record')) return;
    if (this.recording) {
      this.session.violation('record_twice', { leg: this.id });
      return;
    }
    this.recording = { url: null, params: params || {}, startedAt: null };
    this.session.log('recording', { leg: this.id, params: params || {} });
    if (this.state === 'CONNECTED') this.startRecording();
  }

  startRecording() {
    const url = `${this.session.emulator.recordBaseUrl}/records/${this.session.hexId}/${this.id}.mp3`;
    this.recording.url = url;
    this.recording.startedAt = Date.now();
    this.session.log('recording_started', { leg: this.id, url });
    this.emitLater(CallEvents.RecordStarted, { url });
  }

  // ---- DTMF from the remote party ----

  /**
   * The remote party presses keys: each digit becomes ToneReceived{tone, type}
   * if the scenario called handleTones(true), else it is dropped.
   */
  press(digits, type) {
    const delivered = [];
    for (const tone of digits) {
      if (this.tones) {
        delivered.push(tone);
        this.session.log('tone', { leg: this.id, tone, type });
        this.emitLater(CallEvents.ToneReceived, { tone, type });
      } else {
        this.session.log('tone_ignored', { leg: this.id, tone, reason: 'handleTones is off' });
      }
    }
    return delivered;
  }

  // ---- facade ----

  buildFacade() {
    const leg = this;
    const session = this.session;
    return {
      answer(extraHeaders, params) {
        if (leg.direction !== 'in') throw new TypeError('answer() is only for incoming calls');
        if (leg.state !== 'ALERTING' || leg.answerRequested) {
          session.violation('answer_not_alerting', { leg: leg.id, state: leg.state });
          return;
        }
        leg.answerRequested = true;
        const scheme = params && params.scheme;
        // Video follows the codec scheme: answering a video caller without it drops video.
        const video = leg.video && schemeHasVideo(scheme);
        session.log('answered', { leg: leg.id, scheme: scheme === undefined ? null : scheme, video, headers: extraHeaders || {} });
        leg.after(session.options.connectDelayMs, () => leg.connect());
      },
      reject(code, extraHeaders) {
        if (leg.direction !== 'in' || leg.state !== 'ALERTING') {
          session.violation('reject_not_alerting', { leg: leg.id, state: leg.state });
          return;
        }
        session.log('hangup', { leg: leg.id, by: 'scenario', code: code || 603, headers: extraHeaders || {} });
        leg.end('disconnected', { code: code || 603, reason: 'Rejected' }, { by: 'scenario' });
      },
      decline(code, extraHeaders) {
        this.reject(code, extraHeaders);
      },
      hangup(extraHeaders) {
        if (!leg.alive) return;
        session.log('hangup', { leg: leg.id, by: 'scenario', headers: extraHeaders || {} });
        if (leg.direction === 'out' && leg.state !== 'CONNECTED') {
          leg.end('failed', { code: 487, reason: 'Request Terminated' }, { by: 'scenario' });
        } else {
          leg.end('disconnected', { code: 200, reason: 'Normal call clearing' }, { by: 'scenario' });
        }
      },
      ring() {
        session.log('ring', { leg: leg.id });
      },
      startEarlyMedia() {
        session.log('early_media', { leg: leg.id });
      },
      startPlayback: (url, options) => leg.startPlayback(url, options),
      stopPlayback: () => leg.stopPlayback(),
      say: (text, options) => leg.say(text, options),
      record: (params) => leg.record(params),
      sendMediaTo: (unit) => session.media.sendMediaTo(leg, session.unitOf(unit)),
      stopMediaTo: (unit) => session.media.stopMediaTo(leg, session.unitOf(unit)),
      handleTones(enable) {
        leg.tones = Boolean(enable);
        session.log('tones', { leg: leg.id, enabled: leg.tones });
      },
      sendMessage(text) {
        session.log('message', { leg: leg.id, text: String(text) });
      },
      sendInfo(mimeType, body, headers) {
        session.log('info_sent', { leg: leg.id, mime_type: String(mimeType), body: String(body), headers: headers || {} });
      },
      // Not in the typings' Call class; the official easyprocess helper relays
      // re-INVITEs between two legs with these three.
      reInvite(headers, mimeType, body) {
        session.log('reinvite', { leg: leg.id, what: 'reInvite', mime_type: mimeType, body, headers: headers || {} });
      },
      acceptReInvite(headers, mimeType, body) {
        session.log('reinvite', { leg: leg.id, what: 'acceptReInvite', mime_type: mimeType, body, headers: headers || {} });
      },
      rejectReInvite(headers) {
        session.log('reinvite', { leg: leg.id, what: 'rejectReInvite', headers: headers || {} });
      },
      addEventListener(name, handler) {
        leg.listeners.add(name, handler, 'Call');
      },
      removeEventListener(name, handler) {
        leg.listeners.remove(name, handler);
      },
      callerid: () => leg.callerid,
      displayName: () => leg.displayName,
      number: () => leg.address,
      id: () => leg.id,
      state: () => leg.state,
      incoming: () => leg.direction === 'in',
      clientType: () => (leg.type === 'incoming' ? leg.session.callerClientType : leg.type),
      headers: () => ({ ...leg.headers }),
      customData(value) {
        if (value === undefined) return leg.customData;
        leg.customData = String(value);
        return leg.customData;
      },
    };
  }
}

module.exports = { Leg };
