// The demo page: panes kept live from /demo/events, the composer on the relay's /v1 API.
"use strict";

const { el } = Render;
const panes = new Map();    // "telegram:<chat>" → {info, list, pinbar}
const updates = new Map();  // update id → latest update event + progress
let topics = [];
let photos = [];

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
  topics = state.topics || [];
  photos = state.photos || [];
  fillComposer();
  for (const root of ["telegram-panes", "discord-panes"]) document.getElementById(root).replaceChildren();
  panes.clear();
  for (const info of state.panes) {
    const pane = buildPane(info);
    panes.set(info.key, pane);
    document.getElementById(`${info.platform}-panes`).appendChild(pane.box);
    for (const m of info.messages) upsert(pane, m, false);
  }
  updates.clear();
  for (const u of state.updates) updates.set(u.id, u);
  drawUpdates();
  document.getElementById("narration").replaceChildren();
  for (const line of state.narration) narrate(line);
}

// --- progress and narration --------------------------------------------------------------------
function topicColour(slug) {
  const t = topics.find((x) => x.slug === slug);
  return t ? t.color : "#888";
}

function drawUpdates() {
  const list = document.getElementById("updates");
  list.replaceChildren();
  const items = Array.from(updates.values()).reverse();
  if (!items.length) list.appendChild(el("li", "empty", "Nothing published yet."));
  for (const u of items) {
    const li = el("li", "update" + (u.action === "delete" ? " deleted" : ""));
    li.dataset.update = u.id;
    const top = el("div", "update-top");
    const dot = el("span", "dot");
    dot.style.background = topicColour(u.topic);
    top.appendChild(dot);
    top.appendChild(el("span", "update-headline", u.action === "delete" ? `(deleted) ${u.headline}` : u.headline));
    li.appendChild(top);
    li.appendChild(el("div", "update-id", `${u.id} · ${u.topic} · revision ${u.revision} · ${u.action}`));
    const p = u.progress;
    const bar = el("div", "bar");
    const fill = el("div", "fill" + (p && p.failed ? " failed" : ""));
    const total = p ? Math.max(p.total, 1) : 1;
    fill.style.width = p ? `${Math.round(100 * (p.delivered + p.failed) / total)}%` : "0%";
    bar.appendChild(fill);
    li.appendChild(bar);
    li.appendChild(el("div", "progress-text", p && p.revision === u.revision ? p.summary : "queued…"));
    if (u.action !== "delete") {
      const actions = el("div", "update-actions");
      const edit = el("button", "link btn-edit", "Edit");
      edit.type = "button";
      edit.addEventListener("click", () => startEdit(u));
      const del = el("button", "link danger btn-delete", "Delete");
      del.type = "button";
      del.addEventListener("click", () => removeUpdate(u.id));
      actions.append(edit, del);
      li.appendChild(actions);
    }
    list.appendChild(li);
  }
}

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
    } else if (ev.type === "update" || ev.type === "progress") {
      const u = updates.get(ev.id) || {};
      const { type, ...rest } = ev;
      updates.delete(ev.id);  // the latest change goes to the top
      updates.set(ev.id, Object.assign(u, rest));
      drawUpdates();
    } else if (ev.type === "log") narrate(ev);
  };
}

// --- the composer ------------------------------------------------------------------------------
const $ = (id) => document.getElementById(id);

function fillComposer() {
  const topic = $("f-topic");
  if (!topic.options.length) {
    for (const t of topics) topic.appendChild(new Option(`${t.title} (${t.slug})`, t.slug));
  }
  const photo = $("f-photo");
  if (photo.options.length === 1) {
    for (const p of photos) photo.appendChild(new Option(p.label, location.origin + p.path));
  }
}

function formUpdate() {
  const url = $("f-photo").value;
  return {
    topic: $("f-topic").value,
    headline: $("f-headline").value.trim(),
    body: $("f-body").value,
    link: $("f-link").value.trim() || null,
    image: url ? { url, caption: $("f-caption").value, credit: $("f-credit").value } : null,
    breaking: $("f-breaking").checked,
    author: $("f-author").value.trim(),
  };
}

function status(text, ok) {
  const s = $("composer-status");
  s.textContent = text;
  s.dataset.ok = ok ? "yes" : "no";
}

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const field = data.field ? `${data.field}: ` : "";
    throw new Error(`${field}${data.error || response.statusText}`);
  }
  return data;
}

async function publish(event) {
  event.preventDefault();
  const id = $("f-id").value;
  const update = formUpdate();
  $("preview").hidden = true;
  try {
    if (id) {
      const { topic, ...changes } = update;
      const r = await call("PATCH", `/v1/updates/${encodeURIComponent(id)}`, changes);
      status(`Edited ${r.id}: revision ${r.revision} is on its way to every copy.`, true);
      stopEdit();
    } else {
      const r = await call("POST", "/v1/updates", update);
      status(`Published ${r.id} (revision ${r.revision}).`, true);
      $("composer").reset();
    }
  } catch (err) {
    status(`Nothing was changed: ${err.message}`, false);
  }
}

async function showPreview() {
  try {
    const r = await call("POST", "/demo/preview", formUpdate());
    Render.preview(r, $("preview-telegram"), $("preview-discord"));  // as the desk draws it
    $("preview").hidden = false;
    status("Preview only: nothing was published.", true);
  } catch (err) {
    status(`Cannot preview: ${err.message}`, false);
  }
}

function startEdit(u) {
  const d = u.update || {};
  $("f-id").value = u.id;
  $("f-topic").value = u.topic;
  $("f-topic").disabled = true;
  $("f-headline").value = d.headline || u.headline || "";
  $("f-body").value = d.body || "";
  $("f-link").value = d.link || "";
  const image = d.image || null;
  const photo = $("f-photo");
  if (image && !Array.from(photo.options).some((o) => o.value === image.url)) {
    photo.appendChild(new Option(image.url, image.url));
  }
  photo.value = image ? image.url : "";
  $("f-caption").value = image ? image.caption : "";
  $("f-credit").value = image ? image.credit : "";
  $("f-breaking").checked = Boolean(d.breaking);
  $("f-author").value = d.author || "";
  $("composer-title").textContent = `Edit ${u.id}`;
  $("btn-publish").textContent = "Save edit";
  $("btn-cancel").hidden = false;
  $("f-headline").focus();
}

function stopEdit() {
  $("composer").reset();
  $("f-id").value = "";
  $("f-topic").disabled = false;
  $("composer-title").textContent = "Compose an update";
  $("btn-publish").textContent = "Publish";
  $("btn-cancel").hidden = true;
}

async function removeUpdate(id) {
  try {
    const r = await call("DELETE", `/v1/updates/${encodeURIComponent(id)}`);
    status(`Deleted ${r.id}: every copy is being removed.`, true);
    if ($("f-id").value === id) stopEdit();
  } catch (err) {
    status(`Nothing was changed: ${err.message}`, false);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("composer").addEventListener("submit", publish);
  $("btn-preview").addEventListener("click", showPreview);
  $("btn-cancel").addEventListener("click", () => { stopEdit(); status("", true); });
  $("btn-close-preview").addEventListener("click", () => { $("preview").hidden = true; });
  connect();
});
