// The editors' desk: compose with a live preview, publish, follow progress, edit and delete.
// Every call goes to the desk's JSON endpoints with the session's CSRF token; a 401 (the
// session expired) goes back to the sign-in page.
"use strict";

const { el } = Render;
const $ = (id) => document.getElementById(id);
let session = null;  // {editor, csrf, topics, platforms}
let previewTimer = null;
let previewSeq = 0;
let editing = null;  // the list item being edited ({update, publish_at?}), or null

class SignedOut extends Error {}

// `body`: a value sent as JSON, or a File sent as it is (its own content type).
async function call(method, path, body) {
  const headers = { "X-CSRF-Token": session ? session.csrf : "" };
  const file = body instanceof Blob;
  if (body !== undefined) headers["Content-Type"] = file ? (body.type || "application/octet-stream") : "application/json";
  const response = await fetch(`api/${path}`, {
    method, headers, credentials: "same-origin",
    body: body === undefined || file ? body : JSON.stringify(body),
  });
  if (response.status === 401) {
    location.assign("signin?expired=1");
    throw new SignedOut("signed out");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const field = data.field ? `${data.field}: ` : "";
    throw new Error(`${field}${data.error || response.statusText}`);
  }
  return data;
}

function status(id, text, ok) {
  const s = $(id);
  s.textContent = text;
  s.dataset.ok = ok ? "yes" : "no";
}

// --- the composer ----------------------------------------------------------------------------
// The local time typed in the "Publish at" field, as an ISO date-time with its time zone.
function publishAt() {
  const value = $("f-at").value;
  return value ? new Date(value).toISOString() : null;
}

// A date-time from the server, as the "Publish at" field shows it (the browser's time zone).
function localInput(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function when(iso) {
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function formUpdate() {
  const url = $("f-image").value.trim();
  return {
    topic: $("f-topic").value,
    headline: $("f-headline").value.trim(),
    body: $("f-body").value,
    link: $("f-link").value.trim() || null,
    image: url ? { url, caption: $("f-caption").value, credit: $("f-credit").value } : null,
    breaking: $("f-breaking").checked,
  };
}

function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(showPreview, 250);
}

async function showPreview() {
  const seq = ++previewSeq;
  const update = formUpdate();
  const tg = $("preview-telegram");
  const dc = $("preview-discord");
  if (!update.headline) {
    tg.replaceChildren();
    dc.replaceChildren();
    status("preview-status", "Write a headline to see the preview.", true);
    return;
  }
  try {
    const r = await call("POST", "preview", update);
    if (seq !== previewSeq) return;  // a newer preview is on its way
    Render.preview(r, tg, dc);
    $("preview-telegram-box").hidden = !r.telegram;
    $("preview-discord-box").hidden = !r.discord;
    status("preview-status", "", true);
  } catch (err) {
    if (seq === previewSeq && !(err instanceof SignedOut)) {
      status("preview-status", `Cannot preview: ${err.message}`, false);
    }
  }
}

async function publish(event) {
  event.preventDefault();
  const id = $("f-id").value;
  const update = formUpdate();
  const at = publishAt();
  try {
    if (id) {
      const { topic, ...changes } = update;
      if (editing && editing.publish_at && at) changes.publish_at = at;
      const r = await call("PATCH", `updates/${encodeURIComponent(id)}`, changes);
      status("composer-status", r.scheduled
        ? `Changed ${r.id}: it waits until ${when(r.publish_at)}.`
        : `Edited ${r.id}: revision ${r.revision} is on its way to every copy.`, true);
      stopEdit();
    } else {
      const r = await call("POST", "updates", at ? { ...update, publish_at: at } : update);
      status("composer-status", r.scheduled
        ? `Scheduled ${r.id} for ${when(r.publish_at)}.`
        : `Published ${r.id} (revision ${r.revision}).`, true);
      $("composer").reset();
      buttonLabel();
    }
    schedulePreview();
    refresh();
  } catch (err) {
    if (!(err instanceof SignedOut)) status("composer-status", `Nothing was changed: ${err.message}`, false);
  }
}

// A photo from this computer goes into the relay's media store; its URL (no public one: each
// platform gets the file) fills the photo field, and the preview draws it from the desk.
async function upload() {
  const input = $("f-upload");
  const file = input.files[0];
  if (!file) return;
  status("composer-status", `Uploading ${file.name}…`, true);
  try {
    const r = await call("POST", "photos", file);
    $("f-image").value = r.url;
    status("composer-status", `Uploaded ${file.name} (${Math.ceil(r.bytes / 1024)} KB): it goes with the update.`, true);
    schedulePreview();
  } catch (err) {
    if (!(err instanceof SignedOut)) status("composer-status", `Not uploaded: ${err.message}`, false);
  } finally {
    input.value = "";
  }
}

function buttonLabel() {
  if ($("f-id").value) $("btn-publish").textContent = "Save edit";
  else $("btn-publish").textContent = $("f-at").value ? "Schedule" : "Publish";
}

function startEdit(listed) {
  const d = listed.update;
  editing = listed;
  $("f-id").value = d.id;
  $("f-topic").value = d.topic;
  $("f-topic").disabled = true;
  $("f-headline").value = d.headline || "";
  $("f-body").value = d.body || "";
  $("f-link").value = d.link || "";
  $("f-image").value = d.image ? d.image.url : "";
  $("f-caption").value = d.image ? d.image.caption : "";
  $("f-credit").value = d.image ? d.image.credit : "";
  $("f-breaking").checked = Boolean(d.breaking);
  // A scheduled update can move; a published one went out at its time.
  $("f-at").value = listed.publish_at ? localInput(listed.publish_at) : "";
  $("f-at").disabled = !listed.publish_at;
  $("f-at").required = Boolean(listed.publish_at);  // to publish it now, cancel and publish
  $("composer-title").textContent = `Edit ${d.id}`;
  $("btn-publish").textContent = "Save edit";
  $("btn-cancel").hidden = false;
  $("f-headline").focus();
  schedulePreview();
}

function stopEdit() {
  editing = null;
  $("composer").reset();
  $("f-id").value = "";
  $("f-topic").disabled = false;
  $("f-at").disabled = false;
  $("f-at").required = false;
  $("composer-title").textContent = "Compose an update";
  $("btn-publish").textContent = "Publish";
  $("btn-cancel").hidden = true;
}

async function removeUpdate(id, scheduled) {
  const question = scheduled ? `Cancel ${id}? It has not been sent anywhere.` : `Delete ${id} from every chat?`;
  if (!window.confirm(question)) return;
  try {
    const r = await call("DELETE", `updates/${encodeURIComponent(id)}`);
    status("composer-status", r.cancelled
      ? `Cancelled ${r.id}: it will not be sent.`
      : `Deleted ${r.id}: every copy is being removed.`, true);
    if ($("f-id").value === id) stopEdit();
    refresh();
  } catch (err) {
    if (!(err instanceof SignedOut)) status("composer-status", `Nothing was changed: ${err.message}`, false);
  }
}

// --- recent updates and their progress -------------------------------------------------------
function topicColour(slug) {
  const t = session.topics.find((x) => x.slug === slug);
  return t ? t.color : "#888";
}

let drawn = null;  // what the list shows, as JSON: unchanged, it is not redrawn

function drawUpdates(items) {
  const json = JSON.stringify(items);
  if (json === drawn) return;
  drawn = json;
  // The photos of recent updates, offered again in the photo field.
  const photos = new Map();
  for (const { update: u } of items) {
    if (u.image && u.image.url && !photos.has(u.image.url)) photos.set(u.image.url, u.headline);
  }
  $("photo-list").replaceChildren(...Array.from(photos, ([url, headline]) => {
    const option = new Option(headline, url);
    option.label = headline;
    return option;
  }));
  const list = $("updates");
  list.replaceChildren();
  if (!items.length) list.appendChild(el("li", "empty", "Nothing published from the desk yet."));
  for (const listed of items) {
    const { update: u, progress: p, summary } = listed;
    const deleted = u.action === "delete";
    const scheduled = Boolean(listed.publish_at);
    const li = el("li", "update" + (deleted ? " deleted" : "") + (scheduled ? " scheduled" : ""));
    li.dataset.update = u.id;
    li.dataset.done = p && p.revision === u.revision && p.done ? "yes" : "no";
    li.dataset.scheduled = scheduled ? "yes" : "no";
    const top = el("div", "update-top");
    const dot = el("span", "dot");
    dot.style.background = topicColour(u.topic);
    top.append(dot, el("span", "update-headline", deleted ? `(deleted) ${u.headline}` : u.headline));
    li.appendChild(top);
    li.appendChild(el("div", "update-id", scheduled ? `${u.id} · ${u.topic} · waiting`
      : `${u.id} · ${u.topic} · revision ${u.revision} · ${u.action}`));
    li.appendChild(el("div", "update-id author", `by ${u.author || "?"}`));
    if (scheduled) {
      li.appendChild(el("div", "progress-text", `scheduled for ${when(listed.publish_at)}`));
    } else {
      const bar = el("div", "bar");
      const fill = el("div", "fill" + (p && p.failed ? " failed" : ""));
      const total = p ? Math.max(p.total, 1) : 1;
      fill.style.width = p ? `${Math.round(100 * (p.delivered + p.failed) / total)}%` : "0%";
      bar.appendChild(fill);
      li.appendChild(bar);
      li.appendChild(el("div", "progress-text", p && p.revision === u.revision ? summary : "queued…"));
    }
    if (!deleted) {
      const actions = el("div", "update-actions");
      const edit = el("button", "link btn-edit", "Edit");
      edit.type = "button";
      edit.addEventListener("click", () => startEdit(listed));
      const del = el("button", "link danger btn-delete", scheduled ? "Cancel" : "Delete");
      del.type = "button";
      del.addEventListener("click", () => removeUpdate(u.id, scheduled));
      actions.append(edit, del);
      li.appendChild(actions);
    }
    list.appendChild(li);
  }
}

async function refresh() {
  try {
    drawUpdates((await call("GET", "updates")).updates);
  } catch (err) {
    if (!(err instanceof SignedOut)) status("composer-status", `Cannot list updates: ${err.message}`, false);
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  try {
    session = await call("GET", "session");
  } catch (err) {
    if (!(err instanceof SignedOut)) status("composer-status", `Cannot start: ${err.message}`, false);
    return;
  }
  $("editor").textContent = `Signed in as ${session.editor}`;
  $("signout-csrf").value = session.csrf;
  for (const t of session.topics) $("f-topic").appendChild(new Option(`${t.title} (${t.slug})`, t.slug));
  $("composer").addEventListener("submit", publish);
  $("composer").addEventListener("input", schedulePreview);
  $("f-upload").addEventListener("change", upload);
  $("f-at").addEventListener("input", buttonLabel);
  $("btn-cancel").addEventListener("click", () => { stopEdit(); status("composer-status", "", true); schedulePreview(); });
  document.body.dataset.ready = "yes";
  showPreview();
  refresh();
  setInterval(refresh, 1000);
});
