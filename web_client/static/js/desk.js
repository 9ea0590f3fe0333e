// The operator desk: status bar, live activity over the WebSocket, call card, today's figures.
import { get, post } from "./api.js";
import { CallCard } from "./card.js";
import { $ } from "./dom.js";
import { startMedia } from "./media.js";
import { connectSocket } from "./socket.js";
import { StatusBar } from "./status.js";
import { refreshToday } from "./today.js";

const config = JSON.parse($("desk-config").textContent);
let lastStatus = null;

const card = new CallCard({
  config,
  onMessage: (text) => {
    $("activity-announce").textContent = text;
  },
});

const status = new StatusBar({
  onChanged: (operator) => {
    card.setOperator(operator);
    const statusKey = `${operator.presence}/${operator.activity}`;
    if (statusKey !== lastStatus) {
      lastStatus = statusKey;
      refreshToday();
    }
  },
});
status.update(config.operator);

function onMessage(message) {
  if (message.type === "state") {
    status.pushed(message.operator);
    if (message.call) card.show(message.call);
  } else if (message.type === "call") {
    card.updateCall(message.call);
  } else if (message.type === "targets") {
    card.parties.onTargets(message);
  }
}

const socket = connectSocket({
  onMessage,
  onOpen: () => {
    $("conn-banner").hidden = true;
    document.body.dataset.connected = "true";
    card.parties.socketOpened();
    refreshToday();
  },
  onDown: () => {
    $("conn-banner").hidden = false;
    document.body.dataset.connected = "false";
    // A socket refused for an expired session would retry forever: a 401 here goes to /login.
    get("/api/v1/me").catch(() => null);
  },
});

card.parties.setSocket(socket);

$("logout").addEventListener("click", async () => {
  await post("/api/v1/auth/logout").catch(() => null);
  window.location.assign("/login");
});

refreshToday();
window.setInterval(refreshToday, 60000);
startMedia(config, card);
