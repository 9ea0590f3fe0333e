'use strict';
// Wraps an API object so that reading a member the emulator does not model
// throws instead of quietly yielding undefined (catches typos such as
// VoxEngine.callUsr or CallEvents.Conected in scenarios under test).

// Keys that generic machinery probes (promise resolution, JSON, inspection).
const PROBED = new Set(['then', 'toJSON', 'constructor', 'inspect', 'valueOf', 'toString']);

function strict(target, label) {
  return new Proxy(target, {
    get(obj, key, receiver) {
      if (typeof key === 'symbol' || key in obj || PROBED.has(key)) {
        return Reflect.get(obj, key, receiver);
      }
      throw new TypeError(`${label}.${key} is not modelled by the VoxEngine emulator`);
    },
  });
}

module.exports = { strict };
