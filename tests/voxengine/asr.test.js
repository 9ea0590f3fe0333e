'use strict';
// Speech recognition and DTMF: require(Modules.ASR), createASR, the recogniser
// as a media unit, ASREvents, handleTones/ToneReceived, and the control API's
// "say" and "press" for the caller.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { EmulatorHarness } = require('./helpers');

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

// Logs every ASR event as "asr:<name> <json>".
const LISTEN = `
  require(Modules.ASR);
  let asr;
  function listen(params) {
    asr = VoxEngine.createASR(params || { profile: ASRProfileList.Google.en_US, singleUtterance: true, phraseHints: ['yes', 'no'] });
    for (const name of ['Started', 'CaptureStarted', 'SpeechCaptured', 'InterimResult', 'Result', 'Stopped', 'ASRError']) {
      asr.addEventListener(ASREvents[name], (e) => {
        const copy = Object.assign({}, e);
        delete copy.asr;
        Logger.write('asr:' + name + ' ' + JSON.stringify(copy) + ' same=' + (e.asr === asr));
      });
    }
    caller.sendMediaTo(asr);
  }
`;

async function asrLog(s) {
  return (await s.entries('logger')).map((e) => e.text).filter((t) => t.startsWith('asr:'));
}

test('createASR needs require(Modules.ASR) and a profile from ASRProfileList', async () => {
  const s = await emu.call(`
    const out = [];
    const attempt = (label, fn) => { try { fn(); out.push(label + ': ok'); } catch (err) { out.push(label + ': ' + err.message); } };
    attempt('before require', () => VoxEngine.createASR({ profile: 'x' }));
    attempt('events before require', () => ASREvents.Result);
    require(Modules.ASR);
    attempt('no profile', () => VoxEngine.createASR({ singleUtterance: true }));
    attempt('string profile', () => VoxEngine.createASR({ profile: 'Google.en_US' }));
    attempt('unknown language', () => ASRProfileList.Google.xx_XX);
    attempt('legacy form', () => VoxEngine.createASR('en-US', ['yes']));
    attempt('other module', () => require(Modules.IVR));
    attempt('good', () => VoxEngine.createASR({ profile: ASRProfileList.Yandex.ru_RU }));
    Logger.write(JSON.stringify(out));
  `);
  const out = JSON.parse((await s.wait('logger')).text);
  assert.match(out[0], /needs require\(Modules\.ASR\)/);
  assert.match(out[1], /ASREvents is not defined: require\(Modules\.ASR\) first/);
  assert.match(out[2], /profile is required/);
  assert.match(out[3], /must be an ASRProfileList value/);
  assert.match(out[4], /ASRProfileList\.Google\.xx_XX is not modelled/);
  assert.match(out[5], /give ASRParameters/);
  assert.match(out[6], /Modules\.IVR is not modelled/);
  assert.equal(out[7], 'good: ok');
  assert.equal((await s.wait('module_loaded')).module, 'ASR');
  const created = await s.wait('asr_created');
  assert.equal(created.profile, 'asr-profile:Yandex.ru_RU');
  await s.waitEvent('ASR.Started', { asr: created.asr });
});

test('the caller says something: CaptureStarted, SpeechCaptured, Result{text, confidence} to a listening recogniser', async () => {
  const s = await emu.call(`${ANSWER}${LISTEN}
    function onConnected() { listen(); }
  `);
  const media = await s.wait('media', { to: { $regex: '^asr-' } });
  await s.waitEvent('ASR.Started');
  const reply = await emu.control('POST', `/sessions/${s.id}/say`, { text: 'Yes please', confidence: 87 });
  assert.deepEqual(reply.heard_by, [media.to]);
  const result = await s.waitEvent('ASR.Result');
  assert.equal(result.text, 'Yes please');
  assert.equal(result.confidence, 87);
  const names = (await asrLog(s)).map((t) => t.split(' ')[0]);
  assert.deepEqual(names, ['asr:Started', 'asr:CaptureStarted', 'asr:SpeechCaptured', 'asr:Result']);
  assert.ok((await asrLog(s)).every((t) => t.endsWith('same=true')), 'e.asr is the recogniser');
  const snap = await s.snapshot();
  assert.deepEqual(snap.asrs[0].hearing, { kind: 'call', from: snap.legs[0].id });
  assert.equal(snap.asrs[0].single_utterance, true);
  assert.deepEqual(snap.asrs[0].phrase_hints, ['yes', 'no']);
});

test('speech reaches a recogniser only while the caller\'s media is sent to it, and not after stop()', async () => {
  const s = await emu.call(`${ANSWER}${LISTEN}
    function onConnected() { listen(); }
    VoxEngine.addEventListener(AppEvents.HttpRequest, (e) => {
      if (e.content === 'mute') caller.stopMediaTo(asr);
      if (e.content === 'unmute') caller.sendMediaTo(asr);
      if (e.content === 'stop') asr.stop();
      return 'ok';
    });
  `);
  await s.wait('media', { to: { $regex: '^asr-' } });
  await s.send('mute');
  await s.wait('media_stopped');
  assert.deepEqual((await emu.control('POST', `/sessions/${s.id}/say`, { text: 'hello' })).heard_by, []);
  await s.send('unmute');
  assert.equal((await emu.control('POST', `/sessions/${s.id}/say`, { text: 'second try' })).heard_by.length, 1);
  await s.waitEvent('ASR.Result', { text: 'second try' });
  await s.send('stop');
  const stopped = await s.waitEvent('ASR.Stopped');
  assert.equal(typeof stopped.duration, 'number');
  assert.deepEqual((await emu.control('POST', `/sessions/${s.id}/say`, { text: 'too late' })).heard_by, []);
  // Sending media to a stopped recogniser is a scenario bug.
  await s.send('unmute');
  await s.wait('violation', { rule: 'media_with_ended_call' });
  const results = (await s.entries('event')).filter((e) => e.name === 'ASR.Result').map((e) => e.text);
  assert.deepEqual(results, ['second try']);
});

test('stop() during an utterance drops its Result; InterimResult with interimResults; ASRError', async () => {
  const s = await emu.call(`${ANSWER}${LISTEN}
    function onConnected() { listen({ profile: ASRProfileList.Google.en_US, interimResults: true }); }
    VoxEngine.addEventListener(AppEvents.HttpRequest, () => { asr.stop(); return 'ok'; });
  `, { options: { say_ms_per_word: 40 } });
  await s.wait('media', { to: { $regex: '^asr-' } });
  await emu.control('POST', `/sessions/${s.id}/say`, { text: 'one two three four five' });
  await s.waitEvent('ASR.InterimResult', { text: 'one' });
  assert.deepEqual((await emu.control('POST', `/sessions/${s.id}/asr_error`, { error: 'quota' })).asrs.length, 1);
  await s.waitEvent('ASR.Error', { error: 'quota' });
  await s.send('stop');
  await s.waitEvent('ASR.Stopped');
  await new Promise((r) => setTimeout(r, 300)); // past the utterance's end: nothing more may come
  const names = (await s.entries('event')).filter((e) => e.name.startsWith('ASR.')).map((e) => e.name);
  assert.ok(!names.includes('ASR.Result') && !names.includes('ASR.SpeechCaptured'), names.join());
});

test('press: ToneReceived{tone, type} only after handleTones(true)', async () => {
  const s = await emu.call(`${ANSWER}
    function onConnected() {
      caller.addEventListener(CallEvents.ToneReceived, (e) => Logger.write('tone ' + e.tone + ' type ' + e.type));
    }
    VoxEngine.addEventListener(AppEvents.HttpRequest, () => { caller.handleTones(true); return 'ok'; });
  `);
  await s.wait('connected');
  const ignored = await emu.control('POST', `/sessions/${s.id}/press`, { digits: '9' });
  assert.equal(ignored.delivered, '');
  await s.wait('tone_ignored', { tone: '9' });
  await s.send('on');
  await s.wait('tones', { enabled: true });
  assert.equal((await emu.control('POST', `/sessions/${s.id}/press`, { digits: '1#' })).delivered, '1#');
  await s.wait('logger', { text: 'tone # type 1' });
  const tones = (await s.entries('logger')).map((e) => e.text);
  assert.deepEqual(tones, ['tone 1 type 1', 'tone # type 1']);
  await assert.rejects(emu.control('POST', `/sessions/${s.id}/press`, { digits: '5x' }), /400/);
});

test('say and press need a connected caller', async () => {
  const s = await emu.call(`
    VoxEngine.addEventListener(AppEvents.CallAlerting, () => {});
  `);
  await s.waitEvent('Application.CallAlerting');
  await assert.rejects(emu.control('POST', `/sessions/${s.id}/say`, { text: 'hello' }), /409/);
  await assert.rejects(emu.control('POST', `/sessions/${s.id}/press`, { digits: '1' }), /409/);
});
