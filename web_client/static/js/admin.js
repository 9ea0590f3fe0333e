// Administration: operators (create, edit, groups and levels, role, password), absences and
// dismissal, through the same API as curl; its refusals are shown as the API words them.
import { api, get, post } from "./api.js";
import { $, clock, el, words } from "./dom.js";

$("media-status").hidden = true;

const FIELDS = {
  name: "op-name", email: "op-email", role: "op-role", password: "op-password",
  "address.type": "op-address-type", "address.address": "op-address", groups: "op-groups",
  login: "op-login",
};

let operators = [];

function showError(id, err, fields) {
  document.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
  const box = $(id);
  box.hidden = !err;
  box.textContent = err ? err.message : "";
  if (!err || !err.field) return;
  const key = Object.keys(fields).find((k) => err.field === k || err.field.startsWith(`${k}.`));
  if (key) {
    $(fields[key]).setAttribute("aria-invalid", "true");
    $(fields[key]).focus();
  }
}

const groupsText = (groups) => (groups || []).map((g) => `${g.name}:${g.level}`).join(", ");

function parseGroups(text) {
  return text.split(",").map((part) => part.trim()).filter(Boolean).map((part) => {
    const [name, level] = part.split(":").map((x) => x.trim());
    // The level goes as typed: the API says what is wrong with it.
    const n = level === undefined || level === "" ? 1 : Number(level);
    return { name, level: Number.isNaN(n) ? level : n };
  });
}

function edit(o) {
  $("op-login").value = o.login;
  $("op-name").value = o.name;
  $("op-email").value = o.email;
  $("op-role").value = o.role;
  $("op-address-type").value = (o.address || {}).type || "user";
  $("op-address").value = (o.address || {}).address || "";
  $("op-groups").value = groupsText(o.groups);
  $("op-password").value = "";
  $("abs-login").value = o.login;
  $("op-name").focus();
}

async function loadOperators() {
  ({ operators } = await get("/api/v1/operators"));
  $("admin-operators").tBodies[0].replaceChildren(...operators.map((o) => {
    const tr = el("tr");
    const th = el("th", o.login);
    th.scope = "row";
    const absence = o.absence ? `${words(o.absence.reason)}${o.absence.until ? ` until ${clock(o.absence.until)}` : ""}` : "";
    const button = el("button", "Edit", "quiet");
    button.type = "button";
    button.setAttribute("aria-label", `Edit ${o.login}`);
    button.addEventListener("click", () => edit(o));
    const cell = el("td");
    cell.append(button);
    tr.append(th, el("td", o.name), el("td", o.role), el("td", groupsText(o.groups)),
      el("td", absence), cell);
    tr.dataset.login = o.login;
    return tr;
  }));
}

function summary(value) {
  if (!value) return "—";
  return Object.entries(value).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join("\n");
}

async function loadAudit() {
  const { entries } = await get("/api/v1/audit?limit=50");
  $("audit").tBodies[0].replaceChildren(...entries.map((e) => {
    const tr = el("tr");
    const th = el("th", clock(e.at));
    th.scope = "row";
    const what = words(e.action) + (e.password_changed ? " (password changed)" : "");
    tr.append(th, el("td", e.who), el("td", what), el("td", e.target),
      el("td", summary(e.before), "diff"), el("td", summary(e.after), "diff"));
    return tr;
  }));
}

async function refresh() {
  await Promise.all([loadOperators(), loadAudit()]);
}

$("operator-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("operator-result").textContent = "";
  const login = $("op-login").value.trim();
  if (!login) {
    showError("operator-error", { message: "login: required", field: "login" }, FIELDS);
    return;
  }
  const body = {
    name: $("op-name").value, email: $("op-email").value, role: $("op-role").value,
    address: { type: $("op-address-type").value, address: $("op-address").value.trim() },
    groups: parseGroups($("op-groups").value),
  };
  if ($("op-password").value) body.password = $("op-password").value;
  try {
    await api("PUT", `/api/v1/operators/${encodeURIComponent(login)}`, body);
    showError("operator-error", null, FIELDS);
    $("operator-result").textContent = `Saved ${login}.`;
    $("op-password").value = "";
    await refresh();
  } catch (err) {
    showError("operator-error", err, FIELDS);
  }
});

const ABSENCE_FIELDS = { login: "abs-login", reason: "abs-reason", until: "abs-until" };

async function absence(method) {
  $("absence-result").textContent = "";
  const login = $("abs-login").value.trim();
  if (!login) {
    showError("absence-error", { message: "login: required", field: "login" }, ABSENCE_FIELDS);
    return;
  }
  const body = method === "PUT" ? { reason: $("abs-reason").value } : undefined;
  if (body && $("abs-until").value) body.until = $("abs-until").value;
  try {
    await api(method, `/api/v1/operators/${encodeURIComponent(login)}/absence`, body);
    showError("absence-error", null, ABSENCE_FIELDS);
    $("absence-result").textContent = method === "PUT" ? `${login} is marked absent.` : `${login} is marked present.`;
    await refresh();
  } catch (err) {
    showError("absence-error", err, ABSENCE_FIELDS);
  }
}

$("absence-form").addEventListener("submit", (event) => {
  event.preventDefault();
  absence("PUT");
});
$("abs-clear").addEventListener("click", () => absence("DELETE"));
$("logout").addEventListener("click", async () => {
  await post("/api/v1/auth/logout").catch(() => null);
  window.location.assign("/login");
});
refresh();
