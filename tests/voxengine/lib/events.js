'use strict';
// Event-name strings exactly as the platform's typings spell them.

const AppEvents = Object.freeze({
  Started: 'Application.Started',
  CallAlerting: 'Application.CallAlerting',
  HttpRequest: 'Application.HttpRequest',
  Terminating: 'Application.Terminating',
  Terminated: 'Application.Terminated',
  WebSocket: 'AppEvents.NewWebSocketConnection',
  NewWebSocketFailed: 'AppEvents.NewWebSocketFailed',
});

const CALL_EVENT_NAMES = [
  'Connected', 'Disconnected', 'Failed', 'Ringing', 'AudioStarted',
  'PlaybackStarted', 'PlaybackReady', 'PlaybackFinished',
  'RecordStarted', 'RecordStopped', 'RecordError',
  'MessageReceived', 'InfoReceived', 'ToneReceived', 'OnHold', 'OffHold',
  'ReInviteReceived', 'ReInviteAccepted', 'ReInviteRejected',
  'BlindTransferRequested', 'TransferComplete', 'TransferFailed',
  'StateChanged', 'MicStatusChange', 'FirstAudioPacketReceived',
  'FirstVideoPacketReceived', 'RtpStopped', 'RtpResumed', 'Forwarding', 'PushSent',
];

const CallEvents = Object.freeze(
  Object.fromEntries(CALL_EVENT_NAMES.map((name) => [name, `Call.${name}`])),
);

module.exports = { AppEvents, CallEvents };
