'use strict';
// The access URL: HttpRequest events and how handler return values become replies.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { EmulatorHarness } = require('./helpers');

let emu;
let s;

const SCENARIO = `
    VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => e.call.answer());
    VoxEngine.addEventListener(AppEvents.HttpRequest, (e) => {
      const cmd = JSON.parse(e.content);
      switch (cmd.reply) {
        case 'string': return 'plain text';
        case 'number': return 42;
        case 'object': return { ok: true, got: cmd };
        case 'headers': return { method: e.method, path: e.path, headers: e.headers };
        case 'throw': throw new Error('handler broke');
        case 'end': VoxEngine.terminate(); return 'bye';
        default: return undefined;
      }
    });
  `;

before(async () => {
  emu = await new EmulatorHarness().start();
  s = await emu.call(SCENARIO);
  await s.waitEvent('Call.Connected');
});

after(() => emu.stop());

test('strings and numbers are sent raw', async () => {
  assert.deepEqual(await s.send({ reply: 'string' }), { status: 200, type: 'text/plain; charset=utf-8', text: 'plain text' });
  assert.deepEqual(await s.send({ reply: 'number' }), { status: 200, type: 'text/plain; charset=utf-8', text: '42' });
});

test('other values are sent as JSON', async () => {
  const res = await s.send({ reply: 'object', n: 1 });
  assert.equal(res.type, 'application/json');
  assert.deepEqual(JSON.parse(res.text), { ok: true, got: { reply: 'object', n: 1 } });
  const logged = await s.wait('access_request', { body: { reply: 'object', n: 1 } });
  assert.deepEqual(logged.reply, { ok: true, got: { reply: 'object', n: 1 } });
});

test('the event has method, path and only X- headers as a {key, value} list', async () => {
  const res = await s.send({ reply: 'headers' }, { 'X-Trace': 'abc', Authorization: 'secret' });
  const body = JSON.parse(res.text);
  assert.equal(body.method, 'POST');
  assert.equal(body.path, new URL(s.accessUrl).pathname);
  assert.deepEqual(body.headers, [{ key: 'X-Trace', value: 'abc' }]);
});

test('no return value gives an empty 200; a throwing handler a 500 (and the session ends)', async () => {
  assert.deepEqual(await s.send({ reply: 'none' }), { status: 200, type: 'text/plain; charset=utf-8', text: '' });
  const own = await emu.call(SCENARIO);
  await own.waitEvent('Call.Connected');
  assert.equal((await own.send({ reply: 'throw' })).status, 500);
  assert.match((await own.wait('error')).message, /handler broke/);
  await own.wait('terminate', { reason: 'uncaught_error' });
});

test('a wrong token or an ended session gets 404', async () => {
  const wrong = s.accessUrl.replace(/[0-9a-f]{32}$/, '0'.repeat(32));
  assert.equal((await fetch(wrong, { method: 'POST', body: '{}' })).status, 404);
  assert.equal((await s.send({ reply: 'end' })).text, 'bye');
  await s.wait('terminated');
  assert.equal((await s.send({ reply: 'string' })).status, 404);
});
