'use strict';
// The pin question in cloud_scripts/inbound.voxengine.js, unmodified, against a
// scripted backend: after the operator hangs up, the reply to operator_hung_up
// may carry ask_pin_manager; the caller answers by voice (ASR) or keys (1/2).

const { test, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { EmulatorHarness, FakeBackend, ROOT } = require('./helpers');

const SCENARIO = path.join(ROOT, 'cloud_scripts', 'inbound.voxengine.js');
const QUESTION = 'Would you like Penny to answer your calls from now on? Say yes or no, or press 1 for yes and 2 for no.';

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

/** The backend asks the question (or not) in its reply to operator_hung_up. */
function askInReply(ask) {
  backend.route('POST', /\/events$/, (r) => {
    if (r.body && r.body.type === 'operator_hung_up' && ask) return { status: 200, json: { ok: true, applied: true, ask_pin_manager: ask } };
    return { status: 200, json: { ok: true, applied: true } };
  });
}

const ASK = { command: 'ask_pin_manager', operator: 'penny', operator_name: 'Penny', text: QUESTION, timeout_s: 8 };

beforeEach(async () => {
  if (backend) await backend.stop();
  backend = await new FakeBackend().start();
  callCount += 1;
  const callId = `pin-${callCount}`;
  backend.route('POST', /^\/api\/v1\/calls$/, () => ({ status: 201, json: { call_id: callId, state: 'queued', position: 1 } }));
  backend.route('GET', /^\/api\/v1\/calls\//, () => ({ status: 200, json: { state: 'queued', position: 1 } }));
  askInReply(ASK);
});

/** A call through config + inbound whose operator 'penny' answers, talks, then hangs up. */
async function talkedToPenny(config = {}) {
  await emu.callee('penny', { action: 'answer', after_ms: 10 });
  const cfg = emu.scenario(`var SWITCHBOARD_CONFIG = ${JSON.stringify({
    backendUrl: backend.url, platformToken: 't', musicUrl: 'http://media.test/hold.mp3',
    announceEverySec: 3600, httpRetries: 1, goodbyeText: 'Goodbye.', pinGoodbyeText: 'Thank you. Goodbye.', ...config,
  })};\n`);
  const s = await emu.call([cfg, SCENARIO], { callerid: '+15551230001', destination: '+15550009999' });
  await s.wait('http_response', { url: `${backend.url}/api/v1/calls`, code: 201 });
  const reply = await s.send({ command: 'connect', call_id: 'x', offer_id: 'o1', target: { type: 'user', address: 'penny' }, ring_timeout_s: 15 });
  assert.equal(JSON.parse(reply.text).ok, true);
  await s.wait('bridged');
  await s.hangupLeg('penny');
  return s;
}

const say = (s, text, confidence) => emu.control('POST', `/sessions/${s.id}/say`, { text, ...(confidence === undefined ? {} : { confidence }) });
const press = (s, digits) => emu.control('POST', `/sessions/${s.id}/press`, { digits });

async function pinAnswers() {
  return backend.events().filter((e) => e.type === 'manager_pin_answer');
}

async function clean(s) {
  const bad = (await s.entries()).filter((e) => e.kind === 'error' || e.kind === 'violation');
  assert.deepEqual(bad, []);
}

test('yes by voice: question, then ASR (profile, singleUtterance, hints), answer reported, ASR stopped, goodbye', async () => {
  const s = await talkedToPenny();
  const question = await s.wait('said', { text: QUESTION });
  await s.wait('tones', { enabled: true });
  const created = await s.wait('asr_created', {}, { after: question.seq });
  assert.equal(created.profile, 'asr-profile:Google.en_US');
  assert.equal(created.single_utterance, true);
  assert.ok(created.phrase_hints.includes('yes') && created.phrase_hints.includes('no'));
  // The recogniser starts after the question has been spoken.
  const finished = await s.wait('stopped', { what: 'say', text: QUESTION, reason: 'finished' });
  assert.ok(finished.seq < created.seq);
  await s.wait('media', { to: created.asr });
  const heard = await say(s, 'Yes, please.', 0.9);
  assert.deepEqual(heard.heard_by, [created.asr]);
  const report = await backend.waitFor((r) => r.body && r.body.type === 'manager_pin_answer');
  assert.deepEqual(report.body, { type: 'manager_pin_answer', answer: 'yes', via: 'voice', operator: 'penny' });
  await s.wait('asr_stopped', { asr: created.asr });
  await s.wait('said', { text: 'Thank you. Goodbye.' });
  await s.wait('terminated');
  const types = backend.events().map((e) => e.type).filter((t) => t !== 'recording_started');
  assert.deepEqual(types, ['operator_connected', 'operator_hung_up', 'manager_pin_answer', 'session_ended']);
  await clean(s);
});

test('no by DTMF: key 2 answers no, even while the question is still being spoken', async () => {
  const s = await talkedToPenny();
  await s.wait('said', { text: QUESTION });
  await s.wait('tones', { enabled: true });
  assert.equal((await press(s, '2')).delivered, '2');
  const report = await backend.waitFor((r) => r.body && r.body.type === 'manager_pin_answer');
  assert.equal(report.body.answer, 'no');
  assert.equal(report.body.via, 'dtmf');
  await s.wait('said', { text: 'Thank you. Goodbye.' });
  await s.wait('terminated');
  // Pressed during the question: no recogniser was ever started.
  assert.deepEqual(await s.entries('asr_created'), []);
  assert.equal((await pinAnswers()).length, 1);
  await clean(s);
});

test('no by DTMF after the question, while the recogniser listens: the recogniser is stopped', async () => {
  const s = await talkedToPenny();
  const created = await s.wait('asr_created');
  await s.wait('media', { to: created.asr });
  await press(s, '2');
  await s.waitEvent('ASR.Stopped');
  assert.equal((await backend.waitFor((r) => r.body && r.body.type === 'manager_pin_answer')).body.answer, 'no');
  await s.wait('terminated');
  await clean(s);
});

test('timeout: nothing understood within timeout_s gives none; unclear and unsure speech and other keys are ignored', async () => {
  askInReply({ ...ASK, timeout_s: 0.6 });
  const s = await talkedToPenny({ pinMinConfidence: 0.5 });
  const created = await s.wait('asr_created');
  await s.wait('media', { to: created.asr });
  await say(s, 'what did you say');
  await s.waitEvent('ASR.Result', { text: 'what did you say' });
  await say(s, 'yes', 30); // 0..100 provider scale: 0.3 is below the threshold
  await s.waitEvent('ASR.Result', { text: 'yes' });
  await press(s, '5');
  const report = await backend.waitFor((r) => r.body && r.body.type === 'manager_pin_answer', 5000);
  assert.equal(report.body.answer, 'none');
  assert.equal(report.body.via, 'timeout');
  await s.wait('asr_stopped', { asr: created.asr });
  await s.wait('said', { text: 'Goodbye.' });
  await s.wait('terminated');
  await clean(s);
});

test('the first yes/no word decides; the word lists and the profile come from CONFIG', async () => {
  const s = await talkedToPenny({ asrProfile: 'Google.ru_RU', pinYesWords: ['да', 'конечно'], pinNoWords: ['нет', 'не надо'] });
  const created = await s.wait('asr_created');
  assert.equal(created.profile, 'asr-profile:Google.ru_RU');
  assert.deepEqual(created.phrase_hints, ['да', 'конечно', 'нет', 'не надо']);
  await s.wait('media', { to: created.asr });
  await say(s, 'Нет, не надо, да', 95);
  assert.equal((await backend.waitFor((r) => r.body && r.body.type === 'manager_pin_answer')).body.answer, 'no');
  await s.wait('terminated');
  await clean(s);
});

test('without an ASR profile the question takes keys only', async () => {
  const s = await talkedToPenny({ asrProfile: '' });
  await s.wait('stopped', { what: 'say', text: QUESTION, reason: 'finished' });
  await s.wait('logger', { text: { $contains: 'takes keys only' } });
  await press(s, '1');
  assert.equal((await backend.waitFor((r) => r.body && r.body.type === 'manager_pin_answer')).body.answer, 'yes');
  assert.deepEqual(await s.entries('asr_created'), []);
  await s.wait('terminated');
  await clean(s);
});

test('the caller hanging up during the question reports none and ends the session', async () => {
  const s = await talkedToPenny();
  const created = await s.wait('asr_created');
  await s.wait('media', { to: created.asr });
  await s.hangupCaller();
  const report = await backend.waitFor((r) => r.body && r.body.type === 'manager_pin_answer');
  assert.deepEqual([report.body.answer, report.body.via], ['none', 'caller_hung_up']);
  await s.wait('terminated');
  assert.ok(!backend.events().some((e) => e.type === 'caller_hung_up'), 'the call had already ended for the backend');
  await clean(s);
});

test('no ask_pin_manager in the reply: goodbye at once, no question, no recogniser', async () => {
  askInReply(null);
  const s = await talkedToPenny();
  await s.wait('said', { text: 'Goodbye.' });
  await s.wait('terminated');
  assert.deepEqual(await s.entries('asr_created'), []);
  assert.deepEqual(await pinAnswers(), []);
  await clean(s);
});

test('a backend slow to reply: goodbye after pinReplyWaitSec, and a late question is not asked', async () => {
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  backend.route('POST', /\/events$/, async (r) => {
    if (r.body && r.body.type === 'operator_hung_up') {
      await held;
      return { status: 200, json: { ok: true, ask_pin_manager: ASK } };
    }
    return { status: 200, json: { ok: true } };
  });
  const s = await talkedToPenny({ pinReplyWaitSec: 0.3 });
  await s.wait('said', { text: 'Goodbye.' });
  release();
  await s.wait('terminated');
  assert.ok(!(await s.entries('said')).some((e) => e.text === QUESTION));
  await clean(s);
});
