'use strict';
// Who hears whom. Each leg (and each recogniser) receives exactly one stream
// (.hearing); a new playback, TTS or sendMediaTo replaces the previous one.
// A call may send its audio to any number of units.

class MediaGraph {
  constructor(session) {
    this.session = session;
  }

  check(from, to, what) {
    if (!from.alive || !to.alive) {
      this.session.violation('media_with_ended_call', { what, from: from.id, to: to.id });
      return false;
    }
    return true;
  }

  sendMediaTo(from, to) {
    if (!this.check(from, to, 'sendMediaTo')) return;
    if (to.inputs) {
      // A conference takes any number of streams and mixes them.
      to.inputs.add(from.id);
    } else {
      to.setHearing({ kind: from.inputs ? 'conference' : 'call', from: from.id });
    }
    this.session.log('media', { from: from.id, to: to.id });
  }

  stopMediaTo(from, to) {
    if (to.inputs) {
      if (to.inputs.delete(from.id)) this.session.log('media_stopped', { from: from.id, to: to.id });
      return;
    }
    if (to.hearing && ['call', 'conference'].includes(to.hearing.kind) && to.hearing.from === from.id) {
      to.hearing = null;
      this.session.log('media_stopped', { from: from.id, to: to.id });
    }
  }

  sendMediaBetween(a, b) {
    if (!this.check(a, b, 'sendMediaBetween')) return;
    if (a.inputs || b.inputs) {
      this.sendMediaTo(a, b);
      this.sendMediaTo(b, a);
    } else {
      a.setHearing({ kind: 'call', from: b.id });
      b.setHearing({ kind: 'call', from: a.id });
    }
    this.session.log('bridged', { legs: [a.id, b.id] });
  }

  stopMediaBetween(a, b) {
    this.stopMediaTo(a, b);
    this.stopMediaTo(b, a);
    this.session.log('unbridged', { legs: [a.id, b.id] });
  }

  /** Called before a leg's hearing is replaced: nothing to undo for calls. */
  clearSenderTo(leg) {
    if (leg.hearing && ['call', 'conference'].includes(leg.hearing.kind)) leg.hearing = null;
  }

  /**
   * Whose voices reach this leg now (ids of the units): the one call it hears, or every unit
   * sending to the conference it hears but itself (a conference never sends a leg its own
   * voice). The snapshot's `legs[].hears`, for tests of who hears whom.
   */
  hears(leg) {
    const h = leg.hearing;
    if (!h) return [];
    if (h.kind === 'call') return [h.from];
    if (h.kind !== 'conference') return [];
    const conference = this.session.conferences.find((c) => c.id === h.from);
    if (!conference || !conference.alive) return [];
    return [...conference.inputs].filter((id) => id !== leg.id).sort();
  }

  /** A leg ended: whoever heard it now hears silence. */
  detach(leg) {
    for (const conference of this.session.conferences) {
      if (conference.inputs.delete(leg.id)) this.session.log('left_conference', { leg: leg.id, conference: conference.id });
    }
    for (const other of [...this.session.legs, ...this.session.asrs]) {
      if (other !== leg && other.hearing && other.hearing.kind === 'call' && other.hearing.from === leg.id) {
        other.hearing = null;
        this.session.log('unbridged', { legs: [leg.id, other.id], reason: 'call_ended' });
      }
    }
    leg.hearing = null;
  }
}

module.exports = { MediaGraph };
