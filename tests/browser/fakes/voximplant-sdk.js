// A stand-in for voximplant.min.js in the browser tests: the same client calls the desk makes,
// recorded on window.__vox, with the shapes of the real voximplant-websdk 4.13.1 (voximplant.d.ts
// and voximplant.min.js in web_client/node_modules/voximplant-websdk):
//  - connect() resolves false when the cloud cannot be reached (it never rejects) and dispatches
//    {name: "ConnectionFailed"};
//  - a refused log-in (or key request) REJECTS with a plain object
//    {name: "AuthResult", code, result: false} (code: AuthResultCode, e.g. 401, 404, 409);
//  - a closed connection fails every call with Failed {code: 409, reason: "Connection Closed"},
//    rejects a pending log-in with code 409, then dispatches {name: "ConnectionClosed"};
//  - a call ends with {name: "Disconnected", call, headers, params} (params: DisconnectingFlags
//    {answeredElsewhere}, or undefined) or {name: "Failed", call, headers, code, reason};
//  - answer() and decline() throw Error("WRONG_CALL_STATE") unless the call is still ringing;
//    decline() itself dispatches nothing (the cloud ends the leg).
// The test drives it through window.__vox: ring, hangUp, fail, closeConnection, refuseLogin,
// refuseConnect, holdLogin/releaseLogin. window.__voxPlan, set before the page loads (an init
// script), presets refuseLogin/refuseConnect for the first attempt.
(function () {
  const handlers = {};
  const plan = window.__voxPlan || {};
  const vox = {
    logins: [],
    keyRequests: [],
    connects: 0,
    init: null,
    answered: null,
    declined: false,
    rejected: [],
    calls: [],
    refuseLogin: plan.refuseLogin || null, // an AuthResultCode: each log-in is refused with it
    refuseConnect: Boolean(plan.refuseConnect), // connect() resolves false
    holdLogin: false, // log-in waits until releaseLogin() (or closeConnection())
  };
  let connected = false;
  let pendingLogin = null; // {resolve, reject} of a held log-in
  const dispatch = (event) => {
    for (const fn of handlers[event.name] || []) fn(event);
  };
  const notConnected = () => {
    if (!connected) throw new Error("NOT_CONNECTED_TO_VOXIMPLANT");
  };
  const authResult = (code) => ({ name: "AuthResult", code, result: false });
  const client = {
    init: async (config) => {
      vox.init = config;
      return { name: "SDKReady", version: "fake" };
    },
    connect: async () => {
      vox.connects += 1;
      if (vox.refuseConnect) {
        dispatch({ name: "ConnectionFailed" });
        return false;
      }
      connected = true;
      dispatch({ name: "ConnectionEstablished" });
      return true;
    },
    requestOneTimeLoginKey: (username) =>
      new Promise((resolve) => {
        notConnected();
        vox.keyRequests.push(username);
        resolve({ name: "AuthResult", key: "KEY-123", code: 302, result: false });
      }),
    loginWithOneTimeKey: (username, hash) =>
      new Promise((resolve, reject) => {
        notConnected();
        vox.logins.push([username, hash]);
        const finish = () => {
          pendingLogin = null;
          if (vox.refuseLogin) {
            const failed = authResult(vox.refuseLogin);
            reject(failed);
            dispatch(failed);
          } else {
            const ok = { name: "AuthResult", displayName: username, result: true, tokens: {} };
            resolve(ok);
            dispatch(ok);
          }
        };
        pendingLogin = { finish, reject };
        if (!vox.holdLogin) finish();
      }),
    on: (event, fn) => {
      (handlers[event] = handlers[event] || []).push(fn);
    },
    // An outgoing call (the end-user's video page): call(settings) with {number, video,
    // customData}, as voximplant.d.ts has it; recorded on __vox.placed.
    call: (settings) => {
      notConnected();
      const own = {};
      const call = {
        state: "PROGRESSING",
        settings,
        hungUp: false,
        on: (event, fn) => {
          (own[event] = own[event] || []).push(fn);
        },
        hangup: () => {
          call.hungUp = true;
          call.emit({ name: "Disconnected", call, headers: {}, params: {} });
        },
        emit: (event) => {
          call.state = event.name === "Connected" ? "CONNECTED" : "ENDED";
          for (const fn of own[event.name] || []) fn(event);
        },
      };
      vox.placed.push(call);
      return call;
    },
  };
  vox.placed = [];
  vox.video = [];
  // The far end of the last placed call answers, or the call fails.
  vox.answerPlaced = () => {
    const call = vox.placed[vox.placed.length - 1];
    call.emit({ name: "Connected", call, headers: {} });
  };
  vox.failPlaced = (code, reason) => {
    const call = vox.placed[vox.placed.length - 1];
    call.emit({ name: "Failed", call, headers: {}, code, reason });
  };
  vox.releaseLogin = () => {
    vox.holdLogin = false;
    if (pendingLogin) pendingLogin.finish();
  };

  function makeCall(video, headers) {
    const own = {};
    const call = {
      state: "ALERTING",
      answer: (...args) => {
        if (call.state !== "ALERTING") throw new Error("WRONG_CALL_STATE");
        vox.answered = args;
        call.state = "CONNECTED";
      },
      decline: () => {
        if (call.state !== "ALERTING") throw new Error("WRONG_CALL_STATE");
        vox.declined = true;
      },
      reject: () => {
        if (call.state !== "ALERTING") throw new Error("WRONG_CALL_STATE");
        vox.rejected.push(headers["X-Offer-Id"] || null);
      },
      headers: () => ({ ...headers }),
      // Video during the call: recorded on __vox.video as [method, args].
      sendVideo: async (flag) => {
        vox.video.push(["sendVideo", flag]);
        return { name: "Updated", result: true };
      },
      shareScreen: async (...args) => {
        vox.video.push(["shareScreen", ...args]);
        return { name: "Updated", result: true };
      },
      stopSharingScreen: async () => {
        vox.video.push(["stopSharingScreen"]);
        return { name: "SharingStopped" };
      },
      on: (event, fn) => {
        (own[event] = own[event] || []).push(fn);
      },
      emit: (event) => {
        call.state = "ENDED";
        for (const fn of own[event.name] || []) fn(event);
      },
    };
    return call;
  }

  // headers: the X- headers the scenario's callUser sent (X-Call-Id, X-Offer-Id).
  vox.ring = (video, headers = {}) => {
    const call = makeCall(video, headers);
    vox.calls.push(call);
    for (const fn of handlers.IncomingCall || []) fn({ name: "IncomingCall", call, video, headers });
  };
  const last = () => vox.calls[vox.calls.length - 1];
  // The other side (or the scenario) ends the last call.
  vox.hangUp = (params) => {
    const call = last();
    call.emit({ name: "Disconnected", call, headers: {}, params });
  };
  vox.fail = (code, reason) => {
    const call = last();
    call.emit({ name: "Failed", call, headers: {}, code, reason });
  };
  // The signalling connection closes (network lost, or the cloud closed it).
  vox.closeConnection = () => {
    connected = false;
    for (const call of vox.calls) {
      if (call.state !== "ENDED") {
        call.emit({ name: "Failed", call, headers: {}, code: 409, reason: "Connection Closed" });
      }
    }
    if (pendingLogin) {
      const { reject } = pendingLogin;
      pendingLogin = null;
      const closed = authResult(409);
      reject(closed);
      dispatch(closed);
    }
    dispatch({ name: "ConnectionClosed" });
  };

  window.__vox = vox;
  window.VoxImplant = {
    getInstance: () => client,
    ConnectionNode: { NODE_1: "NODE_1" },
    Events: {
      ConnectionEstablished: "ConnectionEstablished",
      ConnectionFailed: "ConnectionFailed",
      ConnectionClosed: "ConnectionClosed",
      AuthResult: "AuthResult",
      IncomingCall: "IncomingCall",
    },
    CallEvents: { Connected: "Connected", Disconnected: "Disconnected", Failed: "Failed" },
  };
})();
