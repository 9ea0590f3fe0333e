'use strict';
// Scripted behaviour of the parties that outgoing legs reach (operators,
// SIP phones, PSTN numbers). A test sets a standing behaviour per address,
// or queues one-shot behaviours ({once: true}) that are used first.

const RINGING_AFTER_MS = 10;
const DEFAULT_RING_TIMEOUT_S = 60;

const ACTIONS = new Set(['answer', 'busy', 'decline', 'no_answer', 'fail']);

const FAILURES = {
  busy: { code: 486, reason: 'Busy Here' },
  decline: { code: 603, reason: 'Decline' },
  480: { code: 480, reason: 'Temporarily Unavailable' },
  408: { code: 408, reason: 'Request Timeout' },
};

function validate(behaviour) {
  if (!behaviour || typeof behaviour !== 'object') throw new Error('behaviour must be an object');
  if (!ACTIONS.has(behaviour.action)) {
    throw new Error(`action must be one of ${[...ACTIONS].join(', ')}`);
  }
  for (const key of ['after_ms', 'hangup_after_ms']) {
    if (behaviour[key] !== undefined && behaviour[key] !== null && !(Number(behaviour[key]) >= 0)) {
      throw new Error(`${key} must be a non-negative number`);
    }
  }
  if (behaviour.action === 'no_answer' && behaviour.code !== undefined && ![408, 480].includes(behaviour.code)) {
    throw new Error('no_answer code must be 408 or 480');
  }
  if (behaviour.action === 'fail' && !(behaviour.code >= 300 && behaviour.code < 700)) {
    throw new Error('fail needs a SIP code between 300 and 699');
  }
}

/** VI-CallTimeout (10..400 s) bounds ringing for callUser; 60 s otherwise. */
function ringTimeoutSeconds(headers) {
  const raw = headers && headers['VI-CallTimeout'];
  const n = Number(raw);
  if (raw === undefined || !Number.isFinite(n)) return DEFAULT_RING_TIMEOUT_S;
  return Math.min(400, Math.max(10, n));
}

class Callees {
  constructor() {
    this.standing = new Map();
    this.oneShots = new Map();
  }

  set(address, behaviour) {
    if (typeof address !== 'string' || !address) throw new Error('address is required');
    validate(behaviour);
    const clean = { ...behaviour };
    delete clean.address;
    if (behaviour.once) {
      if (!this.oneShots.has(address)) this.oneShots.set(address, []);
      this.oneShots.get(address).push(clean);
    } else {
      this.standing.set(address, clean);
    }
  }

  reset() {
    this.standing.clear();
    this.oneShots.clear();
  }

  take(address) {
    const queue = this.oneShots.get(address);
    if (queue && queue.length) return queue.shift();
    return this.standing.get(address) || { action: 'no_answer' };
  }

  /** Plays out an outgoing leg: ringing, then the scripted outcome. */
  drive(leg, ringTimeoutMs) {
    const behaviour = this.take(leg.address);
    const session = leg.session;
    session.log('callee_behaviour', { leg: leg.id, address: leg.address, behaviour, ring_timeout_ms: ringTimeoutMs });
    const afterMs = Math.max(RINGING_AFTER_MS + 1, Number(behaviour.after_ms) || 0);
    const stillRinging = () => leg.state === 'PROGRESSING';
    const fail = (failure) => {
      if (stillRinging()) leg.end('failed', failure, { by: 'callee' });
    };

    leg.after(RINGING_AFTER_MS, () => {
      if (!stillRinging()) return;
      session.log('ringing', { leg: leg.id });
      leg.emit('Call.Ringing');
    });
    leg.after(ringTimeoutMs, () => fail(FAILURES[408]));

    switch (behaviour.action) {
      case 'answer':
        leg.after(afterMs, () => {
          if (!stillRinging()) return;
          leg.connect(behaviour.custom_data ? { customData: String(behaviour.custom_data) } : {});
          if (behaviour.hangup_after_ms !== undefined && behaviour.hangup_after_ms !== null) {
            leg.after(Number(behaviour.hangup_after_ms), () => leg.remoteHangup('callee'));
          }
        });
        break;
      case 'busy':
      case 'decline':
        leg.after(afterMs, () => fail(FAILURES[behaviour.action]));
        break;
      case 'no_answer':
        // Without after_ms the callee just rings until the ring timeout.
        if (behaviour.after_ms !== undefined && behaviour.after_ms !== null) {
          leg.after(afterMs, () => fail(FAILURES[behaviour.code || 480]));
        }
        break;
      case 'fail':
        leg.after(afterMs, () => fail({ code: behaviour.code, reason: behaviour.reason || 'Failed' }));
        break;
      default:
        throw new Error(`unknown action ${behaviour.action}`);
    }
  }
}

module.exports = { Callees, ringTimeoutSeconds, validate };
