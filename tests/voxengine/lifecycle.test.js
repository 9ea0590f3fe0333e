'use strict';
// Session life cycle: event order, termination, idle end, the Terminating
// HTTP allowance, unanswered calls.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { EmulatorHarness, FakeBackend } = require('./helpers');

let emu;
let backend;

before(async () => {
  emu = await new EmulatorHarness().start();
  backend = await new FakeBackend().start();
  backend.route('POST', /^\/notify/, () => ({ status: 200, json: { ok: true } }));
});

after(async () => {
  await emu.stop();
  await backend.stop();
});

test('Started (with access URLs and sessionId) precedes CallAlerting', async () => {
  const s = await emu.call(`
    const seen = [];
    VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
      seen.push('alerting');
      Logger.write(JSON.stringify({ seen, callerid: e.callerid, destination: e.destination,
        displayName: e.displayName, headers: e.headers, customData: e.customData, name: e.name,
        state: e.call.state(), incoming: e.call.incoming(), number: e.call.number() }));
      e.call.hangup();
    });
    VoxEngine.addEventListener(AppEvents.Started, (e) => {
      seen.push('started');
      Logger.write(JSON.stringify({ url: e.accessURL, secure: e.accessSecureURL, id: e.sessionId }));
    });
  `, { callerid: '+111', destination: '+222', display_name: 'Ann', headers: { 'X-Kiosk': '7' }, custom_data: '{"page":"a"}' });
  const started = JSON.parse((await s.wait('logger', { text: { $contains: 'url' } })).text);
  assert.match(started.url, /^http:\/\/127\.0\.0\.1:\d+\/request\/[0-9a-f]+\/[0-9a-f]+$/);
  assert.equal(started.url, s.accessUrl);
  assert.match(started.secure, /^https:\/\/127\.0\.0\.1:\d+\/request\//);
  assert.equal(String(started.id), s.id);
  const alerting = JSON.parse((await s.wait('logger', { text: { $contains: 'seen' } })).text);
  assert.deepEqual(alerting, {
    seen: ['started', 'alerting'], callerid: '+111', destination: '+222', displayName: 'Ann',
    headers: { 'X-Kiosk': '7' }, customData: '{"page":"a"}', name: 'Application.CallAlerting',
    state: 'ALERTING', incoming: true, number: '+222',
  });
});

test('terminate() fires Terminating, allows one HTTP request, then Terminated', async () => {
  const s = await emu.call(`
    VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
      e.call.answer();
      e.call.addEventListener(CallEvents.Connected, () => { VoxEngine.terminate(); });
      e.call.addEventListener(CallEvents.Disconnected, () => Logger.write('disconnected after terminate'));
    });
    VoxEngine.addEventListener(AppEvents.Terminating, () => {
      Net.httpRequestAsync('${backend.url}/notify/1', { method: 'POST', postData: 'x' })
        .then((r) => Logger.write('first ' + r.code));
      Net.httpRequestAsync('${backend.url}/notify/2', { method: 'POST', postData: 'y' })
        .then((r) => Logger.write('second ' + r.code));
      setTimeout(() => Logger.write('timer ran'), 0);
    });
    VoxEngine.addEventListener(AppEvents.Terminated, () => Logger.write('terminated handler'));
  `);
  await s.wait('terminated');
  const log = await s.entries();
  const names = log.filter((e) => e.kind === 'event').map((e) => e.name);
  assert.deepEqual(names.slice(-2), ['Application.Terminating', 'Application.Terminated']);
  const texts = log.filter((e) => e.kind === 'logger').map((e) => e.text);
  assert.deepEqual(texts, ['first 200', 'terminated handler']);
  assert.ok(log.some((e) => e.kind === 'http_dropped' && e.url.endsWith('/notify/2')));
  assert.ok(log.some((e) => e.kind === 'violation' && e.rule === 'timer_after_terminate'));
  assert.equal(backend.requests.filter((r) => r.path.startsWith('/notify/2')).length, 0);
  const res = await s.send({ command: 'noop' });
  assert.equal(res.status, 404);
});

test('a session ends by itself a while after its last call', async () => {
  const s = await emu.call(`
    VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => { e.call.answer(); });
  `, { options: { idle_timeout_ms: 150 } });
  await s.waitEvent('Call.Connected');
  await s.hangupCaller();
  const disconnected = await s.waitEvent('Call.Disconnected');
  const terminate = await s.wait('terminate', { reason: 'idle' });
  // The idle clock starts when the last call ends, a little before its Disconnected entry is
  // logged (more so on a loaded machine): a lower bound with slack, not an exact figure.
  assert.ok(terminate.t - disconnected.t >= 100, `idle end after ${terminate.t - disconnected.t} ms`);
  await s.wait('terminated');
});

test('an incoming call nobody answers is dropped after the alerting limit', async () => {
  const s = await emu.call(`
    VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
      e.call.addEventListener(CallEvents.Disconnected, (d) => Logger.write('dropped ' + d.internalCode));
    });
  `, { options: { alerting_timeout_ms: 100 } });
  await s.wait('logger', { text: 'dropped 408' });
});

test('call events carry call, name and id; Disconnected carries code, reason, duration, cost', async () => {
  const s = await emu.call(`
    VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
      e.call.answer();
      e.call.addEventListener(CallEvents.Disconnected, (d) => {
        Logger.write(JSON.stringify({ same: d.call === e.call, name: d.name, id: d.id === e.call.id(),
          internalCode: d.internalCode, reason: d.reason, duration: d.duration, cost: d.cost }));
        VoxEngine.terminate();
      });
    });
  `);
  await s.waitEvent('Call.Connected');
  await s.hangupCaller();
  const entry = await s.wait('logger');
  assert.deepEqual(JSON.parse(entry.text), {
    same: true, name: 'Call.Disconnected', id: true, internalCode: 200, reason: 'Normal call clearing', duration: 0, cost: 0,
  });
});

test('a rule from rules.config.json picks the scenario files', async () => {
  const path = require('node:path');
  const fs = require('node:fs');
  const rulesFile = path.join(emu.dir, 'rules.config.json');
  emu.scenario('var SETTING = "from config";\n', 'config.voxengine.js');
  emu.scenario('VoxEngine.addEventListener(AppEvents.Started, () => Logger.write(SETTING));\n', 'main.voxengine.js');
  fs.writeFileSync(rulesFile, JSON.stringify([{ ruleName: 'r1', scenarios: ['config', 'main'], rulePattern: '\\+1.*' }]));
  const ruled = await new EmulatorHarness({ rules: rulesFile }).start();
  try {
    const reply = await ruled.control('POST', '/calls', { destination: '+15551234' });
    const s = new (require('./helpers').SessionProbe)(ruled, reply.session_id, reply.access_url);
    await s.wait('logger', { text: 'from config' });
    await assert.rejects(ruled.control('POST', '/calls', { destination: '+4411' }), /no rule matches/);
  } finally {
    await ruled.stop();
  }
});
