// Settings of inbound.voxengine.js; config.voxengine.js sets any of them.

interface SwitchboardConfig {
  backendUrl: string;
  platformToken: string;
  musicUrl: string;
  /** A VoiceList voice, or null for the platform default. */
  voice: unknown;
  language: string;
  announceEverySec: number;
  ringTimeoutSec: number;
  goodbyeText: string;
  sorryText: string;
  httpRetries: number;
  httpTimeoutSec: number;
  recordCalls: boolean;
  /** Caller id of PSTN legs unless the caller is an inbound PSTN caller: a rented or verified number. */
  pstnCallerId: string;
  /** Seconds a leg may go without media (RtpStopped) before it is hung up. */
  rtpLostSec: number;
  /** How often failed music is retried, */
  musicRetries: number;
  /** after this many seconds times the failure count. */
  musicRetrySec: number;
  /** 'Provider.language' in ASRProfileList, e.g. 'Google.en_US'; '' for keys only. */
  asrProfile: string;
  pinYesWords: string[];
  pinNoWords: string[];
  /** 0..1. */
  pinMinConfidence: number;
  pinTimeoutSec: number;
  pinReplyWaitSec: number;
  pinGoodbyeText: string;
  /** The tone before a voicemail; '' means {backendUrl}/static/audio/beep.wav. */
  beepUrl: string;
  /** The longest voicemail, in seconds (the backend's action may say less). */
  voicemailMaxSec: number;
  /** The key that ends a voicemail early. */
  voicemailEndKey: string;
  voicemailThanksText: string;
  /** Seconds the caller has to confirm or type the callback number. */
  callbackInputSec: number;
  callbackConfirmText: string;
  callbackEnterText: string;
  callbackThanksText: string;
  /** Said to the caller when a callback reaches them, before the operator is dialled. */
  callbackHelloText: string;
  callbackSorryText: string;
}

/** Defined by config.voxengine.js, which the routing rule runs first. */
declare var SWITCHBOARD_CONFIG: Partial<SwitchboardConfig>;
