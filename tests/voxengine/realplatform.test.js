'use strict';
// cloud_scripts/inbound.voxengine.js against what the real platform does that a
// friendly emulator would hide: media only after Connected, replaced playbacks,
// lost events, the 10-player limit, caller ids for PSTN, video detection,
// uncaught errors, RTP loss, recording and music errors, re-INVITE relaying.

const { test, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { EmulatorHarness, FakeBackend, ROOT } = require('./helpers');

const SCENARIO = path.join(ROOT, 'cloud_scripts', 'inbound.voxengine.js');

let emu;
let backend;
let registerReply;

before(async () => {
  emu = await new EmulatorHarness().start();
});

after(async () => {
  await emu.stop();
  await backend.stop();
});

beforeEach(async () => {
  if (backend) await backend.stop();
  backend = await new FakeBackend().start();
  registerReply = { call_id: 'c-1', state: 'queued', position: 1 };
  backend.route('POST', /^\/api\/v1\/calls$/, () => ({ status: 201, json: registerReply }));
  backend.route('POST', /\/events$/, () => ({ status: 200, json: { ok: true } }));
  backend.route('GET', /^\/api\/v1\/calls\//, () => ({ status: 200, json: { state: 'queued', position: 4, estimated_wait_s: 60 } }));
});

async function placeCall(config = {}, call = {}) {
  const cfg = emu.scenario(`var SWITCHBOARD_CONFIG = ${JSON.stringify({
    backendUrl: backend.url, platformToken: 't', musicUrl: 'http://media.test/hold.mp3',
    announceEverySec: 3600, ringTimeoutSec: 20, httpRetries: 1, ...config,
  })};\n`);
  const s = await emu.call([cfg, SCENARIO], { callerid: '+15551230001', destination: '+15550009999', display_name: 'Ann', ...call });
  await s.wait('http_response', { url: `${backend.url}/api/v1/calls` });
  return s;
}

async function command(s, body) {
  const res = await s.send(body);
  assert.equal(res.status, 200);
  return JSON.parse(res.text);
}

const connectTo = (offerId, target) => ({ command: 'connect', call_id: 'c-1', offer_id: offerId, target, video: false, ring_timeout_s: 15, headers: {} });

async function fire(s, leg, name, fields = {}) {
  return emu.control('POST', `/sessions/${s.id}/legs/${encodeURIComponent(leg)}/event`, { name, ...fields });
}

async function problems(s) {
  return (await s.entries()).filter((e) => e.kind === 'error' || e.kind === 'violation' || (e.kind === 'terminate' && e.reason === 'uncaught_error'));
}

// ---- item 12: media after Connected, stopPlayback before say, TTS timer from PlaybackStarted

test('music and recording start once the caller is Connected, not right after answer()', async () => {
  const s = await placeCall();
  const played = await s.wait('played', { url: 'http://media.test/hold.mp3' });
  const connected = await s.wait('connected');
  assert.ok(played.seq > connected.seq, 'music before Connected');
  assert.ok((await s.wait('recording')).seq > connected.seq);
  assert.deepEqual(await problems(s), []);
});

test('a say() stops the music first, so a replaced playback cannot end the announcement', async () => {
  registerReply = { ...registerReply, say: 'Welcome to Switchboard, all our operators are busy, please hold.' };
  const s = await placeCall({}, { options: { replaced_playback_finishes: true, say_ms_per_word: 20 } });
  const said = await s.wait('said', { text: { $contains: 'Welcome' } });
  const ended = await s.wait('stopped', { what: 'say' }, { after: said.seq });
  assert.equal(ended.reason, 'finished', 'the announcement was cut off');
  await s.wait('played', { url: 'http://media.test/hold.mp3' }, { after: ended.seq });
  assert.deepEqual(await problems(s), []);
});

test('the TTS safety timer follows PlaybackStarted.duration when PlaybackFinished is lost', async () => {
  registerReply = { ...registerReply, say: 'One two three four five.' };
  const s = await placeCall({}, { options: { drop_playback_finished: true, say_ms_per_word: 20 } });
  const said = await s.wait('said', { text: 'One two three four five.' });
  await s.wait('event_dropped', {}, { after: said.seq });
  // 0.1 s of speech + the 3 s margin, far below the old fixed 20 s.
  await s.wait('played', { url: 'http://media.test/hold.mp3' }, { after: said.seq, timeoutMs: 6000 });
});

test('a long wait with many announcements never runs out of the 10 media players', async () => {
  const s = await placeCall({ announceEverySec: 0.03 });
  let last = { seq: 0 };
  for (let i = 0; i < 12; i += 1) last = await s.wait('said', { text: { $contains: 'number 4' } }, { after: last.seq });
  assert.deepEqual(await problems(s), []);
  assert.ok((await emu.emulator.sessions.get(s.id)).players.size <= 2);
});

// ---- item 13: caller id for PSTN legs

test('a PSTN leg uses the inbound PSTN caller\'s own number even when pstnCallerId is set', async () => {
  const s = await placeCall({ pstnCallerId: '+15550100100' });
  await command(s, connectTo('o1', { type: 'pstn', address: '+442000000' }));
  assert.equal((await s.wait('dialled', { type: 'pstn' })).callerid, '+15551230001');
});

test('for a Web SDK or SIP caller a PSTN leg uses pstnCallerId', async () => {
  for (const [clientType, callerid] of [['user', 'ann'], ['sip', 'sip:ann@pbx.example.org']]) {
    const s = await placeCall({ pstnCallerId: '+15550100100' }, { client_type: clientType, callerid });
    await command(s, connectTo('o1', { type: 'pstn', address: '+442000000' }));
    assert.equal((await s.wait('dialled', { type: 'pstn' })).callerid, '+15550100100');
  }
});

test('without pstnCallerId a non-PSTN caller\'s PSTN leg is reported failed, not dialled with a bad id', async () => {
  const s = await placeCall({}, { client_type: 'user', callerid: 'ann' });
  assert.deepEqual(await command(s, connectTo('o-x', { type: 'pstn', address: '+442000000' })), { ok: true, command: 'connect', offer_id: 'o-x' });
  const failed = await backend.waitFor((r) => r.body && r.body.type === 'operator_failed');
  assert.equal(failed.body.offer_id, 'o-x');
  assert.equal(failed.body.code, 403);
  assert.deepEqual(await s.entries('dialled'), []);
  assert.deepEqual(await problems(s), []);
});

// ---- item 14: telling a video call

async function registeredMedia(call) {
  const s = await placeCall({}, call);
  return backend.requests.find((r) => r.path === '/api/v1/calls' && r.body.session_id === s.id).body.media;
}

test('a voice call whose scheme mentions video is registered as voice; video codecs make it video', async () => {
  assert.equal(await registeredMedia({ scheme: JSON.stringify({ 1: { audio: ['opus'], video: [] } }) }), 'voice');
  assert.equal(await registeredMedia({ scheme: JSON.stringify({ 1: { audio: ['opus'], video: ['VP8'] } }), video: true }), 'video');
});

test('an opaque scheme falls back to the media in the Web SDK\'s custom data', async () => {
  assert.equal(await registeredMedia({ scheme: 'v=0 m=audio video-capable', custom_data: '{"media":"video"}', video: true }), 'video');
  assert.equal(await registeredMedia({ scheme: 'opaque video blob' }), 'voice');
});

// ---- item 15: errors, RTP loss, recording and music errors, relaying

test('an error inside a handler is logged and the session goes on', async () => {
  await emu.callee('op-1', { action: 'answer', after_ms: 10 });
  const s = await placeCall({ musicUrl: '' }); // startPlayback('') throws in the emulator
  await s.wait('logger', { text: { $contains: 'error in caller Connected' } });
  await command(s, connectTo('o1', { type: 'user', address: 'op-1' }));
  await backend.waitFor((r) => r.body && r.body.type === 'operator_connected');
  assert.deepEqual((await s.entries('terminate')), []);
});

test('a caller whose media stops (RtpStopped) and does not resume is hung up and reported', async () => {
  const s = await placeCall({ rtpLostSec: 0.1 });
  await s.wait('connected');
  await fire(s, 'caller', 'Call.RtpStopped');
  const hangup = await s.wait('hangup', { by: 'scenario' });
  assert.equal(hangup.leg, (await s.snapshot()).legs[0].id);
  await backend.waitFor((r) => r.body && r.body.type === 'caller_hung_up');
  await s.wait('terminated');
});

test('an operator leg whose media stops is hung up and handled as the operator hanging up', async () => {
  await emu.callee('op-rtp', { action: 'answer', after_ms: 10 });
  const s = await placeCall({ rtpLostSec: 0.1, goodbyeText: 'Bye now.' });
  await command(s, connectTo('o-rtp', { type: 'user', address: 'op-rtp' }));
  await backend.waitFor((r) => r.body && r.body.type === 'operator_connected');
  const operator = (await s.snapshot()).legs[1].id;
  await fire(s, operator, 'Call.RtpStopped');
  await s.wait('hangup', { leg: operator, by: 'scenario' });
  await backend.waitFor((r) => r.body && r.body.type === 'operator_hung_up' && r.body.offer_id === 'o-rtp');
  await s.wait('said', { text: 'Bye now.' });
  assert.deepEqual(await problems(s), []);
});

test('RtpResumed in time keeps the call', async () => {
  const s = await placeCall({ rtpLostSec: 0.3 });
  await s.wait('connected');
  await fire(s, 'caller', 'Call.RtpStopped');
  await fire(s, 'caller', 'Call.RtpResumed');
  await s.wait('logger', { text: { $contains: 'RtpStopped' } });
  assert.equal((await command(s, { command: 'status' })).caller, 'on_line');
  // Nothing hangs up past the 0.3 s limit.
  await assert.rejects(s.wait('hangup', {}, { timeoutMs: 800 }), { status: 408 });
});

test('RecordError is logged and the call goes on', async () => {
  const s = await placeCall();
  await s.wait('connected');
  await fire(s, 'caller', 'Call.RecordError', { error: 'Storage unavailable' });
  await s.wait('logger', { text: { $contains: 'recording failed: Storage unavailable' } });
  assert.equal((await command(s, { command: 'status' })).caller, 'on_line');
  assert.deepEqual(await problems(s), []);
});

test('music that ends with an error is retried after a pause', async () => {
  const s = await placeCall({ musicRetrySec: 0.05 });
  const first = await s.wait('played', { url: 'http://media.test/hold.mp3' });
  await fire(s, 'caller', 'Call.PlaybackFinished', { error: 'Cannot load the file' });
  await s.wait('logger', { text: { $contains: 'music stopped: Cannot load the file' } });
  await s.wait('played', { url: 'http://media.test/hold.mp3' }, { after: first.seq });
});

test('messages, INFO and re-INVITEs are relayed between the bridged legs', async () => {
  await emu.callee('op-relay', { action: 'answer', after_ms: 10 });
  const s = await placeCall();
  await command(s, connectTo('o1', { type: 'user', address: 'op-relay' }));
  await backend.waitFor((r) => r.body && r.body.type === 'operator_connected');
  const [caller, operator] = (await s.snapshot()).legs.map((l) => l.id);
  await fire(s, operator, 'Call.MessageReceived', { text: 'hello' });
  assert.equal((await s.wait('message', { leg: caller })).text, 'hello');
  await fire(s, caller, 'Call.InfoReceived', { mimeType: 'application/json', body: '{"a":1}' });
  assert.equal((await s.wait('info_sent', { leg: operator })).body, '{"a":1}');
  await fire(s, caller, 'Call.ReInviteReceived', { mimeType: 'application/sdp', body: 'v=0' });
  assert.equal((await s.wait('reinvite', { leg: operator, what: 'reInvite' })).body, 'v=0');
  await fire(s, operator, 'Call.ReInviteAccepted', { mimeType: 'application/sdp', body: 'v=1' });
  assert.equal((await s.wait('reinvite', { leg: caller, what: 'acceptReInvite' })).body, 'v=1');
  await fire(s, operator, 'Call.ReInviteRejected', {});
  await s.wait('reinvite', { leg: caller, what: 'rejectReInvite' });
  assert.deepEqual(await problems(s), []);
});

test('with more parties, the caller signals to every leg on the line and each leg to the caller', async () => {
  await emu.callee('op-own2', { action: 'answer', after_ms: 10 });
  await emu.callee('op-help2', { action: 'answer', after_ms: 10 });
  const s = await placeCall();
  await command(s, connectTo('o2', { type: 'user', address: 'op-own2' }));
  await backend.waitFor((r) => r.body && r.body.type === 'operator_connected');
  await command(s, { command: 'add_party', party_id: 'p2', target: { type: 'user', address: 'op-help2' } });
  await backend.waitFor((r) => r.body && r.body.type === 'party_connected');
  const [caller, owner, helper] = (await s.snapshot()).legs.map((l) => l.id);
  const before = (await s.entries('message')).length;
  await fire(s, caller, 'Call.MessageReceived', { text: 'to both' });
  await s.wait('message', { leg: owner, text: 'to both' });
  await s.wait('message', { leg: helper, text: 'to both' });
  await fire(s, helper, 'Call.ReInviteReceived', { mimeType: 'application/sdp', body: 'v=video-off' });
  assert.equal((await s.wait('reinvite', { leg: caller, what: 'reInvite' })).body, 'v=video-off');
  // The helper's signalling goes to the caller only, not to the other operator.
  const messages = (await s.entries('message')).slice(before);
  assert.deepEqual(messages.map((m) => m.leg).sort(), [owner, helper].sort());
  assert.deepEqual(await problems(s), []);
});
