// Markdown to safe HTML, and incremental rendering of an answer while it streams.
//
// Model output is untrusted: marked turns it into HTML (raw HTML passes through), highlight.js
// colours code, and every result goes through DOMPurify before it touches the DOM. The page's
// Content-Security-Policy is the second wall.
import DOMPurify from "../vendor/dompurify/purify.es.mjs";
import hljs from "../vendor/highlight/core.min.js";
import bash from "../vendor/highlight/languages/bash.min.js";
import c from "../vendor/highlight/languages/c.min.js";
import cpp from "../vendor/highlight/languages/cpp.min.js";
import css from "../vendor/highlight/languages/css.min.js";
import diff from "../vendor/highlight/languages/diff.min.js";
import go from "../vendor/highlight/languages/go.min.js";
import java from "../vendor/highlight/languages/java.min.js";
import javascript from "../vendor/highlight/languages/javascript.min.js";
import json from "../vendor/highlight/languages/json.min.js";
import markdown from "../vendor/highlight/languages/markdown.min.js";
import plaintext from "../vendor/highlight/languages/plaintext.min.js";
import python from "../vendor/highlight/languages/python.min.js";
import rust from "../vendor/highlight/languages/rust.min.js";
import shell from "../vendor/highlight/languages/shell.min.js";
import sql from "../vendor/highlight/languages/sql.min.js";
import typescript from "../vendor/highlight/languages/typescript.min.js";
import xml from "../vendor/highlight/languages/xml.min.js";
import yaml from "../vendor/highlight/languages/yaml.min.js";
import { Marked } from "../vendor/marked/marked.esm.js";

const LANGUAGES = {
  bash, c, cpp, css, diff, go, java, javascript, json, markdown, plaintext, python, rust, shell,
  sql, typescript, xml, yaml,
};
for (const [name, grammar] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, grammar);

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const marked = new Marked({
  gfm: true,
  renderer: {
    code({ text, lang }) {
      const language = (lang || "").trim().split(/\s+/)[0].toLowerCase();
      const known = language && hljs.getLanguage(language);
      const body = known
        ? hljs.highlight(text, { language, ignoreIllegals: true }).value
        : escapeHtml(text);
      const label = known ? language : "";
      return `<pre data-lang="${escapeHtml(label)}"><code class="hljs${
        known ? ` language-${escapeHtml(language)}` : ""
      }">${body}</code></pre>\n`;
    },
  },
});

const PURIFY = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "option", "dialog"],
  FORBID_ATTR: ["style", "autofocus"],
  ALLOW_DATA_ATTR: false,
  ADD_ATTR: ["data-lang"],
  SANITIZE_NAMED_PROPS: true,
};

// Links open in a new tab and tell the other site nothing about this page.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
});

// Markdown to a sanitised fragment of an inert document: nothing in it loads or runs until it
// is put into the page, and then only what is new (see morph).
export function renderFragment(text, citations = 0) {
  const fragment = DOMPurify.sanitize(marked.parse(text), { ...PURIFY, RETURN_DOM_FRAGMENT: true });
  decorate(fragment, citations);
  return fragment;
}

const CITATION = /\[(\d{1,3})\]/g;

// Copy buttons on code blocks, a scrolling frame around tables (a wide one must not widen a
// phone's page), and `[n]` markers made into buttons that open source n. Made with the DOM API
// after sanitising, so none of it passes through (or weakens) the sanitiser.
function decorate(root, citations) {
  const doc = root.ownerDocument;
  for (const pre of root.querySelectorAll("pre")) {
    const button = doc.createElement("button");
    button.type = "button";
    button.className = "copy-code";
    button.textContent = "Copy";
    const lang = pre.dataset.lang;
    button.setAttribute("aria-label", lang ? `Copy ${lang} code` : "Copy code");
    pre.append(button);
  }
  for (const table of root.querySelectorAll("table")) {
    const frame = doc.createElement("div");
    frame.className = "table-wrap";
    table.replaceWith(frame);
    frame.append(table);
  }
  if (citations > 0) linkCitations(root, citations);
}

function linkCitations(root, citations) {
  const doc = root.ownerDocument;
  const walker = doc.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.nodeValue.includes("[") && !node.parentElement?.closest("code, pre, a")) found.push(node);
  }
  for (const node of found) {
    const text = node.nodeValue;
    const parts = [];
    let last = 0;
    for (const match of text.matchAll(CITATION)) {
      const number = Number(match[1]);
      if (number < 1 || number > citations) continue;
      parts.push(text.slice(last, match.index));
      const button = doc.createElement("button");
      button.type = "button";
      button.className = "cite";
      button.dataset.cite = String(number);
      button.setAttribute("aria-label", `Source ${number}`);
      button.textContent = `[${number}]`;
      parts.push(button);
      last = match.index + match[0].length;
    }
    if (parts.length) node.replaceWith(...parts, text.slice(last));
  }
}

// The Clipboard API needs a secure context (https, or this machine's loopback); over plain http
// on a LAN address the old selection-based copy still works.
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

// Delegated: one listener per rendered answer handles its copy buttons and citation markers.
export function answerClick(event, onCite) {
  const cite = event.target.closest?.("button.cite");
  if (cite) {
    onCite?.(Number(cite.dataset.cite));
    return;
  }
  const button = event.target.closest?.("button.copy-code");
  if (!button) return;
  const code = button.parentElement.querySelector("code");
  copyText(code ? code.textContent : "").then((ok) => {
    button.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => {
      button.textContent = "Copy";
    }, 1500);
  });
}

function syncAttributes(live, wanted) {
  for (const { name } of [...live.attributes]) {
    if (!wanted.hasAttribute(name)) live.removeAttribute(name);
  }
  for (const { name, value } of wanted.attributes) {
    if (live.getAttribute(name) !== value) live.setAttribute(name, value);
  }
}

const sameNode = (a, b) =>
  a.nodeName === b.nodeName && (a.nodeName !== "IMG" || a.getAttribute("src") === b.getAttribute("src"));

// Makes `live`'s children equal to `wanted`'s (an inert fragment's) while keeping every node
// that did not change: a text node gets its new text, an element its new attributes, and only
// what is new is inserted. Images are never inserted here: each new one leaves a placeholder in
// `placed`, filled by placeImages once every removal of the frame is known, so an image that
// merely moved (a paragraph that became a list item) is the same element, loaded once.
function morph(live, wanted, spare, placed) {
  let current = live.firstChild;
  for (let next = wanted.firstChild; next; ) {
    const following = next.nextSibling;
    if (current && sameNode(current, next)) {
      if (current.nodeType === Node.ELEMENT_NODE) {
        syncAttributes(current, next);
        if (current.nodeName !== "IMG") morph(current, next, spare, placed);
      } else if (current.nodeValue !== next.nodeValue) {
        current.nodeValue = next.nodeValue;
      }
      current = current.nextSibling;
    } else {
      live.insertBefore(withPlaceholders(next, placed), current);
    }
    next = following;
  }
  while (current) {
    const following = current.nextSibling;
    keepImages(current, spare);
    current.remove();
    current = following;
  }
}

function withPlaceholders(node, placed) {
  if (node.nodeType !== Node.ELEMENT_NODE) return node;
  const images = node.nodeName === "IMG" ? [node] : [...node.querySelectorAll("img")];
  for (const image of images) {
    const slot = node.ownerDocument.createElement("span");
    placed.push([slot, image]);
    if (image === node) return slot;
    image.replaceWith(slot);
  }
  return node;
}

function keepImages(node, spare) {
  if (node.nodeType !== Node.ELEMENT_NODE) return;
  for (const image of node.nodeName === "IMG" ? [node] : node.querySelectorAll("img")) {
    const src = image.getAttribute("src");
    spare.set(src, [...(spare.get(src) || []), image]);
  }
}

function placeImages(placed, spare) {
  for (const [slot, image] of placed) {
    const kept = spare.get(image.getAttribute("src"))?.pop();
    if (kept) syncAttributes(kept, image);
    slot.replaceWith(kept || image);
  }
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;

// The end of the last complete Markdown block in text[from:]: just after a blank line that is
// not inside a fenced code block. Text before it will not change when more arrives.
export function stableBoundary(text, from) {
  const lastNewline = text.lastIndexOf("\n");
  let position = from;
  let boundary = from;
  let fence = null;
  while (position <= lastNewline) {
    const end = text.indexOf("\n", position);
    const line = text.slice(position, end);
    const opener = FENCE.exec(line);
    if (fence) {
      if (opener && opener[1][0] === fence[0] && opener[1].length >= fence.length && !line.slice(opener[0].length).trim()) {
        fence = null;
      }
    } else if (opener) {
      fence = opener[1];
    }
    if (!fence && line.trim() === "") boundary = end + 1;
    position = end + 1;
  }
  return boundary;
}

// Characters of finished Markdown blocks rendered in one go: well under a 50 ms task even with
// code to highlight. A longer text (a long answer opened after a reload) is shown over a few
// frames instead of in one long task.
const BLOCK_BUDGET = 3000;

// Renders a growing text at most once per animation frame, re-parsing only the block still
// being written: finished blocks are rendered once and kept, so each frame costs the same
// whether the answer has ten tokens or ten thousand. The block being written is updated in
// place (morph), so its unchanged nodes stay and an image in it loads once, not every frame;
// when it is finished its nodes move into the finished blocks. The same renderer shows a
// finished answer, so the text rendered while it streamed is kept, not rendered again.
export class StreamRenderer {
  constructor(element, onRender) {
    this.element = element;
    this.onRender = onRender;
    this.citations = 0;
    this.reset();
  }

  reset() {
    this.cancel();
    this.frozen = document.createElement("div");
    this.frozen.className = "md-frozen";
    this.tail = document.createElement("div");
    this.tail.className = "md-tail";
    this.element.replaceChildren(this.frozen, this.tail);
    this.frozenUpTo = 0;
    this.text = "";
    this.shown = null;
    // Images taken out of the answer by a re-parse, by src, for the same image to come back.
    this.spare = new Map();
  }

  // How many sources `[n]` markers may name; a change renders the text again.
  setCitations(count) {
    if (count === this.citations) return;
    this.citations = count;
    if (!this.text) return;
    const text = this.text;
    this.reset();
    this.update(text);
  }

  // Streaming: render on the next frame.
  update(text) {
    if (!text.startsWith(this.text.slice(0, this.frozenUpTo))) this.reset();
    this.text = text;
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  // A finished text: now if it is short, else over the next frames.
  show(text) {
    this.update(text);
    if (text.length - this.frozenUpTo <= BLOCK_BUDGET) {
      this.cancel();
      this.render();
    }
  }

  render() {
    this.frame = 0;
    const text = this.text;
    const placed = [];
    let boundary = stableBoundary(text, this.frozenUpTo);
    let caughtUp = true;
    if (boundary - this.frozenUpTo > BLOCK_BUDGET) {
      const within = stableBoundary(text.slice(0, this.frozenUpTo + BLOCK_BUDGET), this.frozenUpTo);
      if (within > this.frozenUpTo) boundary = within;
      caughtUp = boundary === stableBoundary(text, this.frozenUpTo);
    }
    if (boundary > this.frozenUpTo) {
      const finished = text.slice(this.frozenUpTo, boundary);
      if (finished.trim()) {
        // The block being written showed this text already: its nodes become the finished block.
        const block = document.createElement("div");
        block.append(...this.tail.childNodes);
        morph(block, renderFragment(finished, this.citations), this.spare, placed);
        this.frozen.append(block);
      }
      this.frozenUpTo = boundary;
      this.shown = null;
    }
    if (caughtUp) {
      const rest = text.slice(this.frozenUpTo);
      if (rest !== this.shown) {
        morph(this.tail, renderFragment(rest, this.citations), this.spare, placed);
        this.shown = rest;
      }
    } else {
      for (const node of this.tail.childNodes) keepImages(node, this.spare);
      this.tail.replaceChildren();
      this.shown = null;
      this.frame = requestAnimationFrame(() => this.render());
    }
    placeImages(placed, this.spare);
    this.onRender?.();
  }

  cancel() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
  }
}
