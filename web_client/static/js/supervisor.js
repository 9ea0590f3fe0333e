// The supervisor's page: the live floor pushed over the WebSocket (no polling), staffing
// advice, spare numbers, and reports over any range with a chart and CSV links.
import { get, post } from "./api.js";
import { $, duration, el, words } from "./dom.js";
import { connectSocket } from "./socket.js";
import { Supervise } from "./supervise.js";

const supervise = new Supervise(JSON.parse($("supervisor-config").textContent));

const percent = (x) => (x === null || x === undefined ? "—" : `${Math.round(x * 100)} %`);
const seconds = (x) => (x === null || x === undefined ? "—" : `${x} s`);
const SPARES_EVERY_MS = 5000;

let floor = null; // the last floor pushed
let skew = 0; // server clock minus ours, so "for 0:12" counts from the server's times
let sparesAt = 0;
// The latest copy of a call on the floor, for the Supervise buttons.
supervise.calls = (id) =>
  (floor && floor.operators.map((o) => o.call).find((c) => c && c.call_id === id)) || null;

function row(cells, header) {
  const tr = el("tr");
  const th = el("th", header);
  th.scope = "row";
  tr.append(th, ...cells.map((c) => (c instanceof Node ? c : el("td", c))));
  return tr;
}

const since = (iso) => (Date.now() + skew - new Date(iso).getTime()) / 1000;

function levelOf(value, amber, red) {
  return value >= red ? "red" : value >= amber ? "amber" : "ok";
}

function renderGroups() {
  const t = floor.thresholds;
  const rows = floor.groups.map((g) => {
    // The longest wait keeps growing between pushes: its colour is worked out again here.
    const oldest = floor.waiting.filter((c) => c.group === g.group)
      .reduce((m, c) => Math.max(m, since(c.enqueued_at)), 0);
    const waitLevel = levelOf(oldest, t.longest_wait_amber_s, t.longest_wait_red_s);
    const waitCell = el("td", duration(oldest));
    waitCell.className = `level-${waitLevel}`;
    const slCell = el("td", percent(g.today.service_level));
    slCell.className = `level-${g.service_level_level}`;
    const tr = row([
      g.waiting, waitCell, g.ready, g.routable, g.not_ready, g.today.calls, g.today.answered,
      g.today.abandoned, seconds(g.today.asa_s), slCell, g.today.overflowed,
    ], g.group);
    const worst = [waitLevel, g.service_level_level].includes("red") ? "red"
      : [waitLevel, g.service_level_level].includes("amber") ? "amber" : "ok";
    tr.className = `level-${worst}`;
    tr.dataset.level = worst;
    return tr;
  });
  $("queues").tBodies[0].replaceChildren(...rows);
}

function renderOperators() {
  const rows = floor.operators.map((o) => {
    const presence = o.reason ? `${words(o.presence)} (${words(o.reason)})` : words(o.presence);
    const call = o.call ? `${o.call.caller || o.call.call_id} · ${o.call.group} · ${words(o.call.state)}`
      + (o.call.parties && o.call.parties.length ? ` · ${o.call.parties.length} parties` : "") : "";
    const groups = (o.groups || []).map((g) => `${g.name} (${g.level})`).join(", ");
    const time = el("td", duration(since(o.since)));
    time.dataset.since = o.since;
    const tr = row([presence, words(o.activity), time, call, groups, supervise.cell(o.call, o.login)],
      o.name ? `${o.name} (${o.login})` : o.login);
    tr.dataset.login = o.login;
    return tr;
  });
  $("floor-operators").tBodies[0].replaceChildren(...rows);
}

function renderWaiting() {
  const t = floor.thresholds;
  const rows = floor.waiting.map((c) => {
    const wait = since(c.enqueued_at);
    const tr = row([c.group, c.priority, duration(wait), c.position, c.preferred || ""],
      c.caller || c.call_id);
    tr.className = `level-${levelOf(wait, t.longest_wait_amber_s, t.longest_wait_red_s)}`;
    return tr;
  });
  $("waiting").tBodies[0].replaceChildren(...rows);
  $("no-waiting").hidden = rows.length > 0;
}

function render(pushed) {
  if (!floor) return;
  renderGroups();
  // Rows (and their buttons) are rebuilt only when the floor changes; between pushes only
  // the times move, so a button is never replaced under the pointer.
  if (pushed) renderOperators();
  else for (const td of document.querySelectorAll("#floor-operators td[data-since]")) {
    td.textContent = duration(since(td.dataset.since));
  }
  renderWaiting();
}

async function refreshSpares() {
  sparesAt = Date.now();
  try {
    const { groups } = await get("/api/v1/queues");
    const spares = groups.flatMap((g) => g.spares.map((s) => {
      const state = !s.enabled ? "disabled" : s.open_now ? "yes" : "no";
      return row([s.number, s.name, state, `${s.active} / ${s.max_concurrent}`,
        `${s.used_today} / ${s.daily_cap}`], g.group);
    }));
    $("spares").tBodies[0].replaceChildren(...spares);
    $("spares").hidden = spares.length === 0;
    $("no-spares").hidden = spares.length > 0;
  } catch (err) {
    console.error("spare numbers", err);
  }
}

async function refreshStaffing() {
  try {
    const { groups } = await get("/api/v1/reports/staffing");
    $("staffing").tBodies[0].replaceChildren(...groups.map((g) => {
      const needed = el("td", g.needed);
      needed.className = g.ready < g.needed ? "level-red" : "level-ok";
      return row([g.calls_last_hour, g.calls_same_hour_last_week, seconds(g.handle_time_s),
        `${percent(g.target_service_level)} in ${g.service_level_s} s`, needed, g.ready], g.group);
    }));
  } catch (err) {
    console.error("staffing", err);
  }
}

const socket = connectSocket({
  onOpen: () => {},
  onDown: () => {
    $("conn-banner").hidden = false;
    $("queues-updated").textContent = "Disconnected — reconnecting…";
  },
  onMessage: (msg) => {
    if (msg.type === "state") {
      socket.send("floor"); // our own state comes first: then ask for the floor
      return;
    }
    if (msg.type !== "floor") return;
    floor = msg;
    skew = new Date(msg.now).getTime() - Date.now();
    $("conn-banner").hidden = true;
    $("queues-updated").textContent = `Live · last change ${new Date().toLocaleTimeString()}`;
    document.body.dataset.floorAt = msg.now;
    render(true);
    if (Date.now() - sparesAt > SPARES_EVERY_MS) refreshSpares();
  },
});

// -- reports -----------------------------------------------------------------------------

let chart = null;
const localDate = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000)
  .toISOString().slice(0, 10);

function reportQuery() {
  const q = new URLSearchParams({
    from: $("report-from").value, to: $("report-to").value, by: $("report-by").value,
  });
  if ($("report-group").value) q.set("group", $("report-group").value);
  return q;
}

function csvLink(id, table) {
  const q = reportQuery();
  q.set("format", "csv");
  q.set("table", table);
  $(id).href = `/api/v1/reports/summary?${q}`;
}

function renderChart(report) {
  const labels = report.intervals.map((i) => (report.by === "day" ? i.start.slice(0, 10)
    : i.start.slice(5, 16).replace("T", " ")));
  const data = {
    labels,
    datasets: [
      { type: "bar", label: "Answered", data: report.intervals.map((i) => i.answered),
        backgroundColor: "#2e7d32", stack: "calls", yAxisID: "calls" },
      { type: "bar", label: "Abandoned", data: report.intervals.map((i) => i.abandoned),
        backgroundColor: "#c62828", stack: "calls", yAxisID: "calls" },
      { type: "line", label: "Service level %",
        data: report.intervals.map((i) => (i.service_level === null ? null : i.service_level * 100)),
        borderColor: "#1565c0", backgroundColor: "#1565c0", yAxisID: "sl", spanGaps: true },
    ],
  };
  const options = {
    responsive: true, maintainAspectRatio: false, animation: false,
    scales: {
      calls: { type: "linear", position: "left", beginAtZero: true, stacked: true,
        title: { display: true, text: "calls" } },
      sl: { type: "linear", position: "right", min: 0, max: 100, grid: { drawOnChartArea: false },
        title: { display: true, text: "service level %" } },
      x: { stacked: true },
    },
  };
  if (chart) chart.destroy();
  chart = new window.Chart($("report-chart"), { data, options });
  $("report-chart").dataset.points = String(labels.length);
}

function renderReport(report) {
  const groups = [...report.groups, { ...report, group: "All" }];
  $("report-groups").tBodies[0].replaceChildren(...groups.map((g) => row([
    g.calls, g.answered, g.abandoned, g.abandoned_short, percent(g.service_level), seconds(g.asa_s),
    seconds(g.aht_s), percent(g.abandon_rate), percent(g.occupancy), g.transfers,
    g.help_requests, g.overflowed,
  ], g.group)));
  const presences = [...new Set(report.operators.flatMap((o) => Object.keys(o.presence)))];
  const activities = [...new Set(report.operators.flatMap((o) => Object.keys(o.activity)))];
  const head = ["Operator", "Answered", "AHT", "Occupancy",
    ...presences.map(words), ...activities.map(words)];
  $("report-operators").tHead.rows[0].replaceChildren(...head.map((h) => {
    const th = el("th", h);
    th.scope = "col";
    return th;
  }));
  $("report-operators").tBodies[0].replaceChildren(...report.operators.map((o) => row([
    o.answered, seconds(o.aht_s), percent(o.occupancy),
    ...presences.map((p) => duration(o.presence[p] || 0)),
    ...activities.map((a) => duration(o.activity[a] || 0)),
  ], o.name ? `${o.name} (${o.login})` : o.login)));
  renderChart(report);
  csvLink("csv-groups", "groups");
  csvLink("csv-intervals", "intervals");
  csvLink("csv-operators", "operators");
}

let asked = 0; // only the answer to the last request is shown

async function showReport(event) {
  if (event) event.preventDefault();
  const mine = ++asked;
  $("report-status").textContent = "Loading…";
  try {
    const report = await get(`/api/v1/reports/summary?${reportQuery()}`);
    if (mine !== asked) return;
    renderReport(report);
    $("report-status").textContent = `${report.calls} calls from ${report.from.slice(0, 16)}`
      + ` to ${report.to.slice(0, 16)} (${report.timezone}), by ${report.by}.`;
  } catch (err) {
    if (mine !== asked) return;
    $("report-status").textContent = `Cannot show the report: ${err.message}`;
  }
}

const today = localDate(new Date());
$("report-from").value = today;
$("report-to").value = today;
$("report-form").addEventListener("submit", showReport);
$("staffing-refresh").addEventListener("click", refreshStaffing);
$("logout").addEventListener("click", async () => {
  await post("/api/v1/auth/logout").catch(() => null);
  window.location.assign("/login");
});
refreshStaffing();
showReport();
// Between pushes only the clocks move: redraw the times (nothing is fetched).
window.setInterval(() => render(false), 1000);
