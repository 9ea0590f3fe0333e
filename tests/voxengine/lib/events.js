'use strict';
// Event-name strings exactly as the platform's typings spell them.

const AppEvents = Object.freeze({
  Started: 'Application.Started',
  CallAlerting: 'Application.CallAlerting',
  HttpRequest: 'Application.HttpRequest',
  Terminating: 'Application.Terminating',
  Terminated: 'Application.Terminated',
  WebSocket: 'AppEvents.NewWebSocketConnection',
  NewWebSocketFailed: 'Application.OnNewWebSocketFailed',
});

// CallEvents exactly as the typings list them (no more, no fewer): reading any
// other member throws, like a misspelt one.
const CALL_EVENT_NAMES = [
  'AudioStarted', 'AudioIdentificationStarted', 'AudioIdentificationResult',
  'AudioIdentificationStopped', 'AudioIdentificationError', 'BlindTransferRequested',
  'Connected', 'Forwarding', 'Disconnected', 'Failed', 'InfoReceived', 'MessageReceived',
  'MicStatusChange', 'OffHold', 'OnHold', 'PlaybackFinished', 'PlaybackReady', 'PlaybackStarted',
  'PushSent', 'ReInviteAccepted', 'ReInviteReceived', 'ReInviteRejected', 'RecordError',
  'RecordStarted', 'RecordStopped', 'Ringing', 'StateChanged', 'Statistics', 'ToneDetected',
  'ToneReceived', 'TransferComplete', 'TransferFailed', 'FirstAudioPacketReceived',
  'FirstVideoPacketReceived', 'RtpStopped', 'RtpResumed',
];

const CallEvents = Object.freeze({
  ...Object.fromEntries(CALL_EVENT_NAMES.map((name) => [name, `Call.${name}`])),
  // The one member whose string does not follow the pattern.
  VideoTrackCreated: 'Call.Video.TrackCreated',
});

module.exports = { AppEvents, CallEvents };
