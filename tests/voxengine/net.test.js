'use strict';
// Net.httpRequestAsync / Net.httpRequest: result shape, failures, limits.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { EmulatorHarness } = require('./helpers');

let emu;
let server;
let base;
let inFlight = 0;
let maxInFlight = 0;
const held = [];
let heldWaiter = null;

/** Resolves with the release function of the next held request. */
function nextHeld() {
  if (held.length) return Promise.resolve(held.shift());
  return new Promise((resolve) => { heldWaiter = resolve; });
}

before(async () => {
  emu = await new EmulatorHarness().start();
  server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      if (req.url.startsWith('/echo')) {
        res.writeHead(201, { 'Content-Type': 'application/json', 'X-Reply': 'yes' });
        res.end(JSON.stringify({ method: req.method, url: req.url, body, auth: req.headers.authorization, ua: req.headers['user-agent'], legacy: req.headers['x-legacy'] }));
      } else if (req.url.startsWith('/hold')) {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        const release = () => { inFlight -= 1; res.end('done'); };
        if (heldWaiter) {
          const waiter = heldWaiter;
          heldWaiter = null;
          waiter(release);
        } else {
          held.push(release);
        }
      } else if (req.url.startsWith('/never')) {
        // never answers
      } else if (req.url.startsWith('/redirect')) {
        res.writeHead(302, { Location: '/echo?redirected=1' });
        res.end();
      } else {
        res.writeHead(503);
        res.end('busy');
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await emu.stop();
});

test('a result has code, text, headers as [{key, value}] and raw_headers (no error)', async () => {
  const s = await emu.call(`
    Net.httpRequestAsync('${base}/echo?a=1', { method: 'POST', postData: '{"x":1}', params: { b: '2' },
      headers: { 'Content-Type': 'application/json', 'Authorization': 'Bearer t' } })
      .then((r) => Logger.write(JSON.stringify(r)));
  `);
  const r = JSON.parse((await s.wait('logger')).text);
  assert.equal(r.code, 201);
  assert.equal('error' in r, false);
  assert.ok(Array.isArray(r.headers));
  assert.deepEqual(r.headers.find((h) => h.key === 'X-Reply'), { key: 'X-Reply', value: 'yes' });
  assert.match(r.raw_headers, /^HTTP\/1\.1 201 Created\r\n/);
  assert.deepEqual(JSON.parse(r.text), { method: 'POST', url: '/echo?a=1&b=2', body: '{"x":1}', auth: 'Bearer t', ua: 'VoxEngine/1.0' });
  const logged = await s.wait('http_request');
  assert.deepEqual(logged.body, { x: 1 });
});

test('the callback form and legacy "Name: value" header lines work', async () => {
  const s = await emu.call(`
    Net.httpRequest('${base}/echo', (r) => Logger.write(JSON.parse(r.text).legacy), { headers: ['X-Legacy: old style'] });
  `);
  assert.equal((await s.wait('logger')).text, 'old style');
});

test('failures resolve with negative codes, never reject', async () => {
  const s = await emu.call(`
    const show = (label) => (r) => Logger.write(label + ' ' + r.code + ' ' + (r.error ? 'has error' : 'no error'));
    Net.httpRequestAsync('http://127.0.0.1:1/').then(show('refused'), () => Logger.write('rejected'));
    Net.httpRequestAsync('not a url').then(show('malformed'));
    Net.httpRequestAsync('${base}/never', { timeout: 0.3 }).then(show('timeout'));
    Net.httpRequestAsync('${base}/other').then(show('http'));
    Net.httpRequestAsync('${base}/redirect').then((r) => Logger.write('redirect ' + r.code + ' ' + JSON.parse(r.text).url));
  `);
  await s.wait('logger', { text: { $contains: 'timeout' } }, { timeoutMs: 3000 });
  // http and redirect may queue behind the three in flight: wait for them too.
  await s.wait('logger', { text: { $contains: 'http' } }, { timeoutMs: 3000 });
  await s.wait('logger', { text: { $contains: 'redirect' } }, { timeoutMs: 3000 });
  const texts = (await s.entries('logger')).map((e) => e.text).sort();
  assert.deepEqual(texts, [
    'http 503 no error', 'malformed -2 has error', 'redirect 201 /echo?redirected=1', 'refused -4 has error', 'timeout -7 has error',
  ]);
});

test('at most 3 requests run at once; more than 35 pending throws', async () => {
  const s = await emu.call(`
    let done = 0;
    for (let i = 0; i < 35; i += 1) Net.httpRequestAsync('${base}/hold/' + i).then(() => { done += 1; if (done === 35) Logger.write('all done'); });
    try { Net.httpRequestAsync('${base}/hold/extra'); } catch (err) { Logger.write('threw: ' + err.message); }
  `);
  assert.equal((await s.wait('logger')).text, 'threw: Exceeded the HTTP connection count limit!');
  // Hold three at once, then release one at a time: a fourth never overlaps.
  const open = [await nextHeld(), await nextHeld(), await nextHeld()];
  for (let i = 3; i < 35; i += 1) {
    open.shift()();
    open.push(await nextHeld());
  }
  open.forEach((release) => release());
  await s.wait('logger', { text: 'all done' });
  assert.equal(maxInFlight, 3);
});
