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

export function renderMarkdown(text) {
  return DOMPurify.sanitize(marked.parse(text), PURIFY);
}

// A copy button on every code block. Made with the DOM API, after sanitising, so it never
// passes through (or weakens) the sanitiser.
function decorate(container) {
  for (const pre of container.querySelectorAll("pre")) {
    if (pre.querySelector(":scope > button.copy-code")) continue;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy-code";
    button.textContent = "Copy";
    const lang = pre.dataset.lang;
    button.setAttribute("aria-label", lang ? `Copy ${lang} code` : "Copy code");
    pre.append(button);
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

// Delegated: one listener per rendered answer handles every copy button in it.
export function handleCopyClick(event) {
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

function setHtml(element, safeHtml) {
  element.innerHTML = safeHtml;
  decorate(element);
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
// whether the answer has ten tokens or ten thousand. The same renderer shows a finished answer,
// so the text rendered while it streamed is kept, not rendered again.
export class StreamRenderer {
  constructor(element, onRender) {
    this.element = element;
    this.onRender = onRender;
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
        const block = document.createElement("div");
        setHtml(block, renderMarkdown(finished));
        this.frozen.append(block);
      }
      this.frozenUpTo = boundary;
    }
    if (caughtUp) {
      const rest = text.slice(this.frozenUpTo);
      if (rest !== this.shown) {
        setHtml(this.tail, renderMarkdown(rest));
        this.shown = rest;
      }
    } else {
      this.tail.replaceChildren();
      this.shown = null;
      this.frame = requestAnimationFrame(() => this.render());
    }
    this.onRender?.();
  }

  cancel() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
  }
}
