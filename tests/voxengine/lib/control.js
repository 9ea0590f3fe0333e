'use strict';
// The control API tests drive the emulator with (JSON over HTTP):
//   POST /calls                          place an inbound call -> {session_id, access_url}
//   POST /scenarios {scenarios, script_custom_data}  start a session as StartScenarios does
//                                        (Started, no CallAlerting) -> {session_id, media_session_access_url, ...}
//   POST /callees, DELETE /callees       script how dialled addresses behave
//   GET  /sessions, GET /sessions/{id}   session log, phase and legs
//   GET  /sessions/{id}/wait?kind=&match=&after=&timeout_ms=   long-poll for a log entry
//   POST /sessions/{id}/hangup_caller    the caller hangs up
//   POST /sessions/{id}/legs/{leg}/hangup  a leg's remote party hangs up (leg id or address)
//   POST /sessions/{id}/say {text, confidence?, leg?}   the caller (or a leg's party) speaks
//   POST /sessions/{id}/press {digits, type?, leg?}     the caller (or a leg's party) presses keys
//   POST /sessions/{id}/asr_error {error, asr?}         a recogniser reports an error
//   POST /sessions/{id}/legs/{leg}/event {name, ...}    the platform fires a CallEvents event on a leg

const http = require('node:http');
const { CallEvents } = require('./events');
const { readBody, sendJson } = require('./http-util');

const CALL_EVENT_STRINGS = new Set(Object.values(CallEvents));

const MAX_WAIT_MS = 120 * 1000;

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function parseJson(text) {
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
}

function createControlServer(emulator) {
  const session = (id) => {
    const found = emulator.sessions.get(id);
    if (!found) throw new HttpError(404, `no session ${id}`);
    return found;
  };

  /** The connected party that speaks or presses keys: the caller unless `ref` names a leg. */
  const party = (s, ref) => {
    const leg = ref ? s.findLeg(String(ref)) : s.caller;
    if (!leg) throw new HttpError(404, `no leg ${ref || 'caller'}`);
    if (leg.state !== 'CONNECTED') throw new HttpError(409, `leg ${leg.id} is not connected (${leg.state})`);
    return leg;
  };

  const routes = [
    ['GET', /^\/health$/, () => ({ ok: true })],
    ['POST', /^\/calls$/, async (req, body) => emulator.placeCall(parseJson(body))],
    ['POST', /^\/scenarios$/, async (req, body) => emulator.startScenarios(parseJson(body))],
    ['POST', /^\/callees$/, async (req, body) => {
      const spec = parseJson(body);
      try {
        emulator.callees.set(spec.address, spec);
      } catch (err) {
        throw new HttpError(400, err.message);
      }
      return { ok: true };
    }],
    ['DELETE', /^\/callees$/, () => {
      emulator.callees.reset();
      return { ok: true };
    }],
    ['GET', /^\/sessions$/, () => [...emulator.sessions.values()].map((s) => ({ session_id: s.id, phase: s.phase }))],
    ['GET', /^\/sessions\/([^/]+)$/, (req, body, [id]) => session(id).snapshot()],
    ['GET', /^\/sessions\/([^/]+)\/wait$/, async (req, body, [id], query) => {
      const s = session(id);
      let match = {};
      if (query.get('match')) {
        match = parseJson(query.get('match'));
        if (!match || typeof match !== 'object') throw new HttpError(400, 'match must be a JSON object');
      }
      const timeoutMs = Math.min(MAX_WAIT_MS, Number(query.get('timeout_ms')) || 10000);
      const entry = await s.waitFor({
        kind: query.get('kind') || undefined,
        match,
        after: Number(query.get('after')) || 0,
        timeoutMs,
      });
      if (!entry) {
        throw Object.assign(new HttpError(408, `no ${query.get('kind') || 'entry'} matching ${JSON.stringify(match)} within ${timeoutMs} ms`), {
          extra: { phase: s.phase, last: s.entries.slice(-15) },
        });
      }
      return entry;
    }],
    ['POST', /^\/sessions\/([^/]+)\/hangup_caller$/, (req, body, [id]) => {
      const s = session(id);
      if (!s.caller || !s.caller.alive) throw new HttpError(409, 'the caller is not on the line');
      s.log('remote_hangup', { leg: s.caller.id, by: 'caller' });
      s.caller.remoteHangup('caller');
      return { ok: true, leg: s.caller.id };
    }],
    ['POST', /^\/sessions\/([^/]+)\/legs\/([^/]+)\/hangup$/, (req, body, [id, ref]) => {
      const s = session(id);
      const leg = s.findLeg(decodeURIComponent(ref));
      if (!leg) throw new HttpError(404, `no leg ${ref}`);
      if (!leg.alive) throw new HttpError(409, `leg ${leg.id} has already ended`);
      s.log('remote_hangup', { leg: leg.id, by: leg.direction === 'in' ? 'caller' : 'callee' });
      leg.remoteHangup(leg.direction === 'in' ? 'caller' : 'callee');
      return { ok: true, leg: leg.id };
    }],
    ['POST', /^\/sessions\/([^/]+)\/say$/, (req, body, [id]) => {
      const s = session(id);
      const spec = parseJson(body);
      if (typeof spec.text !== 'string' || !spec.text.trim()) throw new HttpError(400, 'text is required');
      const confidence = spec.confidence === undefined ? 0.92 : Number(spec.confidence);
      if (!Number.isFinite(confidence) || confidence < 0 || confidence > 100) throw new HttpError(400, 'confidence must be 0..1 or 0..100');
      const leg = party(s, spec.leg);
      return { ok: true, leg: leg.id, heard_by: s.speak(leg, spec.text, confidence) };
    }],
    ['POST', /^\/sessions\/([^/]+)\/press$/, (req, body, [id]) => {
      const s = session(id);
      const spec = parseJson(body);
      const digits = String(spec.digits === undefined ? '' : spec.digits);
      if (!/^[0-9*#]+$/.test(digits)) throw new HttpError(400, 'digits must be 0-9, * or #');
      const type = spec.type === undefined ? 1 : Number(spec.type);
      if (![1, 2, 3].includes(type)) throw new HttpError(400, 'type is 1 (RFC 2833), 2 (in-band) or 3 (SIP INFO)');
      const leg = party(s, spec.leg);
      return { ok: true, leg: leg.id, delivered: leg.press(digits, type).join('') };
    }],
    ['POST', /^\/sessions\/([^/]+)\/legs\/([^/]+)\/event$/, (req, body, [id, ref]) => {
      const s = session(id);
      const spec = parseJson(body);
      const leg = s.findLeg(decodeURIComponent(ref));
      if (!leg) throw new HttpError(404, `no leg ${ref}`);
      if (!leg.alive) throw new HttpError(409, `leg ${leg.id} has already ended`);
      if (!CALL_EVENT_STRINGS.has(spec.name)) throw new HttpError(400, `name must be a CallEvents value, got ${spec.name}`);
      const { name, ...fields } = spec;
      s.log('platform_event', { leg: leg.id, name, ...fields });
      leg.emitLater(name, fields);
      return { ok: true, leg: leg.id, name };
    }],
    ['POST', /^\/sessions\/([^/]+)\/asr_error$/, (req, body, [id]) => {
      const s = session(id);
      const spec = parseJson(body);
      const targets = s.asrs.filter((a) => a.alive && (!spec.asr || a.id === spec.asr));
      const failed = targets.filter((a) => a.error(spec.error || 'Recognition failed')).map((a) => a.id);
      return { ok: true, asrs: failed };
    }],
  ];

  return http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://control.invalid');
    try {
      const body = await readBody(req);
      for (const [method, pattern, handler] of routes) {
        const m = pattern.exec(url.pathname);
        if (!m) continue;
        if (req.method !== method) continue;
        const result = await handler(req, body, m.slice(1), url.searchParams);
        sendJson(res, 200, result);
        return;
      }
      throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
    } catch (err) {
      const status = err.status || 500;
      if (status === 500) process.stderr.write(`control API error: ${err.stack}\n`);
      sendJson(res, status, { error: err.message, ...(err.extra || {}) });
    }
  });
}

module.exports = { createControlServer, HttpError };
