'use strict';
// Call legs: answering, media (one incoming stream), recording, outgoing
// legs and scripted callees.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { EmulatorHarness } = require('./helpers');
const { ringTimeoutSeconds } = require('./lib/callees');

let emu;
before(async () => { emu = await new EmulatorHarness().start(); });
after(() => emu.stop());

const ANSWER = `
  let caller;
  VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
    caller = e.call;
    caller.answer({}, { scheme: e.scheme });
    caller.addEventListener(CallEvents.Connected, () => onConnected(e));
  });
`;

test('say replaces music, fires PlaybackFinished, and the scenario resumes music', async () => {
  const s = await emu.call(`${ANSWER}
    function onConnected() {
      caller.startPlayback('http://music/loop.mp3', { loop: true });
      caller.say('one two three four');
      caller.addEventListener(CallEvents.PlaybackFinished, () => {
        Logger.write('finished');
        caller.startPlayback('http://music/loop.mp3', { loop: true });
      });
    }
  `);
  await s.wait('logger', { text: 'finished' });
  const media = (await s.entries()).filter((e) => ['played', 'said', 'stopped'].includes(e.kind)).map((e) => `${e.kind}:${e.reason || e.url || e.text}`);
  assert.deepEqual(media, [
    'played:http://music/loop.mp3', 'stopped:replaced', 'said:one two three four', 'stopped:finished', 'played:http://music/loop.mp3',
  ]);
  const snap = await s.snapshot();
  assert.deepEqual(snap.legs[0].hearing, { kind: 'playback', url: 'http://music/loop.mp3', loop: true });
});

test('stopPlayback suppresses PlaybackFinished', async () => {
  const s = await emu.call(`${ANSWER}
    function onConnected() {
      caller.addEventListener(CallEvents.PlaybackFinished, () => Logger.write('finished fired'));
      caller.say('a long sentence that would take a while to speak');
      caller.stopPlayback();
      caller.say('short');
    }
  `);
  await s.wait('logger', { text: 'finished fired' });
  const finished = (await s.entries('event')).filter((e) => e.name === 'Call.PlaybackFinished');
  assert.equal(finished.length, 1);
  assert.ok((await s.entries('stopped')).some((e) => e.reason === 'stopPlayback'));
});

test('answering a video caller without its scheme drops the video', async () => {
  const s = await emu.call(`
    VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => e.call.answer());
  `, { video: true });
  assert.equal((await s.wait('answered')).video, false);
});

test('media without an answered call is a violation', async () => {
  const s = await emu.call(`
    VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => { e.call.startPlayback('http://m.mp3'); e.call.answer(); });
  `);
  await s.wait('violation', { rule: 'media_without_call' });
});

test('record() gives RecordStarted with a URL, and RecordStopped after Disconnected', async () => {
  const s = await emu.call(`${ANSWER}
    function onConnected() {
      caller.record({ stereo: true });
      caller.addEventListener(CallEvents.RecordStarted, (r) => Logger.write('url ' + r.url));
    }
  `);
  const entry = await s.wait('logger');
  assert.match(entry.text, /^url http:\/\/127\.0\.0\.1:\d+\/records\/.+\.mp3$/);
  await s.hangupCaller();
  await s.waitEvent('Call.RecordStopped');
  const names = (await s.entries('event')).map((e) => e.name);
  assert.ok(names.indexOf('Call.Disconnected') < names.indexOf('Call.RecordStopped'));
});

const DIAL = (how) => `${ANSWER}
  function onConnected(e) {
    const out = ${how};
    for (const name of ['Ringing', 'Connected', 'Failed', 'Disconnected']) {
      out.addEventListener(CallEvents[name], (ev) => {
        Logger.write(name + (ev.code ? ' ' + ev.code + ' ' + ev.reason : ''));
        if (name === 'Connected') VoxEngine.sendMediaBetween(caller, out);
      });
    }
  }
`;

test('a callee that answers is bridged; hangup_after ends it from the far side', async () => {
  await emu.callee('op-answer', { action: 'answer', after_ms: 20, hangup_after_ms: 30 });
  const s = await emu.call(DIAL(`VoxEngine.callUser({ username: 'op-answer', callerid: e.callerid, displayName: 'Ann',
    video: true, scheme: e.scheme, extraHeaders: { 'X-Call-Id': 'c1', 'VI-CallTimeout': '20' } })`), { video: true });
  await s.wait('logger', { text: 'Disconnected' });
  const texts = (await s.entries('logger')).map((e) => e.text);
  assert.deepEqual(texts, ['Ringing', 'Connected', 'Disconnected']);
  const dialled = await s.wait('dialled');
  assert.equal(dialled.type, 'user');
  assert.equal(dialled.video, true);
  assert.match(dialled.scheme, /video/);
  assert.deepEqual(dialled.headers, { 'X-Call-Id': 'c1', 'VI-CallTimeout': '20' });
  const bridged = await s.wait('bridged');
  assert.equal(bridged.legs.length, 2);
  const snap = await s.snapshot();
  assert.equal(snap.legs[1].ended_by, 'callee');
});

test('busy, decline and no_answer fail with 486, 603 and 480', async () => {
  await emu.callee('op-busy', { action: 'busy' });
  await emu.callee('op-decline', { action: 'decline', after_ms: 15 });
  await emu.callee('op-away', { action: 'no_answer', after_ms: 15, code: 480 });
  for (const [address, expected] of [['op-busy', 'Failed 486 Busy Here'], ['op-decline', 'Failed 603 Decline'], ['op-away', 'Failed 480 Temporarily Unavailable']]) {
    const s = await emu.call(DIAL(`VoxEngine.callUser({ username: '${address}', callerid: 'x' })`));
    await s.wait('logger', { text: expected });
  }
});

test('one-shot behaviours come first, then the standing one', async () => {
  await emu.callee('op-flaky', { action: 'answer', after_ms: 15 });
  await emu.callee('op-flaky', { action: 'busy', once: true });
  const first = await emu.call(DIAL(`VoxEngine.callUser({ username: 'op-flaky', callerid: 'x' })`));
  await first.wait('logger', { text: 'Failed 486 Busy Here' });
  const second = await emu.call(DIAL(`VoxEngine.callUser({ username: 'op-flaky', callerid: 'x' })`));
  await second.wait('logger', { text: 'Connected' });
});

test('the scenario hanging up a ringing leg gives Failed 487; the control API can hang up a leg', async () => {
  const s = await emu.call(`${ANSWER}
    function onConnected() {
      const out = VoxEngine.callSIP('sip:desk@example.org', { callerid: '+1' });
      out.addEventListener(CallEvents.Failed, (ev) => Logger.write('failed ' + ev.code));
      out.addEventListener(CallEvents.Ringing, () => out.hangup());
      const pstn = VoxEngine.callPSTN('+4420', '+1');
      pstn.addEventListener(CallEvents.Failed, (ev) => Logger.write('pstn ' + ev.code));
    }
  `);
  await s.wait('logger', { text: 'failed 487' });
  await s.wait('ringing', {}, { after: (await s.wait('dialled', { address: '+4420' })).seq });
  await s.hangupLeg('+4420');
  await s.wait('logger', { text: 'pstn 603' });
});

test('legacy positional callUser works and unknown callees ring until the timeout', async () => {
  assert.equal(ringTimeoutSeconds({ 'VI-CallTimeout': '3' }), 10);
  assert.equal(ringTimeoutSeconds({ 'VI-CallTimeout': '25' }), 25);
  assert.equal(ringTimeoutSeconds({}), 60);
  const s = await emu.call(DIAL(`VoxEngine.callUser('nobody', '+1', 'Ann', { 'X-A': '1' }, false, e.scheme)`));
  const dialled = await s.wait('dialled');
  assert.deepEqual([dialled.address, dialled.callerid, dialled.display_name, dialled.headers], ['nobody', '+1', 'Ann', { 'X-A': '1' }]);
  assert.deepEqual((await s.wait('callee_behaviour')).behaviour, { action: 'no_answer' });
});

test('sendMediaBetween makes each leg hear the other; a new playback replaces that', async () => {
  await emu.callee('op-talk', { action: 'answer' });
  const s = await emu.call(`${ANSWER}
    function onConnected(e) {
      const out = VoxEngine.callUser({ username: 'op-talk', callerid: e.callerid });
      out.addEventListener(CallEvents.Connected, () => {
        VoxEngine.sendMediaBetween(caller, out);
        Logger.write('bridged');
      });
    }
  `);
  await s.wait('logger', { text: 'bridged' });
  let snap = await s.snapshot();
  assert.deepEqual(snap.legs[0].hearing, { kind: 'call', from: snap.legs[1].id });
  assert.deepEqual(snap.legs[1].hearing, { kind: 'call', from: snap.legs[0].id });
  await s.hangupLeg('op-talk');
  await s.wait('unbridged');
  snap = await s.snapshot();
  assert.equal(snap.legs[0].hearing, null);
});

test('easyProcess answers the caller when the callee answers and ends the session on hang-up', async () => {
  await emu.callee('op-easy', { action: 'answer', after_ms: 20, hangup_after_ms: 20 });
  const s = await emu.call(`
    VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
      VoxEngine.easyProcess(e.call, VoxEngine.callUser({ username: 'op-easy', callerid: e.callerid }));
    });
  `);
  await s.wait('answered');
  await s.wait('terminated');
  assert.ok((await s.entries('terminate')).some((e) => e.reason === 'easyProcess'));
});
