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
  pstnCallerId: string;
  /** 'Provider.language' in ASRProfileList, e.g. 'Google.en_US'; '' for keys only. */
  asrProfile: string;
  pinYesWords: string[];
  pinNoWords: string[];
  /** 0..1. */
  pinMinConfidence: number;
  pinTimeoutSec: number;
  pinReplyWaitSec: number;
  pinGoodbyeText: string;
}

/** Defined by config.voxengine.js, which the routing rule runs first. */
declare var SWITCHBOARD_CONFIG: Partial<SwitchboardConfig>;
