'use strict';
// Serves the sessions' access URLs: a request fires AppEvents.HttpRequest
// and the handler's return value becomes the reply body.

const http = require('node:http');
const { AppEvents } = require('./events');
const { readBody, send, sendJson } = require('./http-util');

function parseBody(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Strings and numbers go out raw; anything else as JSON (platform rule). */
function encodeReply(value) {
  if (value === undefined) return { body: '', type: 'text/plain; charset=utf-8' };
  if (typeof value === 'string' || typeof value === 'number') {
    return { body: String(value), type: 'text/plain; charset=utf-8' };
  }
  return { body: JSON.stringify(value) ?? '', type: 'application/json' };
}

function createAccessServer(emulator) {
  return http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://access.invalid');
    const [, prefix, hexId, token] = url.pathname.split('/');
    const session = prefix === 'request' ? emulator.sessionsByHex.get(hexId) : undefined;
    let content;
    try {
      content = await readBody(req);
    } catch (err) {
      sendJson(res, err.status || 400, { error: err.message });
      return;
    }
    if (!session || session.token !== token || session.phase !== 'running') {
      if (session && session.token === token) {
        session.log('access_request', { method: req.method, path: url.pathname, body: parseBody(content), status: 404, phase: session.phase });
      }
      sendJson(res, 404, { error: 'No such media session' });
      return;
    }
    // Only X- headers reach the scenario, as a list of {key, value}.
    const headers = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (/^x-/i.test(req.rawHeaders[i])) headers.push({ key: req.rawHeaders[i], value: req.rawHeaders[i + 1] });
    }
    const errorsBefore = session.entries.filter((e) => e.kind === 'error').length;
    const reply = session.dispatch(session.appListeners, AppEvents.HttpRequest, session.toRealm({
      name: AppEvents.HttpRequest,
      method: req.method,
      path: url.pathname + url.search,
      content,
      headers,
    }));
    const failed = session.entries.filter((e) => e.kind === 'error').length > errorsBefore;
    if (reply && typeof reply.then === 'function') {
      session.violation('http_handler_returned_promise', { path: url.pathname });
    }
    const { body, type } = encodeReply(reply);
    const status = failed ? 500 : 200;
    session.log('access_request', { method: req.method, path: url.pathname, body: parseBody(content), status, reply: parseBody(body) });
    send(res, status, body, type);
  });
}

module.exports = { createAccessServer, encodeReply };
