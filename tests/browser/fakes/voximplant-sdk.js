// A stand-in for voximplant.min.js in the browser tests: the same client calls the desk makes,
// recorded on window.__vox, and a way for the test to ring the operator (window.__vox.ring).
(function () {
  const handlers = {};
  const vox = { logins: [], keyRequests: [], init: null, answered: null, declined: false };
  const client = {
    init: async (config) => {
      vox.init = config;
      return { version: "fake" };
    },
    connect: async () => true,
    requestOneTimeLoginKey: async (username) => {
      vox.keyRequests.push(username);
      return { result: false, code: 302, key: "KEY-123" };
    },
    loginWithOneTimeKey: async (username, hash) => {
      vox.logins.push([username, hash]);
      return { result: true, code: 200 };
    },
    on: (event, fn) => {
      (handlers[event] = handlers[event] || []).push(fn);
    },
  };
  vox.ring = (video) => {
    const call = {
      answer: (...args) => {
        vox.answered = args;
      },
      decline: () => {
        vox.declined = true;
      },
      on: () => {},
    };
    for (const fn of handlers.IncomingCall || []) fn({ call, video });
  };
  window.__vox = vox;
  window.VoxImplant = {
    getInstance: () => client,
    ConnectionNode: { NODE_1: "NODE_1" },
    Events: { IncomingCall: "IncomingCall", ConnectionClosed: "ConnectionClosed" },
    CallEvents: { Disconnected: "Disconnected", Failed: "Failed" },
  };
})();
