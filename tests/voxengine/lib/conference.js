'use strict';
// Audio conferences (require(Modules.Conference)): VoxEngine.createConference({hd_audio?}).
// As the reference describes it (voximplant.com/docs/references/voxengine/conference and
// .../voxengine/createconference): a conference mixes every unit that sends media to it,
// and every unit it sends media to hears that mix; media is attached with
// call.sendMediaTo(conf) / conf.sendMediaTo(call) or VoxEngine.sendMediaBetween(call, conf).
// A participant that leaves is dropped from the mix; the conference is not stopped by
// itself. Conference.add() (video conferences, which need the rule's "video conference"
// flag) and ConferenceEvents are not modelled: reading them throws.

const { strict } = require('./strict');

let conferenceCounter = 0;

class Conference {
  constructor(session, params) {
    conferenceCounter += 1;
    this.session = session;
    this.id = `conf-${conferenceCounter}`;
    this.hdAudio = Boolean(params && params.hd_audio);
    this.state = 'running'; // running | stopped
    this.inputs = new Set(); // ids of the units whose media it mixes
    this.facade = strict(this.buildFacade(), 'Conference');
  }

  get alive() {
    return this.state === 'running';
  }

  summary() {
    return { id: this.id, hd_audio: this.hdAudio, state: this.state, inputs: [...this.inputs] };
  }

  stop() {
    if (!this.alive) return;
    this.state = 'stopped';
    this.inputs.clear();
    for (const leg of this.session.legs) {
      if (leg.hearing && leg.hearing.kind === 'conference' && leg.hearing.from === this.id) leg.hearing = null;
    }
    this.session.log('conference_stopped', { conference: this.id });
  }

  buildFacade() {
    const session = this.session;
    return {
      id: () => this.id,
      sendMediaTo: (unit) => session.media.sendMediaTo(this, session.unitOf(unit)),
      stopMediaTo: (unit) => session.media.stopMediaTo(this, session.unitOf(unit)),
      stop: () => this.stop(),
    };
  }
}

function createConference(session, Modules, params) {
  if (!session.modules.has(Modules.Conference)) {
    throw new session.realm.Error('VoxEngine.createConference needs require(Modules.Conference) first');
  }
  if (params !== undefined && (params === null || typeof params !== 'object')) {
    throw new TypeError('createConference: give ConferenceParameters, e.g. {hd_audio: false}');
  }
  const conference = new Conference(session, params);
  session.conferences.push(conference);
  session.log('conference_created', { conference: conference.id, hd_audio: conference.hdAudio });
  return conference.facade;
}

module.exports = { Conference, createConference };
