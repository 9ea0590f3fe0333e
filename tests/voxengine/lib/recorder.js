'use strict';
// Recording a unit's audio to its own file (require(Modules.Recorder)), as
// voximplant.com/docs/references/voxengine/recorderevents and the typings
// describe it: VoxEngine.createRecorder(params) gives a Recorder, a media unit
// that a call sends its audio to (call.sendMediaTo(recorder)); it fires
// RecorderEvents.Started {url} once it records, and Stopped {cost, duration}
// after recorder.stop(). A session that terminates stops it silently.

const { Listeners } = require('./listeners');
const { strict } = require('./strict');

const RecorderEvents = Object.freeze({
  RecorderError: 'Recorder.Error',
  Started: 'Recorder.Started',
  Stopped: 'Recorder.Stopped',
});

let recorderCounter = 0;

class Recorder {
  constructor(session, params) {
    recorderCounter += 1;
    this.session = session;
    this.id = `recorder-${recorderCounter}`;
    this.params = params || {};
    this.state = 'running'; // running | stopped
    this.url = null;
    this.startedAt = null;
    this.hearing = null;
    this.listeners = new Listeners();
    this.facade = strict(this.buildFacade(), 'Recorder');
  }

  get alive() {
    return this.state === 'running';
  }

  summary() {
    return { id: this.id, state: this.state, url: this.url, hearing: this.hearing };
  }

  /** The first stream it receives starts the file (and Started with its URL). */
  setHearing(source) {
    this.hearing = source;
    if (this.url === null) {
      this.url = `${this.session.emulator.recordBaseUrl}/records/${this.session.hexId}/${this.id}.mp3`;
      this.startedAt = Date.now();
      this.session.log('recorder_started', { recorder: this.id, url: this.url, from: source.from });
      setImmediate(() => this.emit(RecorderEvents.Started, { url: this.url }));
    }
  }

  emit(name, extra = {}) {
    this.session.dispatch(this.listeners, name, { recorder: this.facade, name, ...extra }, { recorder: this.id });
  }

  stop({ silent = false } = {}) {
    if (!this.alive) return;
    this.state = 'stopped';
    this.hearing = null;
    const duration = this.startedAt === null ? 0 : Math.round((Date.now() - this.startedAt) / 1000);
    this.session.log('recorder_stopped', { recorder: this.id, url: this.url, duration, silent });
    if (!silent) setImmediate(() => this.emit(RecorderEvents.Stopped, { cost: '0.0000', duration, url: this.url }));
  }

  buildFacade() {
    const recorder = this;
    return {
      addEventListener(name, handler) {
        recorder.listeners.add(name, handler, 'Recorder');
      },
      removeEventListener(name, handler) {
        recorder.listeners.remove(name, handler);
      },
      stop: () => recorder.stop(),
      id: () => recorder.id,
    };
  }
}

module.exports = { Recorder, RecorderEvents };
