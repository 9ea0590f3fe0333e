'use strict';
// cloud_scripts/inbound.voxengine.js, unmodified, against a scripted backend.

const { test, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { EmulatorHarness, FakeBackend, SessionProbe, ROOT } = require('./helpers');

const SCENARIO = path.join(ROOT, 'cloud_scripts', 'inbound.voxengine.js');
const TOKEN = 'platform-token-for-tests';

let emu;
let backend;
let callCount = 0;

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
  callCount += 1;
  const callId = `call-${callCount}`;
  backend.route('POST', /^\/api\/v1\/calls$/, () => ({ status: 201, json: { call_id: callId, state: 'queued', position: 1, estimated_wait_s: 30 } }));
  backend.route('POST', /\/events$/, () => ({ status: 200, json: { ok: true } }));
  backend.route('GET', /^\/api\/v1\/calls\//, () => ({ status: 200, json: { state: 'queued', position: 2, estimated_wait_s: 150 } }));
});

/** Places a call through config + inbound, as the routing rule does. */
async function placeCall(config = {}, call = {}) {
  const cfg = emu.scenario(`var SWITCHBOARD_CONFIG = ${JSON.stringify({
    backendUrl: backend.url, platformToken: TOKEN, musicUrl: 'http://media.test/hold.mp3',
    announceEverySec: 3600, ringTimeoutSec: 20, httpRetries: 2, ...config,
  })};\n`);
  const s = await emu.call([cfg, SCENARIO], { callerid: '+15551230001', destination: '+15550009999', display_name: 'Ann Caller', ...call });
  await s.wait('http_response', { url: `${backend.url}/api/v1/calls`, code: 201 });
  return s;
}

const connectCmd = (offerId, address, extra = {}) => ({
  command: 'connect', call_id: 'x', offer_id: offerId, target: { type: 'user', address },
  video: false, ring_timeout_s: 15, headers: { 'X-Call-Id': 'x' }, ...extra,
});

async function command(s, body) {
  const res = await s.send(body);
  assert.equal(res.status, 200);
  return JSON.parse(res.text);
}

async function noScenarioErrors(s) {
  const bad = (await s.entries()).filter((e) => e.kind === 'error' || e.kind === 'violation');
  assert.deepEqual(bad, []);
}

test('registers the call with the backend, answers, plays music and records', async () => {
  const s = await placeCall({}, { headers: { 'X-Kiosk': 'lobby', 'User-to-User': 'zz' }, custom_data: '{"page":"pricing"}' });
  const reg = await backend.waitFor((r) => r.path === '/api/v1/calls');
  assert.equal(reg.headers.authorization, `Bearer ${TOKEN}`);
  assert.equal(reg.headers['content-type'], 'application/json');
  assert.deepEqual(reg.body, {
    session_id: s.id,
    access_url: s.accessUrl,
    access_secure_url: s.accessUrl.replace('http:', 'https:'),
    caller: '+15551230001',
    destination: '+15550009999',
    display_name: 'Ann Caller',
    media: 'voice',
    custom_data: '{"page":"pricing"}',
    headers: { 'X-Kiosk': 'lobby' },
  });
  await s.wait('played', { url: 'http://media.test/hold.mp3', loop: true });
  const recording = await s.wait('recording_started');
  const event = await backend.waitFor((r) => r.body && r.body.type === 'recording_started');
  assert.deepEqual(event.body, { type: 'recording_started', url: recording.url });
  assert.equal(event.path, `/api/v1/calls/call-${callCount}/events`);
  const answered = await s.wait('answered');
  assert.match(answered.scheme, /audio/);
  await noScenarioErrors(s);
});

test('a video call is registered as video and its scheme reaches answer() and the operator leg', async () => {
  await emu.callee('op-video', { action: 'answer', after_ms: 10 });
  const s = await placeCall({}, { video: true });
  assert.equal((await backend.waitFor((r) => r.path === '/api/v1/calls')).body.media, 'video');
  const answered = await s.wait('answered');
  assert.match(answered.scheme, /video/);
  assert.equal(answered.video, true);
  assert.deepEqual(await command(s, connectCmd('o1', 'op-video', { video: true })), { ok: true, command: 'connect', offer_id: 'o1' });
  const dialled = await s.wait('dialled');
  assert.equal(dialled.video, true);
  assert.match(dialled.scheme, /video/);
  await backend.waitFor((r) => r.body && r.body.type === 'operator_connected');
});

test('speaks the say text from the reply, then resumes music', async () => {
  backend.route('POST', /^\/api\/v1\/calls$/, () => ({ status: 201, json: { call_id: 'c-say', state: 'queued', position: 3, say: 'Welcome to Switchboard.' } }));
  const s = await placeCall();
  const said = await s.wait('said', { text: 'Welcome to Switchboard.' });
  await s.wait('played', { url: 'http://media.test/hold.mp3' }, { after: said.seq });
  await noScenarioErrors(s);
});

test('announces the queue position periodically while queued', async () => {
  const s = await placeCall({ announceEverySec: 0.05 });
  const said = await s.wait('said', { text: 'You are number 2 in the queue. Estimated wait: about 3 minutes.' });
  await s.wait('played', { url: 'http://media.test/hold.mp3' }, { after: said.seq });
  const poll = await backend.waitFor((r) => r.method === 'GET');
  assert.equal(poll.path, `/api/v1/calls/call-${callCount}`);
  assert.equal(poll.headers.authorization, `Bearer ${TOKEN}`);
});

test('connect dials the operator with VI-CallTimeout and X- headers, then bridges', async () => {
  await emu.callee('op-1', { action: 'answer', after_ms: 20 });
  const s = await placeCall();
  const ack = await command(s, connectCmd('offer-1', 'op-1', { headers: { 'X-Call-Id': 'call-9', Bad: 'dropped' } }));
  assert.deepEqual(ack, { ok: true, command: 'connect', offer_id: 'offer-1' });
  const dialled = await s.wait('dialled');
  assert.equal(dialled.type, 'user');
  assert.equal(dialled.address, 'op-1');
  assert.equal(dialled.callerid, '+15551230001');
  assert.equal(dialled.display_name, 'Ann Caller');
  assert.deepEqual(dialled.headers, { 'X-Call-Id': 'call-9', 'VI-CallTimeout': '15' });
  const event = await backend.waitFor((r) => r.body && r.body.type === 'operator_connected');
  assert.deepEqual(event.body, { type: 'operator_connected', offer_id: 'offer-1' });
  await s.wait('bridged');
  const snap = await s.snapshot();
  assert.deepEqual(snap.legs[0].hearing, { kind: 'call', from: snap.legs[1].id });
  // A repeated connect for the same offer is acknowledged without dialling again.
  assert.equal((await command(s, connectCmd('offer-1', 'op-1'))).duplicate, true);
  assert.equal((await s.entries('dialled')).length, 1);
  await noScenarioErrors(s);
});

test('sip and pstn targets use callSIP and callPSTN', async () => {
  await emu.callee('sip:desk@pbx.example.org', { action: 'busy' });
  const s = await placeCall();
  await command(s, { ...connectCmd('o-sip', 'x'), target: { type: 'sip', address: 'sip:desk@pbx.example.org' } });
  const failed = await backend.waitFor((r) => r.body && r.body.type === 'operator_failed');
  assert.deepEqual(failed.body, { type: 'operator_failed', offer_id: 'o-sip', code: 486, reason: 'Busy Here' });
  await command(s, { ...connectCmd('o-pstn', 'x'), target: { type: 'pstn', address: '+442000000' } });
  const dialled = await s.wait('dialled', { type: 'pstn' });
  assert.equal(dialled.address, '+442000000');
});

test('a failed operator is reported; the caller keeps music and the next connect is dialled', async () => {
  await emu.callee('op-away', { action: 'no_answer', after_ms: 20, code: 480 });
  await emu.callee('op-two', { action: 'answer', after_ms: 20 });
  const s = await placeCall();
  await command(s, connectCmd('offer-a', 'op-away'));
  const failed = await backend.waitFor((r) => r.body && r.body.type === 'operator_failed');
  assert.deepEqual(failed.body, { type: 'operator_failed', offer_id: 'offer-a', code: 480, reason: 'Temporarily Unavailable' });
  let snap = await s.snapshot();
  assert.deepEqual(snap.legs[0].hearing, { kind: 'playback', url: 'http://media.test/hold.mp3', loop: true });
  await command(s, connectCmd('offer-b', 'op-two'));
  await backend.waitFor((r) => r.body && r.body.type === 'operator_connected' && r.body.offer_id === 'offer-b');
  snap = await s.snapshot();
  assert.equal(snap.legs[0].hearing.kind, 'call');
});

test('a new connect hangs up the leg still ringing; cancel hangs up without a report', async () => {
  await emu.callee('op-slow', { action: 'no_answer' });
  await emu.callee('op-slow-2', { action: 'no_answer' });
  const s = await placeCall();
  await command(s, connectCmd('first', 'op-slow'));
  await s.wait('ringing');
  await command(s, connectCmd('second', 'op-slow-2'));
  const ended = await s.wait('ended', { how: 'failed', code: 487 });
  const second = await s.wait('dialled', { address: 'op-slow-2' });
  assert.ok(ended.seq < second.seq, 'the first leg ends before the second is dialled');
  assert.deepEqual(await command(s, { command: 'cancel', offer_id: 'second' }), { ok: true, command: 'cancel', offer_id: 'second' });
  await s.wait('ended', { how: 'failed', code: 487 }, { after: second.seq });
  assert.deepEqual(await command(s, { command: 'cancel', offer_id: 'nope' }), { ok: true, command: 'cancel', offer_id: 'nope', found: false });
  const alive = (await s.snapshot()).legs.filter((l) => l.state !== 'TERMINATED');
  assert.equal(alive.length, 1);
  assert.equal(backend.events().filter((e) => e.type === 'operator_failed').length, 0);
});

test('cancel of a bridged offer hangs up the operator and puts the caller back on music', async () => {
  await emu.callee('op-late', { action: 'answer', after_ms: 10 });
  const s = await placeCall();
  assert.deepEqual(await command(s, { command: 'status' }), { ok: true, command: 'status', caller: 'on_line', operator: 'none', parties: 0, held: false, closing: false });
  await command(s, connectCmd('offer-late', 'op-late'));
  await backend.waitFor((r) => r.body && r.body.type === 'operator_connected');
  assert.equal((await command(s, { command: 'status' })).operator, 'connected');
  assert.deepEqual(await command(s, { command: 'cancel', offer_id: 'offer-late' }), { ok: true, command: 'cancel', offer_id: 'offer-late' });
  const ended = await s.wait('ended', { how: 'disconnected', by: 'scenario' });
  await s.wait('played', { url: 'http://media.test/hold.mp3' }, { after: ended.seq });
  const snap = await s.snapshot();
  assert.equal(snap.legs[0].state, 'CONNECTED');
  assert.equal(snap.legs[0].hearing.kind, 'playback');
  await s.waitEvent('Call.Disconnected', { leg: snap.legs[1].id });
  assert.deepEqual(backend.events().map((e) => e.type).filter((t) => t !== 'recording_started'), ['operator_connected']);
  await noScenarioErrors(s);
});

test('the caller hanging up is reported with the ringing offer, then the session ends', async () => {
  await emu.callee('op-ringing', { action: 'no_answer' });
  const s = await placeCall();
  await command(s, connectCmd('offer-r', 'op-ringing'));
  await s.wait('ringing');
  await s.hangupCaller();
  await s.wait('terminated');
  const types = backend.events().map((e) => e.type);
  assert.deepEqual(types.filter((t) => t !== 'recording_started'), ['caller_hung_up', 'session_ended']);
  assert.deepEqual(backend.events().find((e) => e.type === 'caller_hung_up'), { type: 'caller_hung_up', offer_id: 'offer-r' });
  assert.equal((await s.snapshot()).legs[1].state, 'TERMINATED');
  await noScenarioErrors(s);
});

test('the operator hanging up is reported; the caller hears goodbye and the session ends', async () => {
  await emu.callee('op-bye', { action: 'answer', after_ms: 10 });
  const s = await placeCall({ goodbyeText: 'Thanks, goodbye.' });
  await command(s, connectCmd('offer-bye', 'op-bye'));
  await backend.waitFor((r) => r.body && r.body.type === 'operator_connected');
  await s.hangupLeg('op-bye');
  const said = await s.wait('said', { text: 'Thanks, goodbye.' });
  const hangup = await s.wait('hangup', { leg: (await s.snapshot()).legs[0].id });
  assert.ok(hangup.seq > said.seq);
  await s.wait('terminated');
  const types = backend.events().map((e) => e.type).filter((t) => t !== 'recording_started');
  assert.deepEqual(types, ['operator_connected', 'operator_hung_up', 'session_ended']);
  await noScenarioErrors(s);
});

test('say and hangup commands; bad commands are refused', async () => {
  await emu.callee('op-talk', { action: 'answer', after_ms: 10 });
  const s = await placeCall();
  assert.deepEqual(await command(s, { command: 'say', text: 'Please hold.' }), { ok: true, command: 'say' });
  await s.wait('said', { text: 'Please hold.' });
  assert.deepEqual(await command(s, { command: 'dance' }), { ok: false, command: 'dance', error: 'unknown_command' });
  assert.deepEqual(JSON.parse((await s.send('{not json')).text), { ok: false, error: 'bad_json' });
  assert.equal((await command(s, { command: 'connect', offer_id: 'z', target: { type: 'fax', address: '1' } })).error, 'bad_request');
  await command(s, connectCmd('offer-t', 'op-talk'));
  await backend.waitFor((r) => r.body && r.body.type === 'operator_connected');
  // TTS while bridged interrupts the operator; afterwards the caller hears the operator again.
  await command(s, { command: 'say', text: 'This call may be recorded.' });
  const said = await s.wait('said', { text: 'This call may be recorded.' });
  const snapAfter = await s.wait('media', {}, { after: said.seq });
  assert.equal(snapAfter.to, (await s.snapshot()).legs[0].id);
  assert.deepEqual(await command(s, { command: 'hangup', reason: 'closing' }), { ok: true, command: 'hangup' });
  await s.wait('terminated');
  assert.deepEqual(backend.events().map((e) => e.type).filter((t) => t !== 'recording_started'), ['operator_connected', 'session_ended']);
});

test('registration is retried on 5xx and events wait for the call_id', async () => {
  let attempts = 0;
  let releaseRegistration;
  backend.route('POST', /^\/api\/v1\/calls$/, () => {
    attempts += 1;
    if (attempts === 1) return { status: 503, json: {} };
    return new Promise((resolve) => {
      releaseRegistration = () => resolve({ status: 201, json: { call_id: 'late', state: 'queued' } });
    });
  });
  const cfg = emu.scenario(`var SWITCHBOARD_CONFIG = ${JSON.stringify({ backendUrl: backend.url, platformToken: TOKEN, musicUrl: 'http://m/h.mp3' })};\n`);
  const s = await emu.call([cfg, SCENARIO]);
  await s.wait('http_response', { code: 503 });
  const retry = await s.wait('logger', { text: { $contains: 'retry in 1 s' } });
  assert.ok(retry);
  await s.wait('http_request', { url: `${backend.url}/api/v1/calls` }, { after: retry.seq, timeoutMs: 3000 });
  await s.hangupCaller();
  await s.waitEvent('Call.Disconnected');
  assert.deepEqual(backend.events(), []);
  releaseRegistration();
  await s.wait('terminated');
  // Queued in order while the call_id was unknown, then sent.
  assert.deepEqual(backend.events().map((e) => e.type), ['recording_started', 'caller_hung_up', 'session_ended']);
  assert.ok(backend.requests.every((r) => r.path === '/api/v1/calls' || r.path === '/api/v1/calls/late/events'));
});

test('an unreachable backend: retries, apologises, hangs up and terminates', async () => {
  const cfg = emu.scenario(`var SWITCHBOARD_CONFIG = ${JSON.stringify({
    backendUrl: 'http://127.0.0.1:1', platformToken: TOKEN, musicUrl: 'http://m/h.mp3', httpRetries: 1, sorryText: 'Sorry, try later.',
  })};\n`);
  const s = await emu.call([cfg, SCENARIO]);
  const responses = [await s.wait('http_response', { code: -4 })];
  responses.push(await s.wait('http_response', { code: -4 }, { after: responses[0].seq, timeoutMs: 3000 }));
  await s.wait('said', { text: 'Sorry, try later.' });
  await s.wait('terminated');
  assert.equal((await s.entries('http_request')).length, 2);
  await noScenarioErrors(s);
});

test('a 4xx from registration is not retried', async () => {
  backend.route('POST', /^\/api\/v1\/calls$/, () => ({ status: 401, json: { error: { code: 'unauthorized' } } }));
  const cfg = emu.scenario(`var SWITCHBOARD_CONFIG = ${JSON.stringify({ backendUrl: backend.url, platformToken: 'wrong', musicUrl: 'http://m/h.mp3' })};\n`);
  const s = await emu.call([cfg, SCENARIO]);
  await s.wait('terminated');
  assert.equal(backend.requests.length, 1);
});

test('never more than 3 requests in flight to the backend', async () => {
  const s = await placeCall();
  let holding = true;
  const holds = [];
  backend.route('POST', /\/events$/, () => new Promise((resolve) => {
    const reply = () => resolve({ status: 200, json: {} });
    if (holding) holds.push(reply);
    else reply();
  }));
  // Five failed offers make five reports while the backend answers none.
  for (let i = 0; i < 5; i += 1) {
    await emu.callee(`busy-${i}`, { action: 'busy' });
    await command(s, connectCmd(`b${i}`, `busy-${i}`));
    const dialled = await s.wait('dialled', { address: `busy-${i}` });
    await s.waitEvent('Call.Failed', {}, { after: dialled.seq });
  }
  holding = false;
  holds.splice(0).forEach((reply) => reply());
  await backend.waitFor((r) => r.body && r.body.offer_id === 'b4');
  const submitted = await s.entries('http_queued');
  assert.ok(submitted.length >= 6);
  assert.ok(submitted.every((e) => e.active < 3), 'the scenario queues on its own side, never in Net');
  await noScenarioErrors(s);
});

test('the shipped routing rule runs config then inbound', async () => {
  const fs = require('node:fs');
  const ruled = await new EmulatorHarness({ rules: path.join(ROOT, 'cloud_scripts', 'rules.config.json') }).start();
  try {
    fs.writeFileSync(path.join(ruled.dir, 'config.voxengine.js'), `var SWITCHBOARD_CONFIG = ${JSON.stringify({
      backendUrl: backend.url, platformToken: TOKEN, musicUrl: 'http://m/h.mp3',
    })};\n`);
    const reply = await ruled.control('POST', '/calls', { destination: '+15550001111', scenario_dir: ruled.dir });
    const s = new SessionProbe(ruled, reply.session_id, reply.access_url);
    assert.deepEqual((await s.wait('session_started')).scenarios, ['config.voxengine.js', 'inbound.voxengine.js']);
    await backend.waitFor((r) => r.path === '/api/v1/calls' && r.body.session_id === s.id);
  } finally {
    await ruled.stop();
  }
});

test('more parties: add_party mixes three legs in a conference, remove_party keeps the other two', async () => {
  await emu.callee('op-own', { action: 'answer', after_ms: 10 });
  await emu.callee('op-help', { action: 'answer', after_ms: 10 });
  const s = await placeCall();
  await command(s, connectCmd('offer-own', 'op-own'));
  await backend.waitFor((r) => r.body && r.body.type === 'operator_connected');
  // Taken back before its add_party arrived: never dialled.
  assert.deepEqual(await command(s, { command: 'remove_party', party_id: 'p-late' }), { ok: true, command: 'remove_party', party_id: 'p-late', found: false });
  const late = await command(s, { command: 'add_party', party_id: 'p-late', target: { type: 'user', address: 'op-help' } });
  assert.equal(late.error, 'removed');
  assert.deepEqual(await command(s, { command: 'add_party', party_id: 'p-1', target: { type: 'user', address: 'op-help' }, ring_timeout_s: 20, headers: { 'X-Party-Id': 'p-1' } }), { ok: true, command: 'add_party', party_id: 'p-1' });
  await backend.waitFor((r) => r.body && r.body.type === 'party_connected' && r.body.party_id === 'p-1');
  await s.wait('conference_created');
  let snap = await s.snapshot();
  const conf = snap.conferences[0];
  assert.equal(snap.legs.filter((l) => l.address === 'op-help').length, 1, 'dialled once');
  for (const leg of snap.legs) assert.deepEqual(leg.hearing, { kind: 'conference', from: conf.id });
  assert.equal(conf.inputs.length, 3);
  // Hold: the caller hears music, the two operators still hear each other.
  assert.deepEqual(await command(s, { command: 'hold' }), { ok: true, command: 'hold' });
  snap = await s.snapshot();
  assert.equal(snap.legs[0].hearing.kind, 'playback');
  assert.equal(snap.conferences[0].inputs.includes(snap.legs[0].id), false);
  await command(s, { command: 'unhold' });
  snap = await s.snapshot();
  assert.deepEqual(snap.legs[0].hearing, { kind: 'conference', from: conf.id });
  // The owner's leg is removed: the caller and the helper keep talking, nothing is reported.
  await command(s, { command: 'remove_party', party_id: 'offer-own' });
  await s.wait('left_conference');
  snap = await s.snapshot();
  assert.equal(snap.conferences[0].inputs.length, 2);
  assert.deepEqual(snap.legs[0].hearing, { kind: 'conference', from: conf.id });
  // The helper hangs up on their side, the last one with the caller: goodbye.
  await s.hangupLeg('op-help');
  await backend.waitFor((r) => r.body && r.body.type === 'operator_hung_up' && r.body.party_id === 'p-1');
  await s.wait('terminated');
  const types = backend.events().map((e) => e.type).filter((t) => t !== 'recording_started' && t !== 'session_ended');
  assert.deepEqual(types, ['operator_connected', 'party_connected', 'operator_hung_up']);
  await noScenarioErrors(s);
});
