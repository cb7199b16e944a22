// The chat page: one WebSocket to the API, the tutorial's sendmessage protocol.
"use strict";
(() => {
  const MAX_MESSAGES = 500; // older ones are dropped from the page
  const stage = document.querySelector('meta[name="apigw-stage"]').content;
  const byId = (id) => document.getElementById(id);
  const nameInput = byId("name");
  const connectButton = byId("connect");
  const disconnectButton = byId("disconnect");
  const status = byId("status");
  const list = byId("messages");
  const messageInput = byId("message");
  const sendButton = byId("send-button");
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const endpoint = `${scheme}//${location.host}/${stage}`;
  let socket = null;

  byId("endpoint").textContent = endpoint;

  function setStatus(text, kind) {
    status.textContent = text;
    status.className = `status ${kind || ""}`;
  }

  function add(kind, text, name) {
    const item = document.createElement("li");
    item.className = kind;
    if (name) {
      const who = document.createElement("b");
      who.textContent = name;
      item.append(who, text);
    } else {
      item.textContent = text;
    }
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(item);
    while (list.childElementCount > MAX_MESSAGES) list.firstElementChild.remove();
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function setOpen(open) {
    connectButton.disabled = open;
    nameInput.disabled = open;
    disconnectButton.disabled = !open;
    messageInput.disabled = !open;
    sendButton.disabled = !open;
  }

  function describeClose(event) {
    const reason = event.reason ? `reason "${event.reason}"` : "no reason";
    let text = `Connection closed: code ${event.code}, ${reason}.`;
    if (event.code === 1006) {
      text += " (The connection failed or was refused; the emulator's log says why.)";
    }
    return text;
  }

  byId("join").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    if (!name || socket) return;
    setStatus(`Connecting as ${name}…`);
    const ws = new WebSocket(`${endpoint}?name=${encodeURIComponent(name)}`);
    socket = ws;
    setOpen(true);
    messageInput.disabled = true;
    sendButton.disabled = true;
    ws.addEventListener("open", () => {
      setStatus(`Connected as ${name}.`, "ok");
      add("system", `Connected as ${name}.`);
      setOpen(true);
      messageInput.focus();
    });
    ws.addEventListener("message", (message) => {
      const text = typeof message.data === "string" ? message.data : "[a binary message]";
      const match = /^([^:\n]{1,40}): /.exec(text);
      if (match) add("message", text.slice(match[1].length), match[1]);
      else add("message", text);
    });
    ws.addEventListener("close", (closed) => {
      const text = describeClose(closed);
      setStatus(text, "closed");
      add("system closed", text);
      socket = null;
      setOpen(false);
      connectButton.focus();
    });
  });

  disconnectButton.addEventListener("click", () => {
    if (socket) socket.close(1000, "Bye");
  });

  byId("send").addEventListener("submit", (event) => {
    event.preventDefault();
    const data = messageInput.value;
    if (!data || !socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ action: "sendmessage", data }));
    messageInput.value = "";
    messageInput.focus();
  });
})();
