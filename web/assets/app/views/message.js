// One message of the shown branch: the question, or the answer rendered as Markdown, with its
// status, its branches (regenerated answers) and its actions.
import { html, memo, useLayoutEffect, useRef, useState } from "../html.js";
import { StreamRenderer, copyText, handleCopyClick } from "../markdown.js";

// One renderer per answer for its whole life: the blocks rendered while it streamed stay when
// the finished text arrives, and a long text is rendered over several frames.
function MarkdownView({ text, live, onRender }) {
  const element = useRef(null);
  const renderer = useRef(null);
  useLayoutEffect(() => {
    renderer.current ||= new StreamRenderer(element.current, onRender);
    const view = renderer.current;
    if (live) return live.subscribe((value) => view.update(value.text));
    view.show(text);
    return undefined;
  }, [text, live]);
  useLayoutEffect(() => () => renderer.current?.cancel(), []);
  return html`<div class="markdown" ref=${element} onClick=${handleCopyClick}></div>`;
}

function BranchNav({ message, index, count, onNavigate, disabled }) {
  if (count < 2) return null;
  const what = message.role === "user" ? "question" : "answer";
  return html`<span class="branches" role="group" aria-label=${`${what} versions`}>
    <button type="button" class="icon" aria-label=${`Previous ${what} version`}
      disabled=${disabled || index === 0} onClick=${() => onNavigate(message.id, -1)}>‹</button>
    <span class="branch-count" aria-live="polite">${index + 1} / ${count}</span>
    <button type="button" class="icon" aria-label=${`Next ${what} version`}
      disabled=${disabled || index === count - 1} onClick=${() => onNavigate(message.id, 1)}>›</button>
  </span>`;
}

function Sources({ sources }) {
  if (!Array.isArray(sources) || sources.length === 0) return null;
  const names = [];
  for (const source of sources) {
    // This API's sources are flat ({name, file_id, ...}); Open WebUI's nest them.
    const name = source?.name || source?.source?.name || source?.metadata?.[0]?.name;
    if (name && !names.includes(name)) names.push(String(name));
  }
  if (names.length === 0) return null;
  return html`<div class="sources" aria-label="Sources">
    <span class="muted">Sources:</span>
    <ul>${names.map((name) => html`<li class="source">${name}</li>`)}</ul>
  </div>`;
}

function StatusNote({ message }) {
  switch (message.status) {
    case "cancelled":
      return html`<p class="status stopped">Stopped</p>`;
    case "interrupted":
      return html`<p class="status warning">
        Interrupted: the server stopped before this answer was finished.
      </p>`;
    case "error": {
      const reason = message.error?.content || "the model host failed.";
      return message.content
        ? html`<p class="status error" role="alert">The answer was cut off by an error: ${reason}</p>`
        : html`<p class="status error" role="alert">No answer: ${reason}</p>`;
    }
    default:
      return null;
  }
}

function MessageView({
  message, live, index, count, busy, onNavigate, onRegenerate, onRender,
}) {
  const [copied, setCopied] = useState(false);
  if (message.role === "user") {
    return html`<div class="msg user" data-id=${message.id}>
      <div class="bubble">${message.content}</div>
      <div class="actions"><${BranchNav} message=${message} index=${index} count=${count}
        onNavigate=${onNavigate} disabled=${busy} /></div>
    </div>`;
  }
  const streaming = Boolean(live) || message.status === "streaming";
  const sources = live ? live.sources : message.sources;
  async function copy() {
    setCopied(await copyText(message.content));
    setTimeout(() => setCopied(false), 1500);
  }
  return html`<article class=${`msg assistant status-${message.status}`} data-id=${message.id}
    aria-busy=${streaming ? "true" : "false"} aria-label="Answer">
    ${message.model && html`<p class="model muted">${message.model}</p>`}
    <${MarkdownView} text=${message.content} live=${live} onRender=${onRender} />
    ${streaming && html`<p class="status writing" role="status">Writing…</p>`}
    <${StatusNote} message=${message} />
    ${live ? html`<${LiveSources} live=${live} />` : html`<${Sources} sources=${sources} />`}
    <div class="actions">
      <${BranchNav} message=${message} index=${index} count=${count} onNavigate=${onNavigate}
        disabled=${busy} />
      ${!streaming &&
      html`<button type="button" class="small" onClick=${copy} aria-label="Copy answer">
          ${copied ? "Copied" : "Copy"}
        </button>
        <button type="button" class="small" disabled=${busy} onClick=${() => onRegenerate(message.id)}
          aria-label="Regenerate answer">Regenerate</button>`}
    </div>
  </article>`;
}

// Sources arrive with the first streamed chunk; shown as soon as they do.
function LiveSources({ live }) {
  const [sources, setSources] = useState(live.sources);
  useLayoutEffect(() => {
    let last = live.sources;
    return live.subscribe((value) => {
      if (value.sources !== last) {
        last = value.sources;
        setSources(last);
      }
    });
  }, [live]);
  return html`<${Sources} sources=${sources} />`;
}

export const Message = memo(MessageView);
