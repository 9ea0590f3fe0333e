'use strict';
// Shared by the emulator's tests: an in-process emulator driven through its
// control API, scenario files written on the fly, and a scriptable backend.

const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const { Emulator } = require('./emulator');

const ROOT = path.resolve(__dirname, '..', '..');

class EmulatorHarness {
  constructor(options) {
    this.emulator = new Emulator({ idleTimeoutMs: 200, sayMsPerWord: 2, ...options });
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voxemu-test-'));
    this.fileCount = 0;
  }

  async start() {
    const urls = await this.emulator.start();
    this.controlUrl = urls.control_url;
    return this;
  }

  async stop() {
    await this.emulator.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Writes a scenario file and returns its path. */
  scenario(source, name) {
    this.fileCount += 1;
    const file = path.join(this.dir, name || `s${this.fileCount}.voxengine.js`);
    fs.writeFileSync(file, source);
    return file;
  }

  async control(method, route, body) {
    const res = await fetch(this.controlUrl + route, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw Object.assign(new Error(`${method} ${route}: ${res.status} ${json.error}`), { status: res.status, body: json });
    return json;
  }

  /** Places a call running the given source(s) or files; returns a SessionProbe. */
  async call(scenarios, call = {}) {
    const files = (Array.isArray(scenarios) ? scenarios : [scenarios])
      .map((s) => (s.includes('\n') || !s.endsWith('.js') ? this.scenario(s) : s));
    const reply = await this.control('POST', '/calls', { scenarios: files, ...call });
    return new SessionProbe(this, reply.session_id, reply.access_url);
  }

  callee(address, behaviour) {
    return this.control('POST', '/callees', { address, ...behaviour });
  }
}

class SessionProbe {
  constructor(harness, id, accessUrl) {
    this.harness = harness;
    this.id = id;
    this.accessUrl = accessUrl;
  }

  wait(kind, match = {}, { after = 0, timeoutMs = 5000 } = {}) {
    const q = new URLSearchParams({ kind, match: JSON.stringify(match), after: String(after), timeout_ms: String(timeoutMs) });
    return this.harness.control('GET', `/sessions/${this.id}/wait?${q}`);
  }

  waitEvent(name, match = {}, options) {
    return this.wait('event', { name, ...match }, options);
  }

  snapshot() {
    return this.harness.control('GET', `/sessions/${this.id}`);
  }

  async entries(kind) {
    const snap = await this.snapshot();
    return snap.log.filter((e) => !kind || e.kind === kind);
  }

  hangupCaller() {
    return this.harness.control('POST', `/sessions/${this.id}/hangup_caller`);
  }

  hangupLeg(ref) {
    return this.harness.control('POST', `/sessions/${this.id}/legs/${encodeURIComponent(ref)}/hangup`);
  }

  async send(body, headers = {}) {
    const res = await fetch(this.accessUrl, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  }
}

/**
 * A stand-in for the Switchboard backend. Routes are 'METHOD /path-regex';
 * handlers return {status, json} or a promise of it. Every request is kept.
 */
class FakeBackend {
  constructor() {
    this.requests = [];
    this.waiters = [];
    this.routes = [];
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  stop() {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(resolve));
  }

  route(method, pattern, handler) {
    this.routes.unshift({ method, pattern, handler });
  }

  handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = text;
      }
      const record = { method: req.method, path: req.url, headers: req.headers, body };
      this.requests.push(record);
      this.waiters = this.waiters.filter((w) => !w.test(record) || (w.resolve(record), false));
      const route = this.routes.find((r) => r.method === req.method && r.pattern.test(req.url));
      const reply = route ? await route.handler(record) : { status: 404, json: { error: 'no route' } };
      if (!reply) return; // the handler keeps the request hanging
      res.writeHead(reply.status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(reply.json ?? {}));
    });
  }

  /** Resolves with the first request (past or future) that passes `test`. */
  waitFor(test, timeoutMs = 5000) {
    const found = this.requests.find(test);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`backend request not seen within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ test, resolve: (r) => { clearTimeout(timer); resolve(r); } });
    });
  }

  events() {
    return this.requests.filter((r) => r.method === 'POST' && /\/events$/.test(r.path)).map((r) => r.body);
  }
}

module.exports = { EmulatorHarness, SessionProbe, FakeBackend, ROOT };
