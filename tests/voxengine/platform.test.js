'use strict';
// The emulator against the platform's typings: names, result shapes, limits.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { EmulatorHarness } = require('./helpers');

let emu;
before(async () => { emu = await new EmulatorHarness().start(); });
after(() => emu.stop());

test('an uncaught error ends the session: its calls drop and Terminating follows', async () => {
  const s = await emu.call(`
    VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
      e.call.answer();
      e.call.addEventListener(CallEvents.Connected, () => { throw new Error('boom'); });
    });
    VoxEngine.addEventListener(AppEvents.Terminating, () => Logger.write('terminating'));
  `);
  const error = await s.wait('error', { message: 'boom' });
  const ended = await s.wait('terminate', { reason: 'uncaught_error' }, { after: error.seq });
  await s.wait('logger', { text: 'terminating' }, { after: ended.seq });
  await s.wait('terminated');
  assert.equal((await s.snapshot()).legs[0].state, 'TERMINATED');
});

test('an error thrown by the HttpRequest handler answers 500 and ends the session', async () => {
  const s = await emu.call(`
    VoxEngine.addEventListener(AppEvents.HttpRequest, () => { null.x; });
    VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => e.call.answer());
  `);
  await s.wait('connected');
  assert.equal((await s.send({ command: 'x' })).status, 500);
  await s.wait('terminate', { reason: 'uncaught_error' });
  assert.equal((await s.send({ command: 'x' })).status, 404);
});

test('AppEvents and CallEvents are exactly the typings\' members and strings', async () => {
  const s = await emu.call(`
    const probe = (obj, name) => { try { return obj[name]; } catch (err) { return 'throws'; } };
    Logger.write(JSON.stringify({
      wsFailed: AppEvents.NewWebSocketFailed,
      ws: AppEvents.WebSocket,
      videoTrack: probe(CallEvents, 'VideoTrackCreated'),
      toneDetected: probe(CallEvents, 'ToneDetected'),
      statistics: probe(CallEvents, 'Statistics'),
      amd: probe(CallEvents, 'AudioIdentificationResult'),
      rtp: probe(CallEvents, 'RtpStopped'),
      reinvite: probe(CallEvents, 'ReInviteRejected'),
      invented: probe(CallEvents, 'Hold'),
    }));
  `);
  assert.deepEqual(JSON.parse((await s.wait('logger')).text), {
    wsFailed: 'Application.OnNewWebSocketFailed',
    ws: 'AppEvents.NewWebSocketConnection',
    videoTrack: 'Call.Video.TrackCreated',
    toneDetected: 'Call.ToneDetected',
    statistics: 'Call.Statistics',
    amd: 'Call.AudioIdentificationResult',
    rtp: 'Call.RtpStopped',
    reinvite: 'Call.ReInviteRejected',
    invented: 'throws',
  });
});

test('ASRProfileList holds the documented profiles only', async () => {
  const s = await emu.call(`
    require(Modules.ASR);
    const probe = (provider, lang) => { try { return ASRProfileList[provider][lang] ? 'ok' : 'missing'; } catch (err) { return 'throws'; } };
    Logger.write(JSON.stringify({
      amazonEsUS: probe('Amazon', 'es_US'), amazonRu: probe('Amazon', 'ru_RU'),
      deepgramRu: probe('Deepgram', 'ru'), deepgramRuRU: probe('Deepgram', 'ru_RU'),
      yandexAuto: probe('Yandex', 'auto'), yandexV3: probe('YandexV3', 'ru_RU'),
      cartesia: probe('Cartesia', 'autodetect'), googleEn: probe('Google', 'en_US'),
    }));
  `);
  assert.deepEqual(JSON.parse((await s.wait('logger')).text), {
    amazonEsUS: 'ok', amazonRu: 'throws', deepgramRu: 'ok', deepgramRuRU: 'throws',
    yandexAuto: 'ok', yandexV3: 'throws', cartesia: 'ok', googleEn: 'ok',
  });
});

test('Net results carry only the documented fields: code always, error only on failure', async () => {
  const server = http.createServer((req, res) => res.end('hi'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    const s = await emu.call(`
      const keys = (r) => Object.keys(r).sort().join(',');
      Net.httpRequestAsync('${base}/').then((r) => Logger.write('ok ' + keys(r)));
      Net.httpRequestAsync('http://127.0.0.1:1/').then((r) => Logger.write('refused ' + keys(r)));
    `);
    await s.wait('logger', { text: { $contains: 'ok ' } });
    await s.wait('logger', { text: { $contains: 'refused ' } });
    const texts = (await s.entries('logger')).map((e) => e.text).sort();
    assert.deepEqual(texts, ['ok code,headers,raw_headers,text', 'refused code,error']);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('VI-CallTimeout bounds callUser only; SIP and PSTN legs ring the platform\'s 60 s', async () => {
  const s = await emu.call(`
    VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
      e.call.answer();
      VoxEngine.callUser({ username: 'op', callerid: '1', extraHeaders: { 'VI-CallTimeout': '10' } });
      VoxEngine.callSIP('sip:desk@pbx.example.org', { headers: { 'VI-CallTimeout': '10' } });
      VoxEngine.callPSTN('+15550001111', '+15550002222');
    });
  `);
  await s.wait('dialled', { type: 'pstn' });
  const behaviours = await s.entries('callee_behaviour');
  const dialled = await s.entries('dialled');
  const ringMs = dialled.map((d) => [d.type, behaviours.find((b) => b.leg === d.leg).ring_timeout_ms]);
  assert.deepEqual(ringMs, [['user', 10000], ['sip', 60000], ['pstn', 60000]]);
});
