// Draws messages as the Telegram and Discord apps show them. No framework, no build step.
"use strict";

const Render = (() => {
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  };

  const hhmm = (date) =>
    date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });

  // --- Telegram: the HTML built from the message entities, kept to Telegram's own tags -------
  const TG_TAGS = new Set(["B", "STRONG", "I", "EM", "U", "INS", "S", "STRIKE", "DEL", "A",
    "CODE", "PRE", "BLOCKQUOTE", "TG-SPOILER", "SPAN", "BR"]);

  function safeUrl(href) {
    return /^(https?:|tg:|mailto:)/i.test(href || "") ? href : null;
  }

  function cleanInto(source, target) {
    for (const node of Array.from(source.childNodes)) {
      if (node.nodeType === Node.TEXT_NODE) {
        let text = node.textContent;
        // A quote is a block of its own: the line break after it is not an extra empty line.
        const prev = node.previousSibling;
        if (prev && prev.nodeName === "BLOCKQUOTE") text = text.replace(/^\n/, "");
        target.appendChild(document.createTextNode(text));
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        if (!TG_TAGS.has(node.tagName)) { cleanInto(node, target); continue; }
        const copy = document.createElement(node.tagName.toLowerCase());
        if (node.tagName === "A") {
          const href = safeUrl(node.getAttribute("href"));
          if (href) { copy.href = href; copy.target = "_blank"; copy.rel = "noopener noreferrer"; }
        }
        if (node.tagName === "SPAN" && node.classList.contains("tg-spoiler")) {
          copy.className = "tg-spoiler";
        }
        if (node.tagName === "TG-SPOILER") copy.className = "tg-spoiler";
        cleanInto(node, copy);
        target.appendChild(copy);
      }
    }
  }

  function telegramHtml(html) {
    const doc = new DOMParser().parseFromString(`<body>${html || ""}</body>`, "text/html");
    const out = el("div", "tg-text");
    cleanInto(doc.body, out);
    return out;
  }

  function telegramMessage(m, pane) {
    if (m.service) {
      const row = el("div", "tg-service");
      row.dataset.id = m.id;
      row.appendChild(el("span", null, m.service));
      return row;
    }
    const isChannel = pane.kind === "channel";
    const row = el("div", "msg tg-row" + (m.outgoing ? " out" : ""));
    row.dataset.id = m.id;
    const bubble = el("div", "tg-bubble" + (m.photo ? " has-photo" : ""));
    if (!m.outgoing && !isChannel && pane.kind !== "private") {
      bubble.appendChild(el("div", "tg-sender" + (m.from_bot ? " bot" : ""), m.sender));
    }
    if (isChannel) bubble.appendChild(el("div", "tg-sender channel", pane.title));
    if (m.photo) {
      const img = el("img", "tg-photo");
      img.src = m.photo;
      img.alt = "photo";
      bubble.appendChild(img);
    }
    if (m.html) bubble.appendChild(telegramHtml(m.html));
    const meta = el("div", "tg-meta");
    if (m.pinned) meta.appendChild(el("span", "pin", "📌"));
    if (m.silent) meta.appendChild(el("span", "silent", "🔕"));
    if (m.edited) meta.appendChild(el("span", "edited", "edited"));
    meta.appendChild(el("span", "time", m.date ? hhmm(new Date(m.date * 1000)) : ""));
    bubble.appendChild(meta);
    row.appendChild(bubble);
    return row;
  }

  // --- Discord: the embed fields, and Discord's Markdown in descriptions ------------------------
  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }

  function inline(text) {
    const kept = [];
    // Backslash escapes first: the escaped character is shown as is, never as Markdown.
    let s = text.replace(/\\([^A-Za-z0-9\s])/g, (_, ch) => `\u0000${kept.push(ch) - 1}\u0000`);
    s = escapeHtml(s);
    // <https://…>: a link Discord shows without its angle brackets (the relay writes a bare URL
    // that way when text follows it). Stashed, so no emphasis rule reaches into the URL.
    const links = [];
    const link = (url) =>
      `\u0001${links.push(`<a href="${url}" target="_blank" rel="noopener noreferrer">${url}</a>`) - 1}\u0001`;
    s = s.replace(/&lt;(https?:\/\/[^\s<>]+?)&gt;/g, (_, url) => link(url));
    s = s.replace(/`([^`]+)`/g, "<code>$1</code>");
    s = s.replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g,
      '<a href="$2" target="_blank" rel="noopener noreferrer">$1</a>');
    // A bare URL is a link in Discord too (not one inside an <a> made just above).
    s = s.replace(/(?<![">\/\w])https?:\/\/[^\s<]*[^\s<.,:;!?"')\]*_]/g, (url) => link(url));
    s = s.replace(/\*\*(.+?)\*\*/gs, "<strong>$1</strong>");
    s = s.replace(/__(.+?)__/gs, "<u>$1</u>");
    s = s.replace(/\*(?!\s)(.+?)\*/gs, "<em>$1</em>");
    s = s.replace(/(^|[^A-Za-z0-9])_(?!\s)(.+?)_(?![A-Za-z0-9])/gs, "$1<em>$2</em>");
    s = s.replace(/~~(.+?)~~/gs, "<s>$1</s>");
    s = s.replace(/\u0001(\d+)\u0001/g, (_, i) => links[Number(i)]);
    return s.replace(/\u0000(\d+)\u0000/g, (_, i) => escapeHtml(kept[Number(i)]));
  }

  function discordMarkdown(text) {
    const out = el("div", "dc-md");
    const blocks = [];
    for (const line of (text || "").split("\n")) {
      const quote = /^>\s?(.*)$/.exec(line);
      const last = blocks[blocks.length - 1];
      const kind = quote ? "quote" : "text";
      const body = quote ? quote[1] : line;
      if (last && last.kind === kind) last.lines.push(body);
      else blocks.push({ kind, lines: [body] });
    }
    for (const block of blocks) {
      const node = el("div", block.kind === "quote" ? "dc-quote" : "dc-lines");
      node.innerHTML = inline(block.lines.join("\n"));  // escaped in inline()
      out.appendChild(node);
    }
    return out;
  }

  function colour(value) {
    return "#" + Number(value || 0x1e1f22).toString(16).padStart(6, "0");
  }

  function embed(e) {
    const box = el("div", "dc-embed");
    box.style.borderLeftColor = colour(e.color);
    if (e.author && e.author.name) box.appendChild(el("div", "dc-embed-author", e.author.name));
    if (e.title) {
      const title = el(e.url ? "a" : "div", "dc-embed-title");
      title.innerHTML = inline(e.title);
      if (e.url && safeUrl(e.url)) { title.href = e.url; title.target = "_blank"; title.rel = "noopener"; }
      box.appendChild(title);
    }
    if (e.description) {
      const d = discordMarkdown(e.description);
      d.classList.add("dc-embed-description");
      box.appendChild(d);
    }
    for (const f of e.fields || []) {
      const field = el("div", "dc-embed-field");
      field.appendChild(el("div", "dc-field-name", f.name));
      field.appendChild(discordMarkdown(f.value));
      box.appendChild(field);
    }
    if (e.image && e.image.url) {
      const img = el("img", "dc-embed-image");
      img.src = e.image.url;
      img.alt = "embed image";
      box.appendChild(img);
    }
    const footer = [];
    if (e.footer && e.footer.text) footer.push(e.footer.text);
    if (e.timestamp) footer.push(discordTime(new Date(e.timestamp)));
    if (footer.length) box.appendChild(el("div", "dc-embed-footer", footer.join(" • ")));
    return box;
  }

  function discordTime(date) {
    const today = new Date();
    const same = date.toDateString() === today.toDateString();
    return (same ? "Today at " : date.toLocaleDateString() + " ") + hhmm(date);
  }

  function discordMessage(m) {
    const row = el("div", "msg dc-message" + (m.ephemeral ? " ephemeral" : ""));
    row.dataset.id = m.id;
    if (m.command) row.appendChild(el("div", "dc-command", "↳ answered a slash command"));
    const avatar = el("div", "dc-avatar", (m.author || "?").slice(0, 1).toUpperCase());
    const main = el("div", "dc-main");
    const head = el("div", "dc-head");
    head.appendChild(el("span", "dc-author", m.author));
    head.appendChild(el("span", "dc-app", "APP"));
    head.appendChild(el("span", "dc-time", discordTime(new Date((m.created_at || 0) * 1000))));
    main.appendChild(head);
    if (m.content) main.appendChild(discordMarkdown(m.content));
    for (const e of m.embeds || []) main.appendChild(embed(e));
    if (m.edited) main.appendChild(el("span", "dc-edited", "(edited)"));
    if (m.ephemeral) main.appendChild(el("div", "dc-ephemeral", "👁 Only you can see this"));
    const body = el("div", "dc-body");
    body.appendChild(avatar);
    body.appendChild(main);
    row.appendChild(body);
    return row;
  }

  // --- a preview: what the relay's adapters rendered (nothing sent), drawn as each app shows it --
  function preview(rendered, telegramBox, discordBox) {
    telegramBox.replaceChildren();
    discordBox.replaceChildren();
    const pane = { kind: "channel", title: "Preview" };
    const now = Date.now() / 1000;
    for (const m of rendered.telegram || []) {
      telegramBox.appendChild(telegramMessage({ id: "p", html: m.html, photo: m.photo, date: now }, pane));
    }
    for (const p of rendered.discord || []) {
      discordBox.appendChild(discordMessage({ id: "p", author: "Preview", content: p.content || "",
        embeds: p.embeds || [], created_at: now }));
    }
  }

  return { el, telegramMessage, discordMessage, telegramHtml, discordMarkdown, embed, hhmm, preview };
})();
