// The request inspector: click one of the last 200 requests to see its timing, what the proxy changed, and (with
// CAPTURE_BODIES) its bodies side by side. Uses dashboard.js's api(), el(), fmtMs() and copy(); like it, data only goes in
// through textContent.
"use strict";

const CHANGE_NAMES = {
  ModelRenamed: "Model renamed",
  ToolCallIdsRewritten: "Tool-call id added",
  ToolCallsRepaired: "Tool calls repaired",
  ReasoningMoved: "Reasoning moved out of the text",
  ContextFloor: "Context floor applied",
  Retry: "Retried",
  Fallback: "Fell back",
};

// In the order they happen; model load and queue wait are spans before "sent upstream", the rest are moments.
const MARKS = [
  ["queueWaitMs", "Queue wait", "span"],
  ["modelLoadMs", "Model load", "span"],
  ["upstreamSentMs", "Sent upstream", "mark"],
  ["upstreamHeadersMs", "Upstream headers", "mark"],
  ["firstTokenMs", "First token", "mark"],
  ["lastTokenMs", "Last token", "mark"],
  ["totalMs", "Finished", "mark"],
];

function shellQuote(text) {
  return "'" + text.replace(/'/g, "'\\''") + "'";
}

// Straight to the upstream, as the proxy sent it: no key (the upstream's is never shown), the body in a quoted heredoc
// so nothing in it is expanded by the shell.
function curlFor(request, capture) {
  return "curl -sS -N " + shellQuote(request.upstreamUrl) + " \\\n  -H 'Content-Type: application/json' \\\n  --data-binary @- <<'COPILOT_PROXY_BODY'\n"
    + capture.sentUpstream + "\nCOPILOT_PROXY_BODY\n";
}

// The page's CSP has no 'unsafe-inline': positions go through the CSSOM, never a style attribute.
function placed(className, left, width) {
  const node = el("span", { class: className });
  node.style.left = left + "%";
  if (width !== undefined) node.style.width = width + "%";
  return node;
}

function timingRows(timing) {
  const total = Math.max(timing.totalMs, 1);
  const rows = [el("div", { class: "tl-row", "data-mark": "received" }, el("span", { class: "tl-label", text: "Received" }),
    el("span", { class: "tl-bar" }, placed("tl-dot", 0)), el("span", { class: "tl-ms", text: "0 ms" }))];
  let spanStart = 0;
  for (const [field, label, kind] of MARKS) {
    const ms = timing[field];
    if (ms === null || ms === undefined) continue;
    const bar = el("span", { class: "tl-bar" });
    if (kind === "span") {
      bar.append(placed("tl-span", (spanStart / total) * 100, Math.max((ms / total) * 100, 0.5)));
      spanStart += ms;
    } else {
      bar.append(placed("tl-dot", Math.min((ms / total) * 100, 100)));
    }
    rows.push(el("div", { class: "tl-row", "data-mark": field }, el("span", { class: "tl-label", text: label }), bar,
      el("span", { class: "tl-ms", text: (kind === "span" ? "" : "+") + fmtMs(ms) })));
  }
  return rows;
}

function fact(label, ...value) {
  return [el("dt", { text: label }), el("dd", {}, ...value)];
}

// A JSON body is easier to read indented; streams (SSE, NDJSON) and cut-off bodies are shown as they are.
function readable(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function bodyPane(id, title, text, note) {
  return el("div", { class: "body-pane", id },
    el("div", { class: "head" }, el("span", { text: title }), note ? el("span", { class: "muted small", text: note }) : null),
    text === null || text === undefined ? el("p", { class: "muted small", text: "Nothing: the request never reached this step." }) : el("pre", {}, el("code", { text: readable(text) })));
}

function renderInspection(data) {
  const r = data.request;
  const c = data.capture;
  const box = $("inspector-body");
  $("inspector").dataset.request = r.id;
  $("inspector-title").textContent = r.method + " " + r.route;
  const statusClass = r.status >= 500 ? "status-bad" : r.status >= 400 ? "status-warn" : "status-ok";

  const facts = el("dl", { class: "facts" },
    ...fact("Status", el("span", { class: statusClass, text: String(r.status) }), r.streaming ? " · streamed" : ""),
    ...fact("Front door", r.frontDoor + " · " + r.path),
    ...fact("Client", r.userAgent || "–"),
    ...fact("X-Initiator", r.initiator + (r.interactionId ? " · interaction " + r.interactionId : "")),
    ...fact("Model asked", r.clientModel || "–"),
    ...fact("Sent upstream as", r.upstreamModel || "–", r.upstreamUrl ? el("div", { class: "muted small", text: r.upstreamUrl }) : null),
    ...fact("Tokens", (r.promptTokens ?? "–") + " in · " + (r.completionTokens ?? "–") + " out" + (r.finishReason ? " · finish " + r.finishReason : "")),
    ...(r.traceId ? fact("Trace", el("code", { text: r.traceId })) : []));

  const changes = r.changes.length === 0
    ? el("p", { class: "muted", text: "Nothing: the request and its answer went through as they were." })
    : el("ul", { class: "changes" }, ...r.changes.map((ch) => el("li", { "data-change": ch.kind },
      el("span", { class: "chip", text: CHANGE_NAMES[ch.kind] || ch.kind }),
      ch.format ? el("span", { class: "chip format", text: ch.format }) : null,
      el("span", { text: " " + ch.detail }))));

  const failure = r.failure
    ? el("div", { id: "inspector-failure", class: "failure" }, el("strong", { text: r.failure }), r.failureMessage ? el("div", { class: "error", text: r.failureMessage }) : null)
    : null;

  let bodies;
  if (c) {
    const curl = el("button", { type: "button", id: "copy-curl", disabled: !(c.sentUpstream && r.upstreamUrl) }, "Copy as curl");
    const shown = el("pre", { id: "curl-command", hidden: true });
    curl.addEventListener("click", async () => {
      const command = curlFor(r, c);
      // Shown as well as copied: a modal dialog can keep the clipboard fallback from working, and a person may want to read it first.
      shown.replaceChildren(el("code", { text: command }));
      shown.hidden = false;
      await copy(command, curl);
      setTimeout(() => { curl.textContent = "Copy as curl"; }, 1600);
    });
    bodies = el("section", { id: "inspector-bodies" },
      el("div", { class: "head" }, el("h3", { text: "Bodies" }), el("span", { class: "muted small", text: "keys redacted, images elided to their size; kept in memory for the last " + data.captureLimit + " requests" }), curl),
      shown,
      el("div", { class: "bodies" },
        bodyPane("body-received", "Request as received", c.received),
        bodyPane("body-sent", "Request as sent upstream", c.sentUpstream),
        bodyPane("body-upstream", "Upstream's answer as written", c.upstreamAnswer, "before any repair"),
        bodyPane("body-client", "Answer as the client received it", c.clientAnswer)));
  } else {
    bodies = el("p", { id: "inspector-bodies", class: "muted small",
      text: data.captureBodies ? "Bodies are no longer kept: only the last " + data.captureLimit + " requests' are."
        : "Bodies are not captured. Set CAPTURE_BODIES=true (on with DEV_MODE) to see the request and the answer here." });
  }

  // replaceChildren would write a null as the text "null"; el() skips them.
  box.replaceChildren(...[
    el("div", { class: "inspector-top" },
      el("section", {}, el("h3", { text: "Timing" }), el("div", { id: "inspector-timing", class: "timeline" }, ...timingRows(r.timing))),
      el("section", {}, el("h3", { text: "Request" }), facts)),
    el("section", { id: "inspector-changes" }, el("h3", { text: "What the proxy changed" }), changes),
    failure,
    bodies].filter((node) => node !== null));
}

async function inspect(id) {
  const dialog = $("inspector");
  $("inspector-body").replaceChildren(el("p", { class: "muted", text: "Loading…" }));
  if (!dialog.open) dialog.showModal();
  try {
    const res = await api("/ui/api/requests/" + encodeURIComponent(id));
    const body = await res.json();
    if (!res.ok) throw new Error((body.error && body.error.message) || "HTTP " + res.status);
    renderInspection(body);
  } catch (error) {
    if (error instanceof Unauthorized) {
      dialog.close();
      return askForKey(true);
    }
    $("inspector-body").replaceChildren(el("p", { class: "error", text: String(error.message || error) }));
  }
}

$("recent").tBodies[0].addEventListener("click", (event) => {
  const row = event.target.closest("tr[data-request]");
  if (row) inspect(row.dataset.request);
});
$("recent").tBodies[0].addEventListener("keydown", (event) => {
  const row = event.target.closest("tr[data-request]");
  if (row && (event.key === "Enter" || event.key === " ")) {
    event.preventDefault();
    inspect(row.dataset.request);
  }
});
$("inspector-close").addEventListener("click", () => $("inspector").close());
