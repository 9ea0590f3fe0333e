// The desk's WebSocket: reconnects with exponential back-off and says when it is down.

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 10000;

export function connectSocket({ onMessage, onOpen, onDown }) {
  let delay = MIN_DELAY_MS;
  let socket = null;
  let timer = null;

  function open() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}/api/v1/ws`);
    socket.addEventListener("open", () => {
      delay = MIN_DELAY_MS;
      // The server sends the state on connect; ask again so nothing missed while down is lost.
      socket.send("state");
      onOpen();
    });
    socket.addEventListener("message", (event) => {
      if (event.data === "pong") return;
      try {
        onMessage(JSON.parse(event.data));
      } catch (err) {
        console.error("bad push message", err);
      }
    });
    socket.addEventListener("close", () => {
      onDown();
      const jitter = Math.random() * 0.3 * delay;
      timer = window.setTimeout(open, delay + jitter);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    });
  }

  open();
  return {
    send: (text) => socket && socket.readyState === WebSocket.OPEN && socket.send(text),
    close: () => {
      window.clearTimeout(timer);
      if (socket) socket.close();
    },
  };
}
