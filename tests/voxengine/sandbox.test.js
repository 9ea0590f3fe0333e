'use strict';
// The scenario's global environment: what exists, what throws, run-time checks.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { EmulatorHarness } = require('./helpers');

let emu;
before(async () => { emu = await new EmulatorHarness().start(); });
after(() => emu.stop());

async function errors(s) {
  return (await s.entries('error')).map((e) => e.message);
}

test('unmodelled globals throw, even under typeof; undeclared names stay undefined for typeof', async () => {
  const s = await emu.call(`
    const probes = {};
    for (const name of ['console', 'process', 'Buffer', 'fetch', 'WebAssembly', 'VoiceList', 'ASRLanguage', 'ASREvents', 'ASRProfileList']) {
      try { probes[name] = typeof globalThis[name] === 'undefined' ? 'absent' : 'present'; eval(name); probes[name] = 'no throw'; }
      catch (err) { probes[name] = err.constructor.name + ': ' + err.message; }
    }
    Logger.write(JSON.stringify({ probes, cfg: typeof SWITCHBOARD_CONFIG, json: typeof JSON.parse, date: typeof Date.now }));
  `);
  const out = JSON.parse((await s.wait('logger')).text);
  for (const [name, result] of Object.entries(out.probes)) {
    assert.match(result, /ReferenceError: .*(not modelled|not defined)/, `${name}: ${result}`);
  }
  // The ASR module's globals exist only after require(Modules.ASR).
  for (const name of ['ASREvents', 'ASRProfileList']) {
    assert.match(out.probes[name], /require\(Modules\.ASR\) first/);
  }
  assert.equal(out.cfg, 'undefined');
  assert.equal(out.json, 'function');
  assert.equal(out.date, 'function');
});

test('a misspelt platform member throws and is logged with the scenario file and line', async () => {
  const s = await emu.call('VoxEngine.addEventListener(AppEvents.Started, () => {\n  VoxEngine.callUsr({});\n});\n', {});
  const entry = await s.wait('error');
  assert.match(entry.message, /VoxEngine\.callUsr is not modelled/);
  assert.match(entry.stack, /s\d+\.voxengine\.js:2:/);
  const s2 = await emu.call('VoxEngine.addEventListener(CallEvents.Conected, () => {});');
  assert.match((await s2.wait('error')).message, /CallEvents\.Conected is not modelled/);
});

test('scenario files are concatenated in order into one script', async () => {
  const config = emu.scenario('var SWITCHBOARD_CONFIG = { greeting: "hi" };\n');
  const main = emu.scenario(`
    const CONFIG = Object.assign({ greeting: 'default' }, (typeof SWITCHBOARD_CONFIG !== 'undefined') ? SWITCHBOARD_CONFIG : {});
    Logger.write(CONFIG.greeting);
  `);
  const s = await emu.call([config, main]);
  assert.equal((await s.wait('logger')).text, 'hi');
  const alone = await emu.call([main]);
  assert.equal((await alone.wait('logger')).text, 'default');
});

test('a callback over 1 s is logged as a violation; a runaway one is stopped', async () => {
  const s = await emu.call(`
    VoxEngine.addEventListener(AppEvents.Started, () => { const end = Date.now() + 1100; while (Date.now() < end) {} });
    VoxEngine.addEventListener(AppEvents.CallAlerting, () => { for (;;) {} });
  `, { options: { hard_callback_limit_ms: 1500 } });
  const slow = await s.wait('violation', { rule: 'callback_over_1s', label: 'Application.Started' });
  assert.ok(slow.ms >= 1000);
  const killed = await s.wait('error', { label: 'Application.CallAlerting' });
  assert.match(killed.message, /timed out/);
});

test('timers run, can be cleared, and at most 100 may be active', async () => {
  const s = await emu.call(`
    let ticks = 0;
    const iv = setInterval(() => { ticks += 1; if (ticks === 3) { clearInterval(iv); Logger.write('ticks ' + ticks); } }, 5);
    const cancelled = setTimeout(() => Logger.write('must not run'), 10);
    clearTimeout(cancelled);
    setTimeout((a, b) => Logger.write('args ' + a + b), 1, 'x', 'y');
    let error = '';
    try { for (let i = 0; i < 101; i += 1) setTimeout(() => {}, 60000); } catch (err) { error = err.message; }
    Logger.write('limit: ' + error);
  `);
  await s.wait('logger', { text: 'ticks 3' });
  const texts = (await s.entries('logger')).map((e) => e.text);
  assert.ok(texts.includes('args xy'));
  assert.ok(texts.some((t) => /^limit: Too many timers/.test(t)));
  assert.ok(!texts.includes('must not run'));
});

test('promise continuations run inside the measured callback', async () => {
  const s = await emu.call(`
    VoxEngine.addEventListener(AppEvents.Started, async () => {
      await null;
      Logger.write('continued');
    });
  `);
  await s.wait('logger', { text: 'continued' });
  assert.deepEqual(await errors(s), []);
});

test('handlers must be functions', async () => {
  const s = await emu.call('VoxEngine.addEventListener(AppEvents.Started, "nope");');
  assert.match((await s.wait('error')).message, /handler must be a function/);
});

test('VoxEngine.customData() holds the session value, up to 200 bytes', async () => {
  const s = await emu.call(`
    Logger.write('initial ' + VoxEngine.customData());
    VoxEngine.customData('abc');
    Logger.write('now ' + VoxEngine.customData());
    try { VoxEngine.customData('x'.repeat(201)); } catch (err) { Logger.write('too long'); }
  `, { script_custom_data: 'from StartScenarios' });
  await s.wait('logger', { text: 'too long' });
  const texts = (await s.entries('logger')).map((e) => e.text);
  assert.deepEqual(texts, ['initial from StartScenarios', 'now abc', 'too long']);
});
