// A stand-in for voximplant.min.js in the browser tests: the same client calls the desk makes,
// recorded on window.__vox, and a way for the test to ring the operator (window.__vox.ring).
(function () {
  const handlers = {};
  const vox = { logins: [], keyRequests: [], init: null, answered: null, declined: false, rejected: [] };
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
  // headers: the X- headers the scenario's callUser sent (X-Call-Id, X-Offer-Id).
  vox.ring = (video, headers = {}) => {
    const call = {
      answer: (...args) => {
        vox.answered = args;
      },
      decline: () => {
        vox.declined = true;
      },
      reject: () => {
        vox.rejected.push(headers["X-Offer-Id"] || null);
      },
      headers: () => ({ ...headers }),
      on: () => {},
    };
    for (const fn of handlers.IncomingCall || []) fn({ call, video, headers });
  };
  window.__vox = vox;
  window.VoxImplant = {
    getInstance: () => client,
    ConnectionNode: { NODE_1: "NODE_1" },
    Events: { IncomingCall: "IncomingCall", ConnectionClosed: "ConnectionClosed" },
    CallEvents: { Disconnected: "Disconnected", Failed: "Failed" },
  };
})();
