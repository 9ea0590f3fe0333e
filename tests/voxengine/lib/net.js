'use strict';
// Net.httpRequest / Net.httpRequestAsync with the platform's limits:
// 3 requests in flight, 35 in flight plus queued, 6 s connect and 90 s total
// timeouts that can only be lowered, results that always resolve.

const http = require('node:http');
const https = require('node:https');

const MAX_ACTIVE = 3;
const MAX_PENDING = 35;
const CONNECT_TIMEOUT_S = 6;
const TOTAL_TIMEOUT_S = 90;
const MAX_BODY_BYTES = 2 * 1024 * 1024;
const MAX_REDIRECTS = 5;
const LIMIT_MESSAGE = 'Exceeded the HTTP connection count limit!';

const CODES = {
  limits: 0, unknown: -1, badUrl: -2, hostNotFound: -3, connection: -4,
  redirects: -5, network: -6, timeout: -7, internal: -8, tooLarge: -9,
};

// Only `code` is always there (the typings mark every other field optional):
// a failure carries `code` and `error`, a response has no `error`.
function failure(code, error) {
  return { code, error };
}

function errorCode(err) {
  switch (err.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return CODES.hostNotFound;
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return CODES.connection;
    case 'VOX_TIMEOUT':
      return CODES.timeout;
    default:
      return CODES.network;
  }
}

/** Headers come as an object, or (typings ≤ 3.0.0) as ["Name: value"] lines. */
function normaliseHeaders(headers) {
  const out = { 'User-Agent': 'VoxEngine/1.0' };
  if (Array.isArray(headers)) {
    for (const line of headers) {
      const at = String(line).indexOf(':');
      if (at > 0) out[String(line).slice(0, at).trim()] = String(line).slice(at + 1).trim();
    }
  } else if (headers && typeof headers === 'object') {
    for (const [key, value] of Object.entries(headers)) out[key] = String(value);
  }
  return out;
}

function buildBody(postData) {
  if (postData === undefined || postData === null) return null;
  if (Array.isArray(postData)) return Buffer.from(postData);
  return Buffer.from(String(postData), 'utf8');
}

function clampSeconds(value, max) {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? Math.min(n, max) : max;
}

/** Performs one HTTP exchange; resolves with a platform-shaped result. */
function perform(url, options, redirects = 0) {
  let target;
  try {
    target = new URL(url);
    if (options.params && typeof options.params === 'object') {
      for (const [key, value] of Object.entries(options.params)) target.searchParams.append(key, String(value));
    }
  } catch {
    return Promise.resolve(failure(CODES.badUrl, `Malformed URL: ${url}`));
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    return Promise.resolve(failure(CODES.badUrl, `Unsupported scheme: ${target.protocol}`));
  }
  const method = String(options.method || 'GET').toUpperCase();
  const body = buildBody(options.postData);
  const headers = normaliseHeaders(options.headers);
  if (body) headers['Content-Length'] = String(body.length);
  const totalMs = clampSeconds(options.timeout, TOTAL_TIMEOUT_S) * 1000;
  const connectMs = clampSeconds(options.connectionTimeout, CONNECT_TIMEOUT_S) * 1000;
  const lib = target.protocol === 'https:' ? https : http;

  return new Promise((resolve) => {
    let settled = false;
    const timers = [];
    const done = (result) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      resolve(result);
    };
    const req = lib.request(target, { method, headers, agent: false, signal: options.signal });
    const abort = (message) => {
      const err = new Error(message);
      err.code = 'VOX_TIMEOUT';
      req.destroy(err);
    };
    timers.push(setTimeout(() => abort('Request timeout'), totalMs));
    req.on('socket', (socket) => {
      if (socket.connecting) {
        const t = setTimeout(() => abort('Connection timeout'), connectMs);
        timers.push(t);
        socket.once('connect', () => clearTimeout(t));
      }
    });
    req.on('error', (err) => done(failure(errorCode(err), err.message)));
    req.on('response', (res) => {
      if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
        res.resume();
        if (redirects >= MAX_REDIRECTS) {
          done(failure(CODES.redirects, 'Too many redirects'));
          return;
        }
        const next = new URL(res.headers.location, target).toString();
        const keep = res.statusCode === 307 || res.statusCode === 308;
        const nextOptions = keep ? options : { ...options, method: 'GET', postData: undefined };
        perform(next, nextOptions, redirects + 1).then(done);
        return;
      }
      const chunks = [];
      let size = 0;
      res.on('data', (chunk) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          res.destroy();
          done(failure(CODES.tooLarge, 'Response is larger than 2 MB'));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (err) => done(failure(errorCode(err), err.message)));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const list = [];
        const lines = [`HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage}`];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          list.push({ key: res.rawHeaders[i], value: res.rawHeaders[i + 1] });
          lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
        }
        const result = {
          code: res.statusCode,
          headers: list,
          raw_headers: `${lines.join('\r\n')}\r\n`,
        };
        if (options.rawOutput) result.data = [...raw];
        else result.text = raw.toString('utf8');
        done(result);
      });
    });
    if (body) req.write(body);
    req.end();
  });
}

function describeBody(postData) {
  if (postData === undefined || postData === null) return null;
  if (Array.isArray(postData)) return `<${postData.length} bytes>`;
  try {
    return JSON.parse(String(postData));
  } catch {
    return String(postData);
  }
}

class Net {
  constructor(session) {
    this.session = session;
    this.active = 0;
    this.queue = [];
    this.counter = 0;
    this.idleWaiters = [];
    this.aborter = new AbortController();
  }

  /** Drops everything at once: the emulator is shutting down. */
  abortAll() {
    this.queue.splice(0);
    this.aborter.abort();
  }

  get pending() {
    return this.active + this.queue.length;
  }

  /** The `Net` global handed to the scenario. */
  api() {
    const net = this;
    return {
      httpRequestAsync(url, options) {
        let resolve;
        const promise = new net.session.realm.Promise((fn) => { resolve = fn; });
        // Outside the executor, so the limit error throws instead of rejecting.
        net.submit(url, options || {}, (result) => net.session.invoke('Net.httpRequestAsync', resolve, null, [result]));
        return promise;
      },
      httpRequest(url, callback, options) {
        if (typeof callback !== 'function') throw new TypeError('Net.httpRequest needs a callback function');
        net.submit(url, options || {}, (result) => net.session.invoke('Net.httpRequest callback', callback, null, [result]));
      },
      HttpRequestOptions: function HttpRequestOptions() {},
    };
  }

  submit(url, options, deliver) {
    const session = this.session;
    this.counter += 1;
    const job = { id: this.counter, url: String(url), options, deliver };
    if (!session.mayStartHttp(job)) return;
    if (this.pending >= MAX_PENDING) {
      session.violation('http_limit', { url: job.url, pending: this.pending });
      throw new session.realm.Error(LIMIT_MESSAGE);
    }
    this.queue.push(job);
    session.log('http_queued', { req: job.id, url: job.url, active: this.active, queued: this.queue.length });
    this.pump();
  }

  pump() {
    while (this.active < MAX_ACTIVE && this.queue.length) this.start(this.queue.shift());
  }

  start(job) {
    const session = this.session;
    const { options } = job;
    this.active += 1;
    const began = Date.now();
    session.log('http_request', {
      req: job.id,
      method: String(options.method || 'GET').toUpperCase(),
      url: job.url,
      headers: normaliseHeaders(options.headers),
      body: describeBody(options.postData),
    });
    perform(job.url, { ...options, signal: this.aborter.signal }).then((result) => {
      this.active -= 1;
      session.log('http_response', {
        req: job.id,
        url: job.url,
        code: result.code,
        body: describeBody(result.text),
        error: result.error,
        ms: Date.now() - began,
      });
      if (session.phase !== 'terminated') job.deliver(session.toRealm(result));
      this.pump();
      if (this.active === 0) this.idleWaiters.splice(0).forEach((fn) => fn());
    });
  }

  /** Requests not yet started are dropped silently when the session ends. */
  dropQueued() {
    for (const job of this.queue.splice(0)) this.session.log('http_dropped', { req: job.id, url: job.url });
  }

  whenIdle(fn) {
    if (this.active === 0) fn();
    else this.idleWaiters.push(fn);
  }
}

module.exports = { Net, perform, CODES, LIMIT_MESSAGE, MAX_ACTIVE, MAX_PENDING };
