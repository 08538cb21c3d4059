// The dashboard's Keys section (docs/team.md): virtual keys with their limits, usage and requests waiting now; create
// and revoke with the master key. Separate from dashboard.js so each file stays one concern; it shares only the key
// the page stored. Data goes in through textContent only.
"use strict";

(() => {
  const KEY_STORE = "copilot-proxy-key";
  const byId = (id) => document.getElementById(id);
  const nf = new Intl.NumberFormat();
  const num = (n) => (n === null || n === undefined ? "–" : nf.format(n));

  function node(tag, text, className) {
    const n = document.createElement(tag);
    if (text !== undefined && text !== null) n.textContent = String(text);
    if (className) n.className = className;
    return n;
  }

  async function call(method, path, body) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) headers.Authorization = "Bearer " + key;
    if (body) headers["Content-Type"] = "application/json";
    const res = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined, cache: "no-store" });
    let json = null;
    try { json = await res.json(); } catch { /* not JSON */ }
    return { status: res.status, json };
  }

  function limits(k) {
    const parts = [];
    if (k.rpm_limit) parts.push(num(k.rpm_limit) + " rpm");
    if (k.tpm_limit) parts.push(num(k.tpm_limit) + " tpm");
    if (k.max_parallel_requests) parts.push(num(k.max_parallel_requests) + " parallel");
    if (k.max_budget_tokens) parts.push(num(k.max_budget_tokens) + " tokens budget");
    if (k.expires) parts.push("expires " + new Date(k.expires).toLocaleDateString());
    return parts.length ? parts.join(", ") : "none";
  }

  function render(keys) {
    const body = byId("keys").tBodies[0];
    body.replaceChildren();
    for (const k of keys) {
      const row = document.createElement("tr");
      row.dataset.token = k.token;
      const usage = k.usage || { today: {} };
      row.append(
        node("td", k.key_alias || k.key_name),
        node("td", k.models && k.models.length ? k.models.join(", ") : "all"),
        node("td", limits(k)),
        node("td", num(usage.today.requests) + " req, " + num(usage.today.total_tokens) + " tok", "num"),
        node("td", num(usage.requests) + " req, " + num(usage.total_tokens) + " tok", "num"),
        node("td", num(k.waiting || 0), "num"));
      const actions = node("td");
      const revoke = node("button", "Revoke");
      revoke.type = "button";
      revoke.addEventListener("click", async () => {
        if (!confirm("Revoke the key " + (k.key_alias || k.key_name) + "? Its holder gets 401 from now on.")) return;
        const res = await call("POST", "/key/delete", { keys: [k.token] });
        if (res.status !== 200) showError(res);
        refresh();
      });
      actions.append(revoke);
      row.append(actions);
      body.append(row);
    }
    byId("keys-empty").hidden = keys.length > 0;
  }

  function showError(res) {
    const message = res.json && res.json.error ? res.json.error.message : "HTTP " + res.status;
    byId("keys-error").textContent = message;
    byId("keys-error").hidden = false;
  }

  async function refresh() {
    let res;
    try {
      res = await call("GET", "/ui/api/keys?return_full_object=true&size=100");
    } catch {
      return;
    }
    const manage = res.status === 200;
    byId("keys-manage").hidden = !manage;
    byId("keys-note").hidden = manage;
    if (res.status === 403 || res.status === 401) {
      byId("keys-note").textContent = res.json && res.json.error ? res.json.error.message : "Keys need the master key.";
      render([]);
      byId("keys-empty").hidden = true;
      return;
    }
    if (!manage) { showError(res); return; }
    byId("keys-error").hidden = true;
    render(res.json.keys || []);
  }

  function field(name) {
    const value = byId("key-new-" + name).value.trim();
    return value === "" ? undefined : value;
  }

  byId("keys-create").addEventListener("submit", async (event) => {
    event.preventDefault();
    const request = {};
    const alias = field("alias");
    if (alias) request.key_alias = alias;
    const models = field("models");
    if (models) request.models = models.split(",").map((m) => m.trim()).filter((m) => m);
    for (const [name, wire] of [["rpm", "rpm_limit"], ["tpm", "tpm_limit"], ["parallel", "max_parallel_requests"], ["budget", "max_budget_tokens"]]) {
      const value = field(name);
      if (value) request[wire] = Number(value);
    }
    const duration = field("duration");
    if (duration) request.duration = duration;
    const res = await call("POST", "/key/generate", request);
    if (res.status !== 200) { showError(res); return; }
    byId("keys-error").hidden = true;
    byId("key-created-value").textContent = res.json.key;
    byId("key-created").hidden = false;
    byId("keys-create").reset();
    refresh();
  });

  refresh();
  setInterval(refresh, 5000);
})();
