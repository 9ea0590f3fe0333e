#!/usr/bin/env node
'use strict';
// VoxEngine emulator: runs cloud scenarios unmodified, one vm context per
// call, with real HTTP for Net and for the sessions' access URLs, and a
// control API for tests. See README.md beside this file.
//
//   node tests/voxengine/emulator.js --port 0 [--rules cloud_scripts/rules.config.json]
//     [--idle-timeout-ms 60000] [--alerting-timeout-ms 60000] [--say-ms-per-word 50]
//     [--playback-ms 3000] [--secure-access-scheme https|http] [--verbose]
// Prints {"control_url": ..., "access_url": ...} as one JSON line once listening.

const fs = require('node:fs');
const path = require('node:path');

const { Callees } = require('./lib/callees');
const { Session } = require('./lib/session');
const { createAccessServer } = require('./lib/access');
const { createControlServer, HttpError } = require('./lib/control');
const { listen } = require('./lib/http-util');
const { VOICE_SCHEME, VIDEO_SCHEME, schemeHasVideo } = require('./lib/scheme');

const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  accessPort: 0,
  idleTimeoutMs: 60 * 1000,
  alertingTimeoutMs: 60 * 1000,
  sayMsPerWord: 50,
  playbackMs: 3000,
  connectDelayMs: 5,
  hardCallbackLimitMs: 5000,
  secureAccessScheme: 'https',
  replacedPlaybackFinishes: false,
  dropPlaybackFinished: false,
  rules: null,
  verbose: false,
  keepEndedSessions: 500,
};

// Per-call overrides a test may pass in POST /calls {"options": {...}}.
const SESSION_OPTIONS = {
  idle_timeout_ms: 'idleTimeoutMs',
  alerting_timeout_ms: 'alertingTimeoutMs',
  say_ms_per_word: 'sayMsPerWord',
  playback_ms: 'playbackMs',
  connect_delay_ms: 'connectDelayMs',
  hard_callback_limit_ms: 'hardCallbackLimitMs',
  replaced_playback_finishes: 'replacedPlaybackFinishes',
  drop_playback_finished: 'dropPlaybackFinished',
};

class Emulator {
  constructor(options = {}) {
    this.options = { ...DEFAULTS, ...options };
    this.callees = new Callees();
    this.sessions = new Map();
    this.sessionsByHex = new Map();
    this.ended = [];
    this.sessionIdBase = 3000000000 + Math.floor(Math.random() * 1000000) * 1000;
    this.domain = 'switchboard.emulator.voximplant.com';
    this.rules = this.options.rules ? this.loadRules(this.options.rules) : null;
  }

  async start() {
    this.accessServer = createAccessServer(this);
    this.controlServer = createControlServer(this);
    const accessPort = await listen(this.accessServer, this.options.host, this.options.accessPort);
    const controlPort = await listen(this.controlServer, this.options.host, this.options.port);
    this.accessBaseUrl = `http://${this.options.host}:${accessPort}`;
    this.controlBaseUrl = `http://${this.options.host}:${controlPort}`;
    this.recordBaseUrl = this.accessBaseUrl;
    return { control_url: this.controlBaseUrl, access_url: this.accessBaseUrl };
  }

  async stop() {
    for (const session of this.sessions.values()) session.kill();
    await Promise.all([this.accessServer, this.controlServer].map((server) => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    })));
  }

  schemeFor(video) {
    return video ? VIDEO_SCHEME : VOICE_SCHEME;
  }

  // ---- rules (voxengine-ci rules.config.json: [{ruleName, scenarios, rulePattern}]) ----

  loadRules(file) {
    const rules = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (!Array.isArray(rules)) throw new Error(`${file}: expected a list of rules`);
    return { dir: path.dirname(path.resolve(file)), rules };
  }

  scenarioFiles(spec) {
    if (Array.isArray(spec.scenarios) && spec.scenarios.length) return spec.scenarios.map(String);
    if (!this.rules) throw new HttpError(400, 'give "scenarios" (file paths), or start the emulator with --rules');
    const rule = spec.rule
      ? this.rules.rules.find((r) => r.ruleName === spec.rule)
      : this.rules.rules.find((r) => new RegExp(`^(?:${r.rulePattern || '.*'})$`).test(String(spec.destination || '')));
    if (!rule) throw new HttpError(400, `no rule ${spec.rule ? `named ${spec.rule}` : `matches ${spec.destination}`}`);
    const dirs = [spec.scenario_dir, this.rules.dir].filter(Boolean);
    return rule.scenarios.map((name) => {
      const found = dirs.map((d) => path.join(d, `${name}.voxengine.js`)).find((f) => fs.existsSync(f));
      if (!found) throw new HttpError(400, `scenario ${name} not found in ${dirs.join(', ')}`);
      return found;
    });
  }

  // ---- sessions ----

  /**
   * Like the Management API's StartScenarios: a session that runs the scenarios with
   * script_custom_data (VoxEngine.customData()), gets AppEvents.Started and no CallAlerting.
   * Answers as StartScenarios does, with the new session's access URLs.
   */
  startScenarios(spec) {
    if (!spec || typeof spec !== 'object') throw new HttpError(400, 'body must be a JSON object');
    const placed = this.placeCall({ ...spec, no_call: true });
    const session = this.sessions.get(placed.session_id);
    return {
      result: 1,
      session_id: placed.session_id,
      media_session_access_url: session.accessURL,
      media_session_access_secure_url: session.accessSecureURL,
    };
  }

  placeCall(spec) {
    if (!spec || typeof spec !== 'object') throw new HttpError(400, 'body must be a JSON object');
    const scripts = this.scenarioFiles(spec).map((file) => {
      try {
        return { name: path.basename(file), source: fs.readFileSync(file, 'utf8') };
      } catch (err) {
        throw new HttpError(400, `cannot read scenario ${file}: ${err.message}`);
      }
    });
    const options = { ...this.options };
    for (const [key, name] of Object.entries(SESSION_OPTIONS)) {
      if (spec.options && spec.options[key] !== undefined) {
        const value = spec.options[key];
        options[name] = typeof value === 'boolean' ? value : Number(value);
      }
    }
    const session = new Session(this, {
      scripts,
      script_custom_data: spec.script_custom_data,
      call: spec.no_call ? null : {
        callerid: String(spec.callerid || '+15550000001'),
        destination: String(spec.destination || '+15550000000'),
        display_name: String(spec.display_name || ''),
        headers: spec.headers || {},
        custom_data: spec.custom_data,
        video: Boolean(spec.video),
        scheme: spec.scheme,
        client_type: spec.client_type,
      },
    }, options);
    this.sessions.set(session.id, session);
    this.sessionsByHex.set(session.hexId, session);
    session.start();
    return { session_id: session.id, access_url: session.accessURL };
  }

  sessionEnded(session) {
    this.sessionsByHex.delete(session.hexId);
    this.ended.push(session.id);
    // Keep logs of ended sessions for inspection, up to a bound.
    while (this.ended.length > this.options.keepEndedSessions) this.sessions.delete(this.ended.shift());
  }
}

// ---- command line ----

function parseArgs(argv) {
  const options = {};
  const names = {
    '--host': ['host', String],
    '--port': ['port', Number],
    '--access-port': ['accessPort', Number],
    '--idle-timeout-ms': ['idleTimeoutMs', Number],
    '--alerting-timeout-ms': ['alertingTimeoutMs', Number],
    '--say-ms-per-word': ['sayMsPerWord', Number],
    '--playback-ms': ['playbackMs', Number],
    '--hard-callback-limit-ms': ['hardCallbackLimitMs', Number],
    '--secure-access-scheme': ['secureAccessScheme', String],
    '--rules': ['rules', String],
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--verbose') {
      options.verbose = true;
    } else if (names[arg] && i + 1 < argv.length) {
      const [key, convert] = names[arg];
      options[key] = convert(argv[i + 1]);
      i += 1;
    } else {
      throw new Error(`unknown or incomplete argument: ${arg}`);
    }
  }
  return options;
}

async function main() {
  const emulator = new Emulator(parseArgs(process.argv.slice(2)));
  const urls = await emulator.start();
  process.stdout.write(`${JSON.stringify(urls)}\n`);
  const stop = () => emulator.stop().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${err.stack || err}\n`);
    process.exit(1);
  });
}

module.exports = { Emulator, parseArgs, VOICE_SCHEME, VIDEO_SCHEME, schemeHasVideo };
