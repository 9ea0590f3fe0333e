// Declarations for the part of the VoxEngine API that Switchboard's scenarios
// use, written for this project from the platform reference
// (shared brief voximplant.md, sections 0-3 and 5.1). Not the official typings: only
// what we call, so that tsc catches misspelt methods, options and events.

/** Headers as the platform passes them: X- names (plus a few VI- controls). */
type VoxHeaders = { [name: string]: string };

declare namespace AppEvents {
  const Started: 'Application.Started';
  const CallAlerting: 'Application.CallAlerting';
  const HttpRequest: 'Application.HttpRequest';
  const Terminating: 'Application.Terminating';
  const Terminated: 'Application.Terminated';
  const WebSocket: 'AppEvents.NewWebSocketConnection';
  const NewWebSocketFailed: 'Application.OnNewWebSocketFailed';

  interface StartedEvent {
    name: 'Application.Started';
    accessURL: string;
    accessSecureURL: string;
    accountId: number;
    applicationId: number;
    logURL: string;
    sessionId: number;
  }

  interface CallAlertingEvent {
    name: 'Application.CallAlerting';
    call: Call;
    callerid: string;
    destination: string;
    displayName: string;
    toURI: string;
    fromURI: string;
    headers: VoxHeaders;
    customData?: string;
    /**
     * Codec information; pass it on so video survives. The typings give it as a
     * string here and as {<stream>: {audio, video}} in CallParameters.scheme.
     */
    scheme: string;
  }

  interface HttpRequestEvent {
    name: 'Application.HttpRequest';
    method: string;
    path: string;
    /** The raw request body. */
    content: string;
    /** Only X- headers. */
    headers: Array<{ key: string; value: string }> | VoxHeaders;
  }

  interface TerminatingEvent {
    name: 'Application.Terminating';
    systemError?: boolean;
  }

  interface TerminatedEvent {
    name: 'Application.Terminated';
    systemError?: boolean;
  }
}

interface AppEventMap {
  'Application.Started': AppEvents.StartedEvent;
  'Application.CallAlerting': AppEvents.CallAlertingEvent;
  /** The handler's return value is the HTTP reply body. */
  'Application.HttpRequest': AppEvents.HttpRequestEvent;
  'Application.Terminating': AppEvents.TerminatingEvent;
  'Application.Terminated': AppEvents.TerminatedEvent;
}

declare namespace CallEvents {
  const Connected: 'Call.Connected';
  const Disconnected: 'Call.Disconnected';
  const Failed: 'Call.Failed';
  const Ringing: 'Call.Ringing';
  const PlaybackStarted: 'Call.PlaybackStarted';
  const PlaybackFinished: 'Call.PlaybackFinished';
  const RecordStarted: 'Call.RecordStarted';
  const RecordStopped: 'Call.RecordStopped';
  const RecordError: 'Call.RecordError';
  const MessageReceived: 'Call.MessageReceived';
  const InfoReceived: 'Call.InfoReceived';
  const ToneReceived: 'Call.ToneReceived';
  const ReInviteReceived: 'Call.ReInviteReceived';
  const ReInviteAccepted: 'Call.ReInviteAccepted';
  const ReInviteRejected: 'Call.ReInviteRejected';
  const RtpStopped: 'Call.RtpStopped';
  const RtpResumed: 'Call.RtpResumed';

  interface CallEvent {
    call: Call;
    name: string;
    id: string;
    headers?: VoxHeaders;
  }

  interface ConnectedEvent extends CallEvent {
    /** Custom data the Web SDK sent when it answered. */
    customData?: string;
    scheme?: string;
  }

  interface DisconnectedEvent extends CallEvent {
    internalCode: number;
    reason: string;
    /** Seconds. */
    duration: number;
    cost: number;
    direction?: string;
  }

  interface FailedEvent extends CallEvent {
    /** SIP code: 486 busy, 487 cancelled, 404, 480 unavailable, 402, 603 declined, 408 no answer. */
    code: number;
    reason: string;
  }

  interface PlaybackStartedEvent extends CallEvent {
    /** Length of the playback (seconds, as we read it; the typings name no unit). */
    duration: number;
  }

  interface PlaybackFinishedEvent extends CallEvent {
    error?: string;
  }

  interface RecordStartedEvent extends CallEvent {
    url: string;
  }

  interface RecordStoppedEvent extends CallEvent {
    url: string;
    cost: number;
    duration: number;
  }

  interface MessageReceivedEvent extends CallEvent {
    text: string;
  }

  interface RecordErrorEvent extends CallEvent {
    error: string;
  }

  /** SIP INFO; also the shape of ReInviteReceived/Accepted. */
  interface InfoReceivedEvent extends CallEvent {
    mimeType: string;
    body: string;
  }

  /** DTMF, after call.handleTones(true). */
  interface ToneReceivedEvent extends CallEvent {
    /** '0'-'9', '*' or '#'. */
    tone: string;
    /** 1 RFC 2833, 2 in-band, 3 SIP INFO. */
    type: number;
  }
}

interface CallEventMap {
  'Call.Connected': CallEvents.ConnectedEvent;
  'Call.Disconnected': CallEvents.DisconnectedEvent;
  'Call.Failed': CallEvents.FailedEvent;
  'Call.Ringing': CallEvents.CallEvent;
  'Call.PlaybackStarted': CallEvents.PlaybackStartedEvent;
  'Call.PlaybackFinished': CallEvents.PlaybackFinishedEvent;
  'Call.RecordStarted': CallEvents.RecordStartedEvent;
  'Call.RecordStopped': CallEvents.RecordStoppedEvent;
  'Call.RecordError': CallEvents.RecordErrorEvent;
  'Call.MessageReceived': CallEvents.MessageReceivedEvent;
  'Call.InfoReceived': CallEvents.InfoReceivedEvent;
  'Call.ToneReceived': CallEvents.ToneReceivedEvent;
  /** The party started/stopped video or screen sharing, or put the call on/off hold. */
  'Call.ReInviteReceived': CallEvents.InfoReceivedEvent;
  'Call.ReInviteAccepted': CallEvents.InfoReceivedEvent;
  'Call.ReInviteRejected': CallEvents.CallEvent;
  /** The party's media stopped arriving. */
  'Call.RtpStopped': CallEvents.CallEvent;
  'Call.RtpResumed': CallEvents.CallEvent;
}

interface CallAnswerParameters {
  displayName?: string;
  scheme?: string;
  maxVideoBitrate?: number;
}

interface StartPlaybackParameters {
  loop?: boolean;
  progressivePlayback?: boolean;
}

interface SayParameters {
  /** A voice from the platform's VoiceList; omitted means the default voice. */
  voice?: unknown;
  progressivePlayback?: boolean;
}

interface CallRecordParameters {
  hd_audio?: boolean;
  lossless?: boolean;
  stereo?: boolean;
  transcribe?: boolean;
  language?: string;
  video?: boolean;
  recordNamePrefix?: string;
}

declare class Call {
  private constructor();
  answer(extraHeaders?: VoxHeaders, params?: CallAnswerParameters): void;
  reject(code: number, extraHeaders?: VoxHeaders): void;
  hangup(extraHeaders?: VoxHeaders): void;
  ring(extraHeaders?: VoxHeaders): void;
  /** Replaces whatever the call hears; `loop: true` for music on hold. */
  startPlayback(url: string, params?: StartPlaybackParameters): void;
  /** Stops playback or TTS without a PlaybackFinished event. */
  stopPlayback(): void;
  /** TTS; replaces whatever the call hears until PlaybackFinished. */
  say(text: string, params?: SayParameters): void;
  record(params?: CallRecordParameters): void;
  /** One-way media: the unit hears this call (a call may feed many units). */
  sendMediaTo(unit: VoxMediaUnit): void;
  stopMediaTo(unit: VoxMediaUnit): void;
  /** true: DTMF from this call arrives as CallEvents.ToneReceived. */
  handleTones(enable: boolean): void;
  sendMessage(text: string): void;
  /** SIP INFO to the party. */
  sendInfo(mimeType: string, body: string, headers?: VoxHeaders): void;
  // Not in the typings' Call class: the platform's own easyProcess helper
  // relays re-INVITEs between two legs with these.
  reInvite(headers: VoxHeaders, mimeType: string, body: string): void;
  acceptReInvite(headers: VoxHeaders, mimeType: string, body: string): void;
  rejectReInvite(headers: VoxHeaders): void;
  /** The kind of party: 'pstn' for the phone network (values from the reference, not the typings). */
  clientType(): string;
  addEventListener<K extends keyof CallEventMap>(event: K, handler: (event: CallEventMap[K]) => any): void;
  removeEventListener<K extends keyof CallEventMap>(event: K, handler?: (event: CallEventMap[K]) => any): void;
  callerid(): string;
  displayName(): string;
  number(): string;
  id(): string;
  incoming(): boolean;
  state(): 'TERMINATED' | 'CONNECTED' | 'PROGRESSING' | 'ALERTING';
  customData(value?: string): string;
  headers(): VoxHeaders;
}

interface CallUserParameters {
  username: string;
  callerid: string;
  displayName?: string;
  /** X- headers, plus 'VI-CallTimeout': seconds (10..400) to ring before giving up. */
  extraHeaders?: VoxHeaders;
  video?: boolean;
  scheme?: string;
  pushNotificationTimeout?: number;
}

interface CallSIPParameters {
  callerid?: string;
  displayName?: string;
  password?: string;
  authUser?: string;
  headers?: VoxHeaders;
  video?: boolean;
  outProxy?: string;
  scheme?: string;
}

interface CallPSTNParameters {
  followDiversion?: boolean;
}

declare namespace VoxEngine {
  function addEventListener<K extends keyof AppEventMap>(event: K, handler: (event: AppEventMap[K]) => any): void;
  function removeEventListener<K extends keyof AppEventMap>(event: K, handler?: (event: AppEventMap[K]) => any): void;
  function callUser(params: CallUserParameters): Call;
  function callSIP(to: string, params?: CallSIPParameters): Call;
  function callPSTN(number: string, callerid: string, params?: CallPSTNParameters): Call;
  /** Needs require(Modules.ASR). Recognition starts at once; feed it with call.sendMediaTo(asr). */
  function createASR(params: ASRParameters): ASR;
  /** Needs require(Modules.Recorder). Records what it hears: call.sendMediaTo(recorder). */
  function createRecorder(params?: RecorderParameters): Recorder;
  function sendMediaBetween(a: Call, b: Call): void;
  function stopMediaBetween(a: Call, b: Call): void;
  function easyProcess(call1: Call, call2: Call, onEstablished?: (call1: Call, call2: Call) => void): void;
  /** Ends the session; the current callback keeps running, so return after it. */
  function terminate(): void;
  function customData(value?: string): string;
}

declare namespace Net {
  interface HttpRequestOptions {
    method?: string;
    postData?: string | number[];
    headers?: VoxHeaders | string[];
    params?: { [name: string]: string };
    rawOutput?: boolean;
    /** Total timeout in seconds; 90 at most. */
    timeout?: number;
    /** TCP connect timeout in seconds; 6 at most. */
    connectionTimeout?: number;
    enableSystemLog?: boolean;
  }

  interface HttpRequestResult {
    /** HTTP status, or 0 (limits), -1 … -9 for transport failures (-7 timeout). */
    code: number;
    text: string;
    data?: number[];
    headers: Array<{ key: string; value: string }>;
    raw_headers: string;
    error: string;
  }

  /** Resolves (never rejects) on any outcome; check `code`. */
  function httpRequestAsync(url: string, options?: HttpRequestOptions): Promise<HttpRequestResult>;
  function httpRequest(url: string, callback: (result: HttpRequestResult) => void, options?: HttpRequestOptions): void;
}

declare namespace Logger {
  function write(text: string): void;
}

declare function setTimeout(callback: (...args: any[]) => void, ms?: number, ...args: any[]): number;
declare function clearTimeout(id: number | undefined | null): void;
declare function setInterval(callback: (...args: any[]) => void, ms?: number, ...args: any[]): number;
declare function clearInterval(id: number | undefined | null): void;

// ---------------------------------------------------------------- modules

/** An opaque module id for require(). */
interface VoxModule {
  readonly __voxModule: unique symbol;
}

declare const Modules: {
  readonly ACD: VoxModule;
  readonly AI: VoxModule;
  readonly ApplicationStorage: VoxModule;
  readonly ASR: VoxModule;
  readonly Conference: VoxModule;
  readonly IVR: VoxModule;
  readonly Recorder: VoxModule;
  readonly SmartQueue: VoxModule;
};

/** Loads a platform module; its globals (e.g. ASREvents, ASRProfileList) exist afterwards. */
declare function require(module: VoxModule): void;

// ---------------------------------------------------------------- speech recognition (Modules.ASR)

/** An opaque recognition profile: provider plus language. */
interface ASRProfile {
  readonly __asrProfile: unique symbol;
}

/** ASRProfileList.<Provider>.<language>, e.g. ASRProfileList.Google.en_US. */
declare const ASRProfileList: {
  readonly Amazon: { readonly [language: string]: ASRProfile };
  readonly Deepgram: { readonly [language: string]: ASRProfile };
  readonly Google: { readonly [language: string]: ASRProfile };
  readonly Microsoft: { readonly [language: string]: ASRProfile };
  readonly SaluteSpeech: { readonly [language: string]: ASRProfile };
  readonly TBank: { readonly [language: string]: ASRProfile };
  readonly Yandex: { readonly [language: string]: ASRProfile };
  readonly Cartesia: { readonly [language: string]: ASRProfile };
};

interface ASRParameters {
  /** Required. */
  profile: ASRProfile;
  model?: unknown;
  interimResults?: boolean;
  /** true: a Result after each utterance (use for yes/no); false: results at unpredictable times. */
  singleUtterance?: boolean;
  /** Google only: biases recognition towards these phrases, does not restrict it. */
  phraseHints?: string[];
  profanityFilter?: boolean;
  headers?: VoxHeaders;
}

declare namespace ASREvents {
  const ASRError: 'ASR.Error';
  const Started: 'ASR.Started';
  const CaptureStarted: 'ASR.CaptureStarted';
  const SpeechCaptured: 'ASR.SpeechCaptured';
  const Result: 'ASR.Result';
  const InterimResult: 'ASR.InterimResult';
  const Stopped: 'ASR.Stopped';

  interface ASREvent {
    asr: ASR;
    name: string;
  }

  interface ErrorEvent extends ASREvent {
    error: string;
  }

  interface ResultEvent extends ASREvent {
    text: string;
    /** 0..1 or 0..100 depending on the provider: normalise before comparing. */
    confidence: number;
    resultEndTime?: string | number;
    channelTag?: number;
    languageCode?: string;
  }

  interface InterimResultEvent extends ASREvent {
    text: string;
  }

  interface StoppedEvent extends ASREvent {
    cost: string;
    /** Seconds. */
    duration: number;
  }
}

interface ASREventMap {
  'ASR.Error': ASREvents.ErrorEvent;
  'ASR.Started': ASREvents.ASREvent;
  /** Voice detected. */
  'ASR.CaptureStarted': ASREvents.ASREvent;
  /** Capture ended, before recognition. */
  'ASR.SpeechCaptured': ASREvents.ASREvent;
  'ASR.Result': ASREvents.ResultEvent;
  'ASR.InterimResult': ASREvents.InterimResultEvent;
  /** After asr.stop(). */
  'ASR.Stopped': ASREvents.StoppedEvent;
}

declare class ASR {
  private constructor();
  addEventListener<K extends keyof ASREventMap>(event: K, handler: (event: ASREventMap[K]) => any): void;
  removeEventListener<K extends keyof ASREventMap>(event: K, handler?: (event: ASREventMap[K]) => any): void;
  /** Ends recognition; Stopped follows. Recognition otherwise goes on after each Result. */
  stop(): void;
  id(): string;
}

// ---------------------------------------------------------------- recording to a file (Modules.Recorder)

declare namespace RecorderEvents {
  const RecorderError: 'Recorder.Error';
  const Started: 'Recorder.Started';
  const Stopped: 'Recorder.Stopped';

  interface RecorderEvent {
    recorder: Recorder;
    name: string;
  }

  interface ErrorEvent extends RecorderEvent {
    error: string;
  }

  interface StartedEvent extends RecorderEvent {
    /** The link to the record. */
    url: string;
  }

  interface StoppedEvent extends RecorderEvent {
    cost: string;
    /** Seconds. */
    duration: number;
  }
}

interface RecorderEventMap {
  'Recorder.Error': RecorderEvents.ErrorEvent;
  'Recorder.Started': RecorderEvents.StartedEvent;
  'Recorder.Stopped': RecorderEvents.StoppedEvent;
}

interface RecorderParameters {
  hd_audio?: boolean;
  lossless?: boolean;
  recordNamePrefix?: string;
  secure?: boolean;
}

declare class Recorder {
  private constructor();
  addEventListener<K extends keyof RecorderEventMap>(event: K, handler: (event: RecorderEventMap[K]) => any): void;
  removeEventListener<K extends keyof RecorderEventMap>(event: K, handler?: (event: RecorderEventMap[K]) => any): void;
  /** Ends the file; Stopped follows. */
  stop(): void;
  id(): string;
}

/** What a call can send its audio to (the subset we use). */
type VoxMediaUnit = Call | ASR | Recorder;
