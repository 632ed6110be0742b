// The demo page: panes kept live from /demo/events. The editor is the desk, in its frame.
"use strict";

const { el } = Render;
const panes = new Map();    // "telegram:<chat>" → {info, list, pinbar}

// --- panes -------------------------------------------------------------------------------------
function initials(title) {
  return title.replace(/[^A-Za-z0-9 ]/g, "").split(" ").filter(Boolean).slice(0, 2)
    .map((w) => w[0].toUpperCase()).join("") || "#";
}

function buildPane(info) {
  const isTg = info.platform === "telegram";
  const box = el("article", isTg ? "pane tg-chat" : "pane dc-channel");
  box.dataset.pane = info.key;
  const head = el("header", isTg ? "tg-head" : "dc-head-bar");
  if (isTg) {
    head.appendChild(el("div", "tg-avatar " + info.kind, initials(info.title)));
    const names = el("div", "tg-names");
    names.appendChild(el("div", "tg-title", info.title));
    names.appendChild(el("div", "tg-sub", info.note));
    head.appendChild(names);
  } else {
    head.appendChild(el("span", "dc-hash", "#"));
    head.appendChild(el("span", "dc-name", info.title));
    head.appendChild(el("span", "dc-topic", info.note));
  }
  box.appendChild(head);
  const pinbar = el("div", "tg-pinbar");
  pinbar.hidden = true;
  if (isTg) box.appendChild(pinbar);
  const list = el("div", isTg ? "tg-messages" : "dc-messages");
  box.appendChild(list);
  const pane = { info, box, list, pinbar, messages: new Map(), stick: true, moving: false };
  // Follow the newest message unless the reader scrolled up to read older ones: only scrolls
  // that the page did not make itself count.
  list.addEventListener("scroll", () => {
    if (pane.moving) { pane.moving = false; return; }
    pane.stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  });
  return pane;
}

function draw(pane, m) {
  return pane.info.platform === "telegram"
    ? Render.telegramMessage(m, pane.info) : Render.discordMessage(m);
}

function newer(a, b) {  // ids are numbers (Telegram) or snowflakes (Discord), both as text
  return a.length !== b.length ? a.length > b.length : a > b;
}

function toBottom(pane) {
  const list = pane.list;
  if (!pane.stick || list.scrollHeight - list.scrollTop - list.clientHeight < 1) return;
  pane.moving = true;
  list.scrollTop = list.scrollHeight;
}

function upsert(pane, m, flash) {
  const old = pane.list.querySelector(`[data-id="${CSS.escape(m.id)}"]`);
  if (m.deleted) {
    pane.messages.delete(m.id);
    if (old) old.remove();
    refreshPin(pane);
    return;
  }
  pane.messages.set(m.id, m);
  const node = draw(pane, m);
  if (flash) node.classList.add("flash");
  if (old) old.replaceWith(node);
  else {
    const after = Array.from(pane.list.children).find((c) => newer(c.dataset.id, m.id));
    pane.list.insertBefore(node, after || null);
  }
  refreshPin(pane);
  for (const img of node.querySelectorAll("img")) img.addEventListener("load", () => toBottom(pane));
  toBottom(pane);
}

function refreshPin(pane) {
  if (pane.info.platform !== "telegram") return;
  const pinned = Array.from(pane.messages.values()).filter((m) => m.pinned && !m.service);
  const last = pinned[pinned.length - 1];
  pane.pinbar.hidden = !last;
  pane.pinbar.replaceChildren();
  if (!last) return;
  pane.pinbar.appendChild(el("div", "pin-label", "Pinned message"));
  const text = Render.telegramHtml(last.html).textContent.replace(/\s+/g, " ").trim();
  pane.pinbar.appendChild(el("div", "pin-text", text));
}

function setState(state) {
  // How many times the page (re)loaded the whole state: more than once means the stream broke.
  document.body.dataset.loads = String(Number(document.body.dataset.loads || 0) + 1);
  for (const root of ["telegram-panes", "discord-panes"]) document.getElementById(root).replaceChildren();
  panes.clear();
  for (const info of state.panes) {
    const pane = buildPane(info);
    panes.set(info.key, pane);
    document.getElementById(`${info.platform}-panes`).appendChild(pane.box);
    for (const m of info.messages) upsert(pane, m, false);
  }
  document.getElementById("narration").replaceChildren();
  for (const line of state.narration) narrate(line);
}

// --- narration ---------------------------------------------------------------------------------
function narrate(line) {
  const list = document.getElementById("narration");
  const li = el("li", null, line.text.trim());
  li.prepend(el("time", null, Render.hhmm(new Date(line.at * 1000)) + " "));
  list.prepend(li);
  while (list.children.length > 40) list.lastChild.remove();
}

// --- the live stream ---------------------------------------------------------------------------
function connect() {
  const badge = document.getElementById("connection");
  const source = new EventSource("/demo/events");
  source.onopen = () => { badge.dataset.state = "live"; badge.textContent = "live"; };
  source.onerror = () => { badge.dataset.state = "offline"; badge.textContent = "reconnecting…"; };
  source.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    if (ev.type === "state") setState(ev);
    else if (ev.type === "message") {
      const pane = panes.get(ev.pane);
      if (pane) upsert(pane, ev.message, true);
    } else if (ev.type === "log") narrate(ev);
  };
}

document.addEventListener("DOMContentLoaded", connect);
