// Live queue figures for supervisors: GET /api/v1/queues every few seconds.
import { get, post } from "./api.js";
import { $, duration, el } from "./dom.js";

const REFRESH_MS = 5000;
$("media-status").hidden = true;

const percent = (x) => (x === null || x === undefined ? "—" : `${Math.round(x * 100)} %`);

async function refresh() {
  try {
    const { groups } = await get("/api/v1/queues");
    const rows = groups.map((g) => {
      const tr = el("tr");
      const cells = [
        g.waiting, duration(g.longest_wait_s), g.operators.ready, g.operators.routable,
        g.operators.not_ready, g.today.calls, g.today.answered, g.today.abandoned,
        g.today.asa_s === null ? "—" : `${g.today.asa_s} s`, percent(g.today.service_level),
        g.today.overflowed,
      ];
      const th = el("th", g.group);
      th.scope = "row";
      tr.append(th, ...cells.map((c) => el("td", c)));
      return tr;
    });
    $("queues").tBodies[0].replaceChildren(...rows);
    const spares = groups.flatMap((g) => g.spares.map((s) => {
      const tr = el("tr");
      const state = !s.enabled ? "disabled" : s.open_now ? "yes" : "no";
      const cells = [s.number, s.name, state, `${s.active} / ${s.max_concurrent}`,
        `${s.used_today} / ${s.daily_cap}`];
      const th = el("th", g.group);
      th.scope = "row";
      tr.append(th, ...cells.map((c) => el("td", c)));
      return tr;
    }));
    $("spares").tBodies[0].replaceChildren(...spares);
    $("spares").hidden = spares.length === 0;
    $("no-spares").hidden = spares.length > 0;
    $("queues-updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
    $("conn-banner").hidden = true;
  } catch (err) {
    $("conn-banner").hidden = false;
    $("conn-banner").textContent = `Cannot refresh the queues: ${err.message}`;
  }
}

$("logout").addEventListener("click", async () => {
  await post("/api/v1/auth/logout").catch(() => null);
  window.location.assign("/login");
});
refresh();
window.setInterval(refresh, REFRESH_MS);
