// The copilot-proxy dashboard: plain JS, no build step, no third-party code. Data only ever goes in through
// textContent (never innerHTML), so model names and client names can't inject markup.
"use strict";

const KEY_STORE = "copilot-proxy-key";
const RECENT_MAX = 200;
const $ = (id) => document.getElementById(id);

let key = sessionStorage.getItem(KEY_STORE) || "";
let recent = [];
let jobs = new Map();
let lastState = null;
let streamAbort = null;
let pollTimer = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const nf = new Intl.NumberFormat();
const fmtInt = (n) => (n === null || n === undefined ? "–" : nf.format(n));
function fmtMs(ms) {
  if (ms === null || ms === undefined) return "–";
  return ms >= 1000 ? (ms / 1000).toFixed(1) + " s" : Math.round(ms) + " ms";
}
const fmtRate = (r) => (r === null || r === undefined ? "–" : r.toFixed(r >= 100 ? 0 : 1));
function fmtTime(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour12: false });
}
function fmtCtx(n) {
  if (n === null || n === undefined) return "–";
  return n >= 1024 && n % 1024 === 0 ? n / 1024 + "K" : nf.format(n);
}
function fmtTtl(s) {
  if (s === null || s === undefined) return "–";
  if (s >= 3600) return Math.round(s / 360) / 10 + " h";
  if (s >= 60) return Math.round(s / 6) / 10 + " min";
  return s + " s";
}

// ---- the key ------------------------------------------------------------------------------------------------------

function headers(extra) {
  const h = Object.assign({}, extra);
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

class Unauthorized extends Error {}

async function api(path, options) {
  const opts = Object.assign({}, options);
  opts.headers = headers(opts.headers);
  opts.cache = "no-store";
  const res = await fetch(path, opts);
  if (res.status === 401) throw new Unauthorized();
  return res;
}

function askForKey(wrong) {
  stopStream();
  clearInterval(pollTimer);
  const dialog = $("key-dialog");
  if (dialog.open) return;
  $("key-error").hidden = !wrong;
  $("key-error").textContent = wrong ? "That key was not accepted." : "";
  $("key-input").value = "";
  if (!dialog.open) dialog.showModal();
  $("key-input").focus();
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  key = $("key-input").value.trim();
  sessionStorage.setItem(KEY_STORE, key);
  $("key-dialog").close();
  start();
});

$("forget-key").addEventListener("click", () => {
  key = "";
  sessionStorage.removeItem(KEY_STORE);
  askForKey(false);
});

// ---- state: upstreams, models, jobs (polled) ---------------------------------------------------------------------

async function refreshState() {
  try {
    const res = await api("/ui/api/state");
    if (!res.ok) throw new Error("HTTP " + res.status);
    const state = await res.json();
    lastState = state;
    $("forget-key").hidden = !state.keyRequired;
    $("version").textContent = "v" + state.version;
    for (const job of state.jobs) jobs.set(job.model, job);
    renderUpstreams(state);
    renderModels(state);
    renderEndpoints(state);
    return true;
  } catch (error) {
    if (error instanceof Unauthorized) {
      askForKey(!!key);
      return false;
    }
    setLive("down", "proxy unreachable");
    return false;
  }
}

function renderUpstreams(state) {
  const body = $("upstreams").tBodies[0];
  body.replaceChildren(...state.upstreams.map((u) =>
    el("tr", { "data-upstream": u.url },
      el("td", { class: "wrap" }, u.url, u.discovery ? el("div", { class: "muted small", text: "discovered via " + u.discovery }) : null),
      el("td", {},
        el("span", { class: "dot " + (u.healthy ? "ok" : "bad") }),
        u.healthy ? "up" : "down",
        u.error ? el("div", { class: "error small", text: u.error }) : null),
      el("td", { class: "num", text: fmtMs(u.latencyMs) }),
      el("td", { class: "num", text: fmtInt(u.models) }))));
  const err = $("catalog-error");
  err.hidden = !state.catalogError;
  err.textContent = state.catalogError || "";
}

// Downloads come from /api/pull (e.g. `ollama pull`); the model has no row until LM Studio has it.
function renderDownloads() {
  const list = [...jobs.values()].filter((j) => j.action === "download");
  $("downloads").replaceChildren(...list.map((j) =>
    el("div", { class: "download", "data-download": j.model, "data-job": j.state.toLowerCase() },
      el("span", { class: "dot " + (j.state === "Running" ? "busy" : j.state === "Done" ? "ok" : "bad") }),
      "Download of ", el("strong", { text: j.model }), ": ",
      j.state === "Running" && j.progress !== null && j.progress !== undefined ? Math.round(j.progress * 100) + "% " : "",
      j.state === "Running" ? el("progress", j.progress === null || j.progress === undefined ? { "aria-label": "download" } : { max: 1, value: j.progress, "aria-label": "download" }) : null,
      el("span", { class: j.state === "Failed" ? "job failed" : "job", text: " " + (j.message || "") }))));
}

function renderModels(state) {
  renderDownloads();
  const body = $("models").tBodies[0];
  if (state.models.length === 0) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No models: start LM Studio, or download a model in it." })));
    return;
  }
  body.replaceChildren(...state.models.map(modelRow));
}

function modelRow(m) {
  const job = jobs.get(m.id);
  const running = job && job.state === "Running";
  const stateCell = el("td", {},
    el("span", { class: "dot " + (running ? "busy" : m.loaded ? "ok" : "") }),
    running ? (job.action === "load" ? "loading…" : "unloading…") : m.loaded ? "loaded" : "not loaded");
  const actions = el("div", { class: "actions" });
  if (m.canLoad) {
    actions.append(
      el("button", { type: "button", "data-action": "load", disabled: running || m.loaded, onclick: () => act(m.id, "load") }, "Load"),
      el("button", { type: "button", "data-action": "unload", disabled: running || !m.loaded, onclick: () => act(m.id, "unload") }, "Unload"));
  } else {
    actions.append(el("span", { class: "muted small", text: "loads on first use" }));
  }
  if (running) {
    actions.append(job.progress === null || job.progress === undefined ? el("progress", { "aria-label": job.action + " in progress" })
      : el("progress", { max: 1, value: job.progress, "aria-label": job.action + " progress" }));
  } else if (job && job.message) {
    actions.append(el("span", { class: "job" + (job.state === "Failed" ? " failed" : ""), "data-job": job.state.toLowerCase(), text: job.action + ": " + job.message }));
  }
  return el("tr", { "data-model": m.id },
    el("td", { class: "wrap" }, el("strong", { text: m.id }), m.upstreamId !== m.id ? el("div", { class: "muted small", text: m.upstreamId }) : null),
    el("td", {}, ...(m.capabilities.length ? m.capabilities.map((c) => el("span", { class: "chip", text: c })) : [el("span", { class: "muted", text: "chat" })])),
    stateCell,
    el("td", { class: "num" }, m.loaded ? fmtCtx(m.loadedContextLength) : "–", el("span", { class: "muted" }, " / " + fmtCtx(m.maxContextLength)),
      m.contextLength && m.contextLength !== (m.loaded ? m.loadedContextLength : m.maxContextLength)
        ? el("div", { class: "muted small", text: (m.loaded ? "reloads with " : "loads with ") + fmtCtx(m.contextLength) }) : null),
    el("td", { class: "num", text: fmtTtl(m.ttlSeconds) }),
    el("td", {}, actions));
}

async function act(model, action) {
  try {
    const res = await api("/ui/api/models/" + action, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model }),
    });
    const body = await res.json();
    if (res.ok) {
      jobs.set(body.model, body);
    } else {
      jobs.set(model, { model, action, state: "Failed", message: (body.error && body.error.message) || "HTTP " + res.status });
    }
  } catch (error) {
    if (error instanceof Unauthorized) return askForKey(true);
    jobs.set(model, { model, action, state: "Failed", message: "the proxy did not answer" });
  }
  if (lastState) renderModels(lastState);
}

function onJob(job) {
  jobs.set(job.model, job);
  // A finished load or unload changes the model's state: fetch it now rather than at the next poll.
  if (job.state !== "Running") refreshState();
  else if (lastState) renderModels(lastState);
}

// ---- live traffic (event stream) ---------------------------------------------------------------------------------

function setLive(state, text) {
  const pill = $("live");
  pill.dataset.state = state;
  pill.textContent = text;
}

function renderTotals(totals, inflightCount) {
  if (inflightCount !== undefined) $("total-inflight").textContent = fmtInt(inflightCount);
  if (!totals) return;
  $("total-requests").textContent = fmtInt(totals.requests);
  $("total-prompt").textContent = fmtInt(totals.promptTokens);
  $("total-completion").textContent = fmtInt(totals.completionTokens);
  const classes = Object.entries(totals.errorsByClass || {});
  $("total-errors").textContent = fmtInt(classes.reduce((sum, [, n]) => sum + n, 0));
  $("errors-by-class").textContent = classes.map(([c, n]) => c + " " + n).join(" · ");
}

function renderInflight(list) {
  $("total-inflight").textContent = fmtInt(list.length);
  $("inflight-empty").hidden = list.length > 0;
  $("inflight").hidden = list.length === 0;
  $("inflight").tBodies[0].replaceChildren(...list.map((r) =>
    el("tr", { "data-request": r.id },
      el("td", { text: r.frontDoor }),
      el("td", { class: "wrap" }, el("code", { text: r.method + " " + r.path })),
      el("td", { text: r.client }),
      el("td", { text: r.model || "…" }),
      el("td", { class: "num", text: fmtMs(r.elapsedMs) }),
      el("td", { class: "num", text: fmtMs(r.timeToFirstTokenMs) }))));
}

function finishedRow(r) {
  const statusClass = r.status >= 500 ? "status-bad" : r.status >= 400 ? "status-warn" : "status-ok";
  return el("tr", { "data-request": r.id },
    el("td", { text: fmtTime(r.finishedAt) }),
    el("td", { text: r.frontDoor }),
    el("td", {}, el("code", { text: r.method + " " + r.route })),
    el("td", { text: r.client }),
    el("td", { text: r.model || "–" }),
    el("td", { class: "num " + statusClass, text: r.status }),
    el("td", { class: "num", text: fmtMs(r.timeToFirstTokenMs) }),
    el("td", { class: "num", text: fmtRate(r.tokensPerSecond) }),
    el("td", { class: "num", text: fmtMs(r.totalMs) }),
    el("td", { class: r.failure ? "status-bad" : "muted", text: r.failure || "–" }));
}

function renderRecent() {
  $("recent-empty").hidden = recent.length > 0;
  $("recent").hidden = recent.length === 0;
  $("recent").tBodies[0].replaceChildren(...recent.map(finishedRow));
}

function onEvent(name, data) {
  if (name === "traffic") {
    recent = data.recent.slice().reverse().slice(0, RECENT_MAX);
    renderRecent();
    renderInflight(data.inFlight);
    renderTotals(data.totals);
  } else if (name === "inflight") {
    renderInflight(data);
  } else if (name === "finished") {
    recent.unshift(data.request);
    if (recent.length > RECENT_MAX) recent.length = RECENT_MAX;
    $("recent").tBodies[0].prepend(finishedRow(data.request));
    const rows = $("recent").tBodies[0].rows;
    while (rows.length > RECENT_MAX) rows[rows.length - 1].remove();
    $("recent-empty").hidden = true;
    $("recent").hidden = false;
    renderTotals(data.totals);
  } else if (name === "job") {
    onJob(data);
  }
}

function stopStream() {
  if (streamAbort) streamAbort.abort();
  streamAbort = null;
}

// fetch, not EventSource: EventSource can't send the Authorization header, and a key in the URL would be logged.
async function stream() {
  stopStream();
  const abort = new AbortController();
  streamAbort = abort;
  try {
    const res = await fetch("/ui/api/events", { headers: headers({ Accept: "text/event-stream" }), signal: abort.signal, cache: "no-store" });
    if (res.status === 401) return askForKey(!!key);
    if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
    setLive("live", "live");
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) name = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (data) onEvent(name, JSON.parse(data));
      }
    }
  } catch (error) {
    if (abort.signal.aborted) return;
  }
  if (streamAbort !== abort) return;
  setLive("down", "reconnecting");
  setTimeout(() => { if (streamAbort === abort) stream(); }, 2000);
}

// ---- client setups (from the gateway's /clients) -----------------------------------------------------------------

function renderEndpoints(state) {
  $("endpoints").replaceChildren(
    "Ollama front door ", el("code", { text: state.frontDoors.ollama }), " · OpenAI gateway ", el("code", { text: state.frontDoors.gateway }));
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = el("textarea", { class: "offscreen" });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
}

async function loadSetups() {
  const box = $("setups");
  try {
    const res = await api("/clients");
    if (res.status === 404) {
      box.replaceChildren(el("p", { class: "muted", text: "Client setups are not available from this proxy build; copilot-proxy doctor prints the VS Code setting." }));
      return;
    }
    if (!res.ok) throw new Error("HTTP " + res.status);
    const body = await res.json();
    const setups = Array.isArray(body.setups) ? body.setups : [];
    if (setups.length === 0) {
      box.replaceChildren(el("p", { class: "muted", text: "No client setups." }));
      return;
    }
    // Collapsed: a dozen setups with their snippets would push the models and the traffic below the fold.
    box.replaceChildren(...setups.map((s) =>
      el("details", { class: "setup", "data-setup": s.id },
        el("summary", { text: s.title || s.id }),
        s.description ? el("p", { text: s.description }) : null,
        ...(s.snippets || []).map((snippet) => {
          const button = el("button", { type: "button", "data-copy": "" }, "Copy");
          button.addEventListener("click", () => copy(snippet.text, button));
          return el("div", { class: "snippet" },
            el("div", { class: "head" }, el("span", { text: snippet.label + (snippet.language ? " · " + snippet.language : "") }), button),
            el("pre", {}, el("code", { text: snippet.text })));
        }))));
  } catch (error) {
    if (error instanceof Unauthorized) return;
    box.replaceChildren(el("p", { class: "muted", text: "Client setups could not be loaded." }));
  }
}

// ---- start ---------------------------------------------------------------------------------------------------------

async function start() {
  if (!(await refreshState())) return;
  stream();
  loadSetups();
  clearInterval(pollTimer);
  pollTimer = setInterval(refreshState, 5000);
}

start();
