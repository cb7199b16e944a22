// The inspector page: reads ws://HOST/_inspector/feed, renders connections,
// the activity stream and the route selection playground. No framework, no build.
"use strict";
(() => {
  const MAX_ENTRIES = 2000; // kept in memory, for the filters
  const MAX_ROWS = 400; // rendered; older rows leave the page
  const token = document.querySelector('meta[name="inspector-token"]').content;
  const byId = (id) => document.getElementById(id);
  const stream = byId("stream");
  const feedStatus = byId("feed-status");
  const streamNote = byId("stream-note");
  const show = byId("show");
  const onlyConnection = byId("only-connection");
  const pauseButton = byId("pause");
  const pg = {
    form: byId("playground"),
    expression: byId("pg-expression"),
    message: byId("pg-message"),
    routes: byId("pg-routes"),
    decision: byId("pg-decision"),
    trace: byId("pg-trace"),
    stepsBox: byId("pg-steps-box"),
    steps: byId("pg-steps"),
  };

  const entries = [];
  const connections = new Map();
  let lastSeen = 0; // the newest entry received
  let renderedUpTo = 0; // the newest entry rendered
  let paused = false;
  let flushTimer = null;
  let connectionsDirty = true;
  let feed = null;
  let live = false;
  let prefilled = false;
  let retryMs = 1000;
  let requestCount = 0;
  let typingTimer = null;

  const CLOSE_CODES = {
    1000: "normal closure", 1001: "going away", 1003: "unsupported data", 1005: "no status",
    1006: "abnormal closure, no close frame", 1007: "invalid data", 1008: "policy violation",
    1009: "message too big", 1011: "internal error",
  };

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }
  const code = (text) => el("code", { text });
  const pad = (number, width = 2) => String(number).padStart(width, "0");
  function clock(ms) {
    const d = new Date(ms);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }
  function pretty(text) {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text; // clipped, or not JSON
    }
  }
  // A <details> whose content is built only when first opened: thousands of rows stay cheap.
  function lazyDetails(label, text, asJson) {
    const box = el("details", {}, el("summary", { text: label }));
    box.addEventListener("toggle", () => {
      if (box.open && box.childElementCount === 1) {
        box.append(el("pre", { text: asJson ? pretty(text) : text }));
      }
    });
    return box;
  }

  // Routing decisions, in words.
  function decisionText(report) {
    switch (report.reason) {
      case "matched":
        return `→ route ${report.routeKey}: “${report.evaluated}” matched a route key exactly`;
      case "fallback":
        return `→ route $default (fallback): no route key equals “${report.evaluated}”`;
      case "not-json":
        return "→ route $default (fallback): the message is not JSON";
      case "forbidden":
        return report.evaluated === null
          ? "→ no route: not JSON and no $default, the client gets the Forbidden error frame"
          : `→ no route: nothing equals “${report.evaluated}” and there is no $default, the client gets the Forbidden error frame`;
      default:
        return report.evaluated === null
          ? "No route keys given: a non-JSON message goes to $default"
          : `No route keys given: the expression evaluates to “${report.evaluated}”`;
    }
  }
  function traceList(trace, list) {
    const target = list || el("ul", { class: "trace" });
    target.replaceChildren(
      ...trace.map((variable) =>
        el("li", {}, code(variable.source), variable.found
          ? ` found ${variable.value}, giving “${variable.text}”`
          : " found nothing, giving “”"),
      ),
    );
    return target;
  }

  // The activity stream.
  function group(entry) {
    if (entry.kind === "open" || entry.kind === "close" || entry.kind === "refuse") return "connection";
    return entry.kind;
  }
  function isError(entry) {
    return ((entry.kind === "invoke" || entry.kind === "lambda") && entry.outcome !== "ok")
      || (entry.kind === "send" && entry.source === "error")
      || (entry.kind === "frame" && entry.reason === "forbidden")
      || (entry.kind === "output" && (entry.level === "error" || entry.level === "critical"))
      || entry.kind === "refuse";
  }
  function passes(entry) {
    if (entry.kind === "gap") return true; // whatever the filter: entries are missing
    const wanted = show.value;
    if (wanted === "error" ? !isError(entry) : wanted !== "all" && group(entry) !== wanted) return false;
    const id = onlyConnection.value.trim();
    return !id || (entry.id || "").includes(id);
  }

  function row(entry) {
    const item = el("li", { "data-kind": entry.kind, class: isError(entry) ? "error" : "" });
    const head = el("div", { class: "head" }, el("span", { class: "time", text: clock(entry.t) }));
    item.append(head);
    // Spaces between the parts: copied text and screen readers keep the words apart.
    const badge = (text, tone) => head.append(" ", el("span", { class: `badge ${tone || ""}`, text }));
    const idChip = () => entry.id && head.append(" ", el("span", { class: "chip", text: entry.id }));
    const summary = (text) => head.append(" ", el("span", { class: "summary", text }));
    const line = (...children) => item.append(el("p", { class: "line" }, ...children));
    switch (entry.kind) {
      case "frame": {
        badge("FRAME");
        idChip();
        summary(decisionText(entry));
        line("Body: ", code(entry.body));
        line("Selection ", code(entry.expression), entry.trace.length ? ":" : "");
        if (entry.trace.length) item.append(traceList(entry.trace));
        item.append(lazyDetails("How it was routed, step by step", entry.steps.join("\n"), false));
        break;
      }
      case "invoke": {
        const tone = entry.outcome === "ok" ? "ok" : "error";
        badge(entry.outcome === "ok" ? "HANDLER" : entry.outcome.toUpperCase(), tone);
        idChip();
        const posts = entry.posts ? `, ${entry.posts} post${entry.posts === 1 ? "" : "s"}` : "";
        summary(`${entry.routeKey}: ${entry.outcome} in ${entry.durationMs} ms${posts}`);
        if (entry.lambdaRequestId) line("Lambda request id ", code(entry.lambdaRequestId));
        if (entry.error) line(el("span", { class: "error-text", text: entry.error }));
        if (entry.outcome === "timeout") {
          line(el("span", { class: "error-text", text: "The integration timed out." }));
        }
        item.append(lazyDetails("Event delivered to the handler", entry.event, true));
        if (entry.result !== null && entry.result.length <= 120) line("Result: ", code(entry.result));
        else if (entry.result !== null) item.append(lazyDetails("Result", entry.result, true));
        break;
      }
      case "lambda": {
        const tone = entry.outcome === "ok" ? "ok" : "error";
        badge("LAMBDA", tone);
        const posts = entry.posts ? `, ${entry.posts} post${entry.posts === 1 ? "" : "s"}` : "";
        summary(
          `${entry.function} (${entry.invocationType} from ${entry.caller}):`
          + ` ${entry.outcome} in ${entry.durationMs} ms${posts}`,
        );
        if (entry.error) line(el("span", { class: "error-text", text: entry.error }));
        item.append(lazyDetails("Event (the Invoke payload)", entry.event, true));
        if (entry.result !== null && entry.result.length <= 120) line("Result: ", code(entry.result));
        else if (entry.result !== null) item.append(lazyDetails("Result", entry.result, true));
        break;
      }
      case "output": {
        const failing = entry.level === "error" || entry.level === "critical";
        badge(entry.stream === "platform" ? "LAMBDA" : "LOG", failing ? "error" : "");
        idChip();
        summary(`${entry.function}${entry.requestId ? ` ${entry.requestId}` : " (init)"}`);
        item.append(el("pre", { class: "output", text: entry.text }));
        break;
      }
      case "send": {
        const labels = { post: ["POST", ""], "route-response": ["REPLY", "ok"], error: ["ERROR FRAME", "error"] };
        const [label, tone] = labels[entry.source] || [entry.source.toUpperCase(), ""];
        badge(label, tone);
        idChip();
        line(code(entry.data));
        break;
      }
      case "open":
        badge("CONNECT", "ok");
        idChip();
        summary(`from ${entry.sourceIp}`);
        if (entry.authorizer) line("Authorizer context: ", code(JSON.stringify(entry.authorizer)));
        break;
      case "close": {
        badge("CLOSE", "warn");
        idChip();
        const name = CLOSE_CODES[entry.code];
        summary(`code ${entry.code}${name ? ` (${name})` : ""}`);
        break;
      }
      case "gap":
        badge("GAP", "warn");
        summary(`${entry.dropped} ${entry.dropped === 1 ? "entry" : "entries"} not shown: `
          + "this page fell behind the feed, and the emulator dropped the oldest it held for it");
        break;
      case "refuse":
        badge("REFUSED", "error");
        idChip();
        summary(`HTTP ${entry.status} from ${entry.sourceIp}`);
        line("Path: ", code(entry.path));
        break;
      default:
        badge(String(entry.kind).toUpperCase());
        line(code(entry.details || ""));
    }
    return item;
  }

  function scheduleFlush() {
    if (flushTimer === null) flushTimer = setTimeout(flush, 40);
  }
  function flush() {
    flushTimer = null;
    if (connectionsDirty) renderConnections();
    if (paused) {
      const waiting = entries.filter((entry) => entry.n > renderedUpTo).length;
      streamNote.textContent = waiting ? `Paused: ${waiting} new entries waiting.` : "Paused.";
      return;
    }
    streamNote.textContent = "";
    const fresh = [];
    for (let i = entries.length - 1; i >= 0 && entries[i].n > renderedUpTo; i -= 1) {
      if (passes(entries[i])) fresh.push(entries[i]);
      if (fresh.length >= MAX_ROWS) break;
    }
    if (entries.length) renderedUpTo = entries[entries.length - 1].n;
    if (!fresh.length) return;
    const fragment = document.createDocumentFragment();
    for (const entry of fresh) fragment.append(row(entry)); // newest first
    stream.prepend(fragment);
    while (stream.childElementCount > MAX_ROWS) stream.lastElementChild.remove();
  }
  function rerender() {
    stream.replaceChildren();
    renderedUpTo = 0;
    flush();
  }

  function renderConnections() {
    connectionsDirty = false;
    const items = [...connections.values()].sort((a, b) => a.connectedAt - b.connectedAt).map((c) =>
      el("li", {},
        el("p", { class: "line" }, el("span", { class: "chip", text: c.id }),
          ` from ${c.sourceIp}, connected since ${clock(c.connectedAt)}`),
        c.userAgent ? el("p", { class: "line hint", text: c.userAgent }) : null,
        el("p", { class: "line" }, "Authorizer context: ",
          c.authorizer ? code(JSON.stringify(c.authorizer)) : el("span", { class: "hint", text: "none" }))));
    byId("connections").replaceChildren(...items);
    byId("connection-count").textContent = String(connections.size);
    byId("no-connections").hidden = connections.size > 0;
  }

  // The mocked AWS services: each table with its items, queues, topics, buckets.
  const cell = (value) => (typeof value === "string" ? value : JSON.stringify(value));
  const plural = (count, noun) => `${count} ${noun}${count === 1 ? "" : "s"}`;
  function itemsTable(table) {
    const columns = [...table.key];
    for (const item of table.items) {
      for (const name of Object.keys(item)) if (!columns.includes(name)) columns.push(name);
    }
    return el("table", { class: "items" },
      el("thead", {}, el("tr", {}, ...columns.map((name) => el("th", { scope: "col", text: name })))),
      el("tbody", {}, ...table.items.map((item) =>
        el("tr", {}, ...columns.map((name) => el("td", { text: name in item ? cell(item[name]) : "" }))))),
    );
  }
  function renderAws(message) {
    byId("aws-panel").hidden = false;
    const parts = [];
    for (const table of message.tables) {
      const shown = table.items.length < table.count ? ` (the first ${table.items.length} shown)` : "";
      parts.push(el("div", { class: "aws-resource", "data-table": table.name },
        el("h3", {}, code(table.name), ` DynamoDB table, ${table.region}`),
        el("p", { class: "hint", text: `key ${table.key.join(", ")}: ${plural(table.count, "item")}${shown}` }),
        table.items.length ? itemsTable(table) : null));
    }
    for (const queue of message.queues) {
      parts.push(el("div", { class: "aws-resource", "data-queue": queue.name },
        el("h3", {}, code(queue.name), ` SQS queue, ${queue.region}: ${plural(queue.messages.length, "message")}`),
        el("ul", { class: "trace" }, ...queue.messages.map((body) => el("li", {}, code(body))))));
    }
    for (const topic of message.topics) {
      parts.push(el("div", { class: "aws-resource" }, el("h3", {}, code(topic.name), ` SNS topic, ${topic.region}`)));
    }
    for (const bucket of message.buckets) {
      parts.push(el("div", { class: "aws-resource", "data-bucket": bucket.name },
        el("h3", {}, code(bucket.name), ` S3 bucket: ${plural(bucket.objects.length, "object")}`),
        el("ul", { class: "trace" }, ...bucket.objects.map((o) => el("li", {}, code(o.key), ` ${plural(o.size, "byte")}`)))));
    }
    byId("aws-data").replaceChildren(...parts);
    byId("no-aws").hidden = parts.length > 0;
  }

  // The feed.
  function setFeedStatus(text, tone) {
    feedStatus.textContent = text;
    feedStatus.className = `feed-status ${tone || ""}`;
  }
  let helloSequence = 0;
  function receive(message) {
    if (message.type === "hello") {
      live = true;
      retryMs = 1000;
      setFeedStatus("live", "live");
      helloSequence = message.last;
      byId("api-url").textContent = message.api.url;
      byId("api-expression").textContent = message.api.expression;
      byId("history-size").textContent = String(message.historySize);
      connections.clear();
      for (const connection of message.connections) connections.set(connection.id, connection);
      connectionsDirty = true;
      if (!prefilled) {
        prefilled = true;
        pg.expression.value = message.api.expression;
        pg.routes.value = message.api.routes.join(", ");
        pg.message.value = '{"action": "sendmessage", "data": "hello"}';
        askRoute();
      }
      scheduleFlush();
    } else if (message.type === "entries") {
      for (const entry of message.entries) {
        if (entry.n <= lastSeen) continue; // already here before a reconnect
        lastSeen = entry.n;
        entries.push(entry);
        // History may hold connections that closed unwatched: only live entries count.
        if (entry.n > helloSequence && entry.kind === "open") connections.set(entry.id, entry);
        if (entry.n > helloSequence && entry.kind === "close") connections.delete(entry.id);
        connectionsDirty = connectionsDirty || entry.kind === "open" || entry.kind === "close";
      }
      if (entries.length > MAX_ENTRIES) entries.splice(0, entries.length - MAX_ENTRIES);
      scheduleFlush();
    } else if (message.type === "gap") {
      // The entries first..last never come: one row says so, in their place.
      if (message.last > lastSeen) {
        lastSeen = message.last;
        entries.push({ kind: "gap", n: message.last, t: Date.now(), dropped: message.dropped });
        scheduleFlush();
      }
    } else if (message.type === "route" && message.id === requestCount) {
      showRoute(message);
    } else if (message.type === "aws") {
      renderAws(message);
    }
  }
  function connectFeed() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/_inspector/feed`);
    feed = socket;
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "hello", token })));
    socket.addEventListener("message", (event) => receive(JSON.parse(event.data)));
    socket.addEventListener("close", (event) => {
      live = false;
      feed = null;
      if (event.code === 1008) {
        setFeedStatus("refused: the emulator restarted, reload this page", "down");
        return;
      }
      setFeedStatus(`disconnected, retrying in ${retryMs / 1000} s`, "down");
      setTimeout(connectFeed, retryMs);
      retryMs = Math.min(retryMs * 2, 10000);
    });
  }

  // The playground: asks the emulator over the feed, shows only the latest answer.
  function askRoute() {
    if (!feed || !live) {
      pg.decision.textContent = "Waiting for the emulator…";
      return;
    }
    const routes = pg.routes.value.split(",").map((key) => key.trim()).filter(Boolean);
    requestCount += 1;
    feed.send(JSON.stringify({
      type: "route", id: requestCount, expression: pg.expression.value, message: pg.message.value, routes,
    }));
  }
  function showRoute(answer) {
    if (answer.error) {
      pg.decision.replaceChildren(el("span", { class: "error-text", text: `Error: ${answer.error}` }));
      pg.trace.replaceChildren();
      pg.stepsBox.hidden = true;
      return;
    }
    pg.decision.textContent = decisionText(answer);
    traceList(answer.trace, pg.trace);
    pg.steps.textContent = answer.steps.join("\n");
    pg.stepsBox.hidden = false;
  }
  pg.form.addEventListener("submit", (event) => {
    event.preventDefault();
    askRoute();
  });
  pg.form.addEventListener("input", () => {
    clearTimeout(typingTimer);
    typingTimer = setTimeout(askRoute, 200);
  });

  // The toolbar.
  show.addEventListener("change", rerender);
  onlyConnection.addEventListener("input", rerender);
  pauseButton.addEventListener("click", () => {
    paused = !paused;
    pauseButton.setAttribute("aria-pressed", String(paused)); // a toggle keeps its name
    flush();
  });
  byId("clear").addEventListener("click", () => {
    entries.length = 0;
    stream.replaceChildren();
    flush();
  });

  connectFeed();
})();
