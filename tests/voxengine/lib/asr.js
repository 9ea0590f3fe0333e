'use strict';
// Speech recognition (require(Modules.ASR)): VoxEngine.createASR(params), the
// recogniser as a media unit a call sends its audio to, and ASREvents. What
// the caller "says" comes from the control API (POST /sessions/{id}/say) and
// reaches every running recogniser that hears the caller at that moment.

const { Listeners } = require('./listeners');
const { strict } = require('./strict');

// Event-name strings as the platform's typings spell them (note: ASRError is 'ASR.Error').
const ASREvents = Object.freeze({
  ASRError: 'ASR.Error',
  Started: 'ASR.Started',
  CaptureStarted: 'ASR.CaptureStarted',
  SpeechCaptured: 'ASR.SpeechCaptured',
  Result: 'ASR.Result',
  InterimResult: 'ASR.InterimResult',
  Stopped: 'ASR.Stopped',
});

// Modules a scenario may require(); ASR and Recorder are modelled. The values are the
// emulator's own stand-ins (the platform's are opaque to scenarios).
const MODULE_NAMES = [
  'ACD', 'AI', 'ApplicationStorage', 'ASR', 'Avatar', 'Conference', 'IVR', 'PushService', 'Recorder',
  'SmartQueue', 'StreamingAgent', 'VoximplantAPI', 'OpenAI', 'Gemini', 'ElevenLabs', 'Ultravox',
  'Cartesia', 'Yandex',
];
const Modules = Object.freeze(Object.fromEntries(MODULE_NAMES.map((name) => [name, `module:${name}`])));
const MODELLED_MODULES = new Set([Modules.ASR, Modules.Recorder]);

// ASRProfileList.<Provider>.<lang> as the reference lists them
// (voximplant.com/docs/references/voxengine/asrprofilelist/<provider>). Amazon,
// Deepgram, Yandex, SaluteSpeech, TBank and Cartesia are complete; Google and
// Microsoft list well over a hundred languages each, of which this is a
// documented subset. Anything else throws, as a misspelt member does.
const PROFILE_LANGUAGES = {
  Amazon: ['en_GB', 'en_US', 'es_US', 'fr_CA', 'fr_FR'],
  Cartesia: ['autodetect'],
  Deepgram: [
    'da', 'de', 'en', 'en_AU', 'en_GB', 'en_IN', 'en_NZ', 'en_US', 'es', 'es_419', 'fr', 'fr_CA', 'hi',
    'hi_Latn', 'id', 'it', 'ja', 'ko', 'nl', 'no', 'pl', 'pt', 'pt_BR', 'pt_PT', 'ru', 'sv', 'ta', 'tr',
    'uk', 'zh', 'zh_CN', 'zh_TW',
  ],
  Google: [
    'af_ZA', 'am_ET', 'ar_AE', 'ar_EG', 'ar_SA', 'bg_BG', 'ca_ES', 'cmn_Hans_CN', 'cmn_Hant_TW', 'cs_CZ',
    'da_DK', 'de_AT', 'de_CH', 'de_DE', 'el_GR', 'en_AU', 'en_GB', 'en_IN', 'en_US', 'es_ES', 'es_MX',
    'es_US', 'fi_FI', 'fr_CA', 'fr_FR', 'he_IL', 'hi_IN', 'hu_HU', 'it_IT', 'ja_JP', 'ko_KR', 'nl_NL',
    'pl_PL', 'pt_BR', 'pt_PT', 'ru_RU', 'sv_SE', 'tr_TR', 'uk_UA',
  ],
  Microsoft: [
    'af_ZA', 'am_ET', 'ar_AE', 'ar_EG', 'ar_SA', 'bg_BG', 'ca_ES', 'cs_CZ', 'da_DK', 'de_AT', 'de_CH',
    'de_DE', 'el_GR', 'en_AU', 'en_CA', 'en_GB', 'en_US', 'es_ES', 'es_MX', 'fr_CA', 'fr_FR', 'it_IT',
    'ru_RU',
  ],
  SaluteSpeech: ['ru_RU'],
  TBank: ['ru_RU'],
  Yandex: [
    'auto', 'de_DE', 'en_US', 'es_ES', 'fi_FI', 'fr_FR', 'he_HE', 'it_IT', 'kk_KK', 'nl_NL', 'pl_PL',
    'pt_BR', 'pt_PT', 'ru_RU', 'sv_SE', 'tr_TR', 'uz_UZ',
  ],
};
const PROFILES = new Set();
const ASRProfileList = Object.freeze(Object.fromEntries(Object.entries(PROFILE_LANGUAGES).map(([provider, langs]) => {
  const table = Object.fromEntries(langs.map((lang) => {
    const value = `asr-profile:${provider}.${lang}`;
    PROFILES.add(value);
    return [lang, value];
  }));
  return [provider, strict(Object.freeze(table), `ASRProfileList.${provider}`)];
})));

const RECOGNITION_MS = 20; // from the end of speech to Result

let asrCounter = 0;

class Asr {
  /**
   * @param {import('./session').Session} session
   * @param {object} params ASRParameters (profile required)
   */
  constructor(session, params) {
    asrCounter += 1;
    this.session = session;
    this.id = `asr-${asrCounter}`;
    this.profile = params.profile;
    this.singleUtterance = Boolean(params.singleUtterance);
    this.interimResults = Boolean(params.interimResults);
    this.phraseHints = Array.isArray(params.phraseHints) ? params.phraseHints.map(String) : [];
    this.state = 'running'; // running | stopped
    this.startedAt = Date.now();
    this.hearing = null; // the one stream the recogniser receives
    this.listeners = new Listeners();
    this.timers = new Set();
    this.facade = strict(this.buildFacade(), 'ASR');
  }

  get alive() {
    return this.state === 'running';
  }

  summary() {
    return {
      id: this.id,
      profile: this.profile,
      single_utterance: this.singleUtterance,
      interim_results: this.interimResults,
      phrase_hints: this.phraseHints,
      state: this.state,
      hearing: this.hearing,
    };
  }

  setHearing(source) {
    // Like a call, a recogniser takes a single incoming stream: the newest wins.
    this.hearing = source;
  }

  emit(name, extra = {}) {
    this.session.dispatch(this.listeners, name, { asr: this.facade, name, ...extra }, { asr: this.id });
  }

  emitLater(name, extra) {
    setImmediate(() => this.emit(name, extra));
  }

  after(ms, fn) {
    const timer = this.session.hostTimer(ms, () => {
      this.timers.delete(timer);
      fn();
    });
    this.timers.add(timer);
  }

  /** Whether this recogniser receives `leg`'s audio now. */
  hears(leg) {
    return this.alive && this.hearing && this.hearing.kind === 'call' && this.hearing.from === leg.id;
  }

  /**
   * The caller speaks an utterance of `ms` milliseconds: CaptureStarted at
   * once, InterimResult midway (with interimResults), SpeechCaptured at the end
   * of speech, then Result. Events stop if the recogniser is stopped meanwhile.
   */
  utterance(text, confidence, ms) {
    this.emitLater(ASREvents.CaptureStarted);
    if (this.interimResults) {
      const first = text.split(/\s+/)[0] || text;
      this.after(Math.round(ms / 2), () => this.alive && this.emit(ASREvents.InterimResult, { text: first }));
    }
    this.after(ms, () => {
      if (!this.alive) return;
      this.emit(ASREvents.SpeechCaptured);
      this.after(RECOGNITION_MS, () => this.alive && this.emit(ASREvents.Result, { text, confidence }));
    });
  }

  error(message) {
    if (!this.alive) return false;
    this.emitLater(ASREvents.ASRError, { error: String(message) });
    return true;
  }

  /** Ends recognition; `silent` (session terminated) fires no Stopped. */
  stop({ silent = false } = {}) {
    if (!this.alive) return;
    this.state = 'stopped';
    for (const timer of this.timers) this.session.clearHostTimer(timer);
    this.timers.clear();
    this.hearing = null;
    const duration = Math.round((Date.now() - this.startedAt) / 1000);
    this.session.log('asr_stopped', { asr: this.id, silent });
    if (!silent) this.emitLater(ASREvents.Stopped, { cost: '0.0000', duration });
  }

  buildFacade() {
    const asr = this;
    return {
      addEventListener(name, handler) {
        asr.listeners.add(name, handler, 'ASR');
      },
      removeEventListener(name, handler) {
        asr.listeners.remove(name, handler);
      },
      stop: () => asr.stop(),
      id: () => asr.id,
    };
  }
}

/** VoxEngine.createASR(params): the recogniser starts at once and fires Started. */
function createASR(session, params) {
  if (!session.modules.has(Modules.ASR)) {
    throw new session.realm.Error('VoxEngine.createASR needs require(Modules.ASR) first');
  }
  if (params === null || typeof params !== 'object') {
    // The legacy createASR(ASRLanguage.X, dict) form is not modelled.
    throw new TypeError('createASR: give ASRParameters, e.g. {profile: ASRProfileList.Google.en_US}');
  }
  if (params.profile === undefined || params.profile === null) throw new TypeError('createASR: profile is required');
  if (!PROFILES.has(params.profile)) throw new TypeError(`createASR: profile must be an ASRProfileList value, got ${String(params.profile)}`);
  const asr = new Asr(session, params);
  session.asrs.push(asr);
  session.log('asr_created', {
    asr: asr.id,
    profile: asr.profile,
    single_utterance: asr.singleUtterance,
    interim_results: asr.interimResults,
    phrase_hints: asr.phraseHints,
  });
  asr.emitLater(ASREvents.Started);
  return asr.facade;
}

module.exports = { Asr, ASREvents, ASRProfileList, Modules, MODELLED_MODULES, createASR };
