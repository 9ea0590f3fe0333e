'use strict';
// Event listener lists for VoxEngine and Call objects.

class Listeners {
  constructor() {
    this.byName = new Map();
  }

  add(name, handler, owner) {
    if (typeof name !== 'string' || !name) {
      throw new TypeError(`${owner}.addEventListener: event name must be a string, got ${String(name)}`);
    }
    // The platform aborts the scenario when a non-function handler fires;
    // failing at registration points at the faulty line instead.
    if (typeof handler !== 'function') {
      throw new TypeError(`${owner}.addEventListener(${name}): handler must be a function`);
    }
    if (!this.byName.has(name)) this.byName.set(name, []);
    this.byName.get(name).push(handler);
  }

  remove(name, handler) {
    const list = this.byName.get(name);
    if (!list) return;
    if (handler === undefined) {
      this.byName.delete(name);
      return;
    }
    const index = list.indexOf(handler);
    if (index >= 0) list.splice(index, 1);
  }

  /** A snapshot, so handlers added or removed while dispatching take effect next time. */
  get(name) {
    return [...(this.byName.get(name) || [])];
  }
}

module.exports = { Listeners };
