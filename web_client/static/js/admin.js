// Administration: operators (create, edit, groups and levels, role, password), absences and
// dismissal, groups and their settings, the context rules, through the same API as curl; its
// refusals are shown as the API words them, next to the field they name.
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

function summary(value, other) {
  if (!value) return "—";
  // Both sides known: only the fields that changed (a group has many).
  const changed = Object.entries(value).filter(([k, v]) => !other || JSON.stringify(other[k]) !== JSON.stringify(v));
  return changed.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join("\n") || "—";
}

async function loadAudit() {
  const { entries } = await get("/api/v1/audit?limit=50");
  $("audit").tBodies[0].replaceChildren(...entries.map((e) => {
    const tr = el("tr");
    const th = el("th", clock(e.at));
    th.scope = "row";
    const what = words(e.action) + (e.password_changed ? " (password changed)" : "");
    tr.append(th, el("td", e.who), el("td", what), el("td", e.target),
      el("td", summary(e.before, e.after), "diff"), el("td", summary(e.after, e.before), "diff"));
    return tr;
  }));
}

async function refresh() {
  await Promise.all([loadOperators(), loadGroups(), loadRules(), loadAudit()]);
}

// One form action: the key field checked first, then the request; the result line on success,
// else the error shown on the field the API names.
async function act(prefix, fields, keyId, run, done) {
  $(`${prefix}-result`).textContent = "";
  const field = Object.keys(fields).find((name) => fields[name] === keyId);
  const key = $(keyId).value.trim();
  if (!key) {
    showError(`${prefix}-error`, { message: `${field}: required`, field }, fields);
    return;
  }
  try {
    await run(key);
    showError(`${prefix}-error`, null, fields);
    $(`${prefix}-result`).textContent = done(key);
    await refresh();
  } catch (err) {
    showError(`${prefix}-error`, err, fields);
  }
}

$("operator-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act("operator", FIELDS, "op-login", async (login) => {
    const body = {
      name: $("op-name").value, email: $("op-email").value, role: $("op-role").value,
      address: { type: $("op-address-type").value, address: $("op-address").value.trim() },
      groups: parseGroups($("op-groups").value),
    };
    if ($("op-password").value) body.password = $("op-password").value;
    await api("PUT", `/api/v1/operators/${encodeURIComponent(login)}`, body);
    $("op-password").value = "";
  }, (login) => `Saved ${login}.`);
});

const ABSENCE_FIELDS = { login: "abs-login", reason: "abs-reason", until: "abs-until" };

function absence(method) {
  act("absence", ABSENCE_FIELDS, "abs-login", async (login) => {
    const body = method === "PUT" ? { reason: $("abs-reason").value } : undefined;
    if (body && $("abs-until").value) body.until = $("abs-until").value;
    await api(method, `/api/v1/operators/${encodeURIComponent(login)}/absence`, body);
  }, (login) => (method === "PUT" ? `${login} is marked absent.` : `${login} is marked present.`));
}

$("absence-form").addEventListener("submit", (event) => {
  event.preventDefault();
  absence("PUT");
});
$("abs-clear").addEventListener("click", () => absence("DELETE"));
// -- groups ---------------------------------------------------------------------------------

const GROUP_FIELDS = {
  name: "grp-name", priority: "grp-priority", strategy: "grp-strategy", wrap_up_s: "grp-wrap-up",
  require_disposition: "grp-disposition", overflow_after_s: "grp-overflow-after",
  spares: "grp-spares", target_service_level: "grp-target", hours: "grp-hours",
  timezone: "grp-timezone", holidays: "grp-holidays", closed_action: "grp-closed-action",
  no_agents_action: "grp-no-agents-action", max_wait_s: "grp-max-wait",
  max_wait_action: "grp-max-wait-action",
};
const NUMBERS = ["priority", "wrap_up_s", "overflow_after_s", "target_service_level", "max_wait_s"];
const LISTS = { spares: ",", hours: ";", holidays: "," };
const TEXTS = ["strategy", "timezone", "closed_action", "no_agents_action", "max_wait_action"];

let groups = [];

function groupBody() {
  const body = { require_disposition: $("grp-disposition").checked };
  for (const key of NUMBERS) {
    const text = $(GROUP_FIELDS[key]).value.trim();
    // A number goes as typed: the API says what is wrong with it.
    if (text) body[key] = Number.isNaN(Number(text)) ? text : Number(text);
  }
  for (const [key, sep] of Object.entries(LISTS)) {
    body[key] = $(GROUP_FIELDS[key]).value.split(sep).map((x) => x.trim()).filter(Boolean);
  }
  for (const key of TEXTS) {
    const text = $(GROUP_FIELDS[key]).value.trim();
    if (text) body[key] = text;
  }
  return body;
}

function editGroup(g) {
  for (const [key, id] of Object.entries(GROUP_FIELDS)) {
    const value = g[key];
    if (key === "require_disposition") $(id).checked = Boolean(value);
    else if (key in LISTS) $(id).value = (value || []).join(LISTS[key] === ";" ? "; " : ", ");
    else $(id).value = value === null || value === undefined ? "" : String(value);
  }
  $("grp-priority").focus();
}

function actionsText(g) {
  const parts = [];
  if (g.closed_action) parts.push(`closed: ${g.closed_action}`);
  if (g.no_agents_action) parts.push(`nobody: ${g.no_agents_action}`);
  if (g.max_wait_action) parts.push(`after ${g.max_wait_s} s: ${g.max_wait_action}`);
  return parts.join("; ");
}

async function loadGroups() {
  ({ groups } = await get("/api/v1/groups"));
  $("admin-groups").tBodies[0].replaceChildren(...groups.map((g) => {
    const tr = el("tr");
    const th = el("th", g.name);
    th.scope = "row";
    const button = el("button", "Edit", "quiet");
    button.type = "button";
    button.setAttribute("aria-label", `Edit group ${g.name}`);
    button.addEventListener("click", () => editGroup(g));
    const cell = el("td");
    cell.append(button);
    const overflow = g.spares.length ? `${g.overflow_after_s} s: ${g.spares.join(", ")}` : "";
    tr.append(th, el("td", g.priority), el("td", words(g.strategy) || "center's"),
      el("td", g.wrap_up_s === null ? "center's" : `${g.wrap_up_s} s`),
      el("td", g.require_disposition ? "required" : ""), el("td", overflow),
      el("td", (g.hours.length ? g.hours.join("; ") : "always") + (g.closed ? " (closed now)" : "")),
      el("td", actionsText(g)), cell);
    tr.dataset.group = g.name;
    return tr;
  }));
  $("group-names").textContent = groups.map((g) => g.name).join(", ");
  // The rules' group lists follow the groups.
  document.querySelectorAll("#admin-rules select[data-key='group']").forEach((select) => fillGroups(select, select.value));
}

$("group-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act("group", GROUP_FIELDS, "grp-name", (name) => (
    api("PUT", `/api/v1/groups/${encodeURIComponent(name)}`, groupBody())
  ), (name) => `Saved group ${name}.`);
});

$("grp-delete").addEventListener("click", () => {
  act("group", GROUP_FIELDS, "grp-name", (name) => (
    api("DELETE", `/api/v1/groups/${encodeURIComponent(name)}`)
  ), (name) => `Deleted group ${name}.`);
});

// -- context rules ----------------------------------------------------------------------------

const RULE_TEXTS = [
  ["priority", "priority"], ["category", "category"], ["page", "page"],
  ["customer_id", "customer id"], ["kiosk", "kiosk"], ["destination", "destination"],
];

function fillGroups(select, value) {
  select.replaceChildren(...groups.map((g) => {
    const option = el("option", g.name);
    option.value = g.name;
    return option;
  }));
  if (value && !groups.some((g) => g.name === value)) {
    const gone = el("option", `${value} (no such group)`);
    gone.value = value;
    select.append(gone);
  }
  select.value = value || (groups[0] || {}).name || "";
}

function ruleRow(rule) {
  const tr = el("tr");
  tr.append(el("th", ""));
  const group = el("select");
  group.dataset.key = "group";
  fillGroups(group, rule.group);
  const groupCell = el("td");
  groupCell.append(group);
  tr.append(groupCell);
  for (const [key] of RULE_TEXTS) {
    const input = el("input");
    input.dataset.key = key;
    input.value = rule[key] === undefined || rule[key] === null ? "" : String(rule[key]);
    const td = el("td");
    td.append(input);
    tr.append(td);
  }
  const media = el("select");
  media.dataset.key = "media";
  for (const m of ["", "voice", "video"]) {
    const option = el("option", m || "any");
    option.value = m;
    media.append(option);
  }
  media.value = rule.media || "";
  const headers = el("input");
  headers.dataset.key = "headers";
  headers.value = Object.entries(rule.headers || {}).map(([k, v]) => `${k}=${v}`).join("; ");
  const remove = el("button", "Remove", "quiet");
  remove.type = "button";
  remove.addEventListener("click", () => {
    tr.remove();
    numberRules();
  });
  for (const node of [media, headers, remove]) {
    const td = el("td");
    td.append(node);
    tr.append(td);
  }
  return tr;
}

function numberRules() {
  [...$("admin-rules").tBodies[0].rows].forEach((tr, i) => {
    tr.cells[0].textContent = String(i + 1);
    tr.querySelectorAll("[data-key]").forEach((node) => {
      node.setAttribute("aria-label", `Rule ${i + 1} ${words(node.dataset.key)}`);
    });
    tr.querySelector("button").setAttribute("aria-label", `Remove rule ${i + 1}`);
  });
}

async function loadRules() {
  const { rules } = await get("/api/v1/rules");
  $("admin-rules").tBodies[0].replaceChildren(...rules.map(ruleRow));
  numberRules();
}

function rulesBody() {
  const rules = [...$("admin-rules").tBodies[0].rows].map((tr) => {
    const rule = {};
    tr.querySelectorAll("[data-key]").forEach((node) => {
      const key = node.dataset.key;
      const text = node.value.trim();
      if (key === "headers") {
        rule.headers = Object.fromEntries(text.split(";").map((x) => x.trim()).filter(Boolean).map((pair) => {
          const at = pair.indexOf("=");
          return at < 0 ? [pair, ""] : [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
        }));
      } else if (key === "priority") {
        if (text) rule.priority = Number.isNaN(Number(text)) ? text : Number(text);
      } else if (text) {
        rule[key] = text;
      }
    });
    return rule;
  });
  return { rules };
}

function showRulesError(err) {
  document.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
  const box = $("rules-error");
  box.hidden = !err;
  box.textContent = err ? err.message : "";
  // "rules.2.page": the third row's page.
  const m = err && err.field ? /^rules\.(\d+)\.([a-z_]+)/.exec(err.field) : null;
  const row = m ? $("admin-rules").tBodies[0].rows[Number(m[1])] : null;
  const node = row ? row.querySelector(`[data-key='${m[2]}']`) : null;
  if (node) {
    node.setAttribute("aria-invalid", "true");
    node.focus();
  }
}

$("rule-add").addEventListener("click", () => {
  $("admin-rules").tBodies[0].append(ruleRow({}));
  numberRules();
});

$("rules-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("rules-result").textContent = "";
  try {
    await api("PUT", "/api/v1/rules", rulesBody());
    showRulesError(null);
    $("rules-result").textContent = "Saved the rules.";
    await refresh();
  } catch (err) {
    showRulesError(err);
  }
});

$("logout").addEventListener("click", async () => {
  await post("/api/v1/auth/logout").catch(() => null);
  window.location.assign("/login");
});
refresh();
