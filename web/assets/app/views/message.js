// One message of the shown branch: the question, or the answer rendered as Markdown, with its
// status, its sources (each opens to the passage used), its branches and its actions.
import { html, memo, useEffect, useLayoutEffect, useRef, useState } from "../html.js";
import { StreamRenderer, answerClick, copyText } from "../markdown.js";
import { plural } from "../util.js";

const sourceCount = (sources) => (Array.isArray(sources) ? sources.length : 0);

// One renderer per answer for its whole life: the blocks rendered while it streamed stay when
// the finished text arrives, and a long text is rendered over several frames.
function MarkdownView({ text, live, citations, onRender, onCite }) {
  const element = useRef(null);
  const renderer = useRef(null);
  useLayoutEffect(() => {
    renderer.current ||= new StreamRenderer(element.current, onRender);
    const view = renderer.current;
    if (live) {
      return live.subscribe((value) => {
        view.setCitations(sourceCount(value.sources));
        view.update(value.text);
      });
    }
    view.setCitations(citations);
    view.show(text);
    return undefined;
  }, [text, live, citations]);
  useLayoutEffect(() => () => renderer.current?.cancel(), []);
  return html`<div class="markdown" ref=${element} onClick=${(e) => answerClick(e, onCite)}></div>`;
}

// `‹ 2/3 ›`: the versions of a question (edited) or of an answer (regenerated).
function BranchNav({ message, index, count, onNavigate, disabled }) {
  if (count < 2) return null;
  const what = message.role === "user" ? "question" : "answer";
  return html`<span class="branches" role="group" aria-label=${`${what} versions`}>
    <button type="button" class="icon" aria-label=${`Previous ${what} version`}
      disabled=${disabled || index === 0} onClick=${() => onNavigate(message.id, -1)}>‹</button>
    <span class="branch-count" aria-live="polite">${index + 1}/${count}</span>
    <button type="button" class="icon" aria-label=${`Next ${what} version`}
      disabled=${disabled || index === count - 1} onClick=${() => onNavigate(message.id, 1)}>›</button>
  </span>`;
}

// This API's sources are flat ({name, file_id, position, text, ...}); Open WebUI's nest them.
const sourceName = (s) => String(s?.name || s?.source?.name || s?.metadata?.[0]?.name || "source");
const sourceText = (s) => String(s?.text ?? s?.document?.[0] ?? "");

function where(source) {
  const parts = [];
  const page = source?.page ?? source?.metadata?.[0]?.page;
  if (Number.isInteger(page)) parts.push(`page ${page + 1}`);
  if (Number.isInteger(source?.position)) parts.push(`passage ${source.position + 1}`);
  return parts.join(", ");
}

// Numbered as the answer cites them ([1] first). Each opens to the passage the answer used.
function Sources({ sources, messageId, open, setOpen }) {
  const passage = useRef(null);
  useEffect(() => {
    if (open) passage.current?.scrollIntoView({ block: "nearest" });
  }, [open]);
  if (sourceCount(sources) === 0) return null;
  const shown = open && sources[open - 1];
  const id = `passage-${messageId}`;
  return html`<div class="sources" aria-label="Sources">
    <span class="muted">Sources:</span>
    <ol>${sources.map((source, i) => html`<li key=${i}>
      <button type="button" class="source" aria-expanded=${open === i + 1 ? "true" : "false"}
        aria-controls=${id} onClick=${() => setOpen(open === i + 1 ? 0 : i + 1)}>
        <span class="source-number">${i + 1}</span> ${sourceName(source)}
      </button></li>`)}</ol>
    ${shown && html`<figure class="passage" id=${id} ref=${passage} role="region" tabindex="-1"
      aria-label=${`Source ${open}: ${sourceName(shown)}`}>
      <figcaption><span class="source-number">${open}</span> <strong>${sourceName(shown)}</strong>
        ${where(shown) && html`<span class="muted"> · ${where(shown)}</span>`}
        <button type="button" class="icon" aria-label="Close the passage" onClick=${() => setOpen(0)}>×</button>
      </figcaption>
      <blockquote>${sourceText(shown)}</blockquote>
    </figure>`}
  </div>`;
}

// Sources arrive with the first streamed chunk; shown as soon as they do.
function LiveSources({ live, ...props }) {
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
  return html`<${Sources} sources=${sources} ...${props} />`;
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

// While the model host wakes (scale to zero): the seconds since the question was sent, updated
// every second until the first token. Re-rendered by the clock, not by every token.
function Waiting({ live }) {
  const [seconds, setSeconds] = useState(null);
  useEffect(() => {
    let timer = 0;
    const tick = () => setSeconds(Math.floor((Date.now() - live.sentAt) / 1000));
    const check = () => {
      const waiting = live.hostStarting && !live.text;
      if (waiting && !timer) {
        tick();
        timer = setInterval(tick, 1000);
      } else if (!waiting && timer) {
        clearInterval(timer);
        timer = 0;
        setSeconds(null);
      }
    };
    const unsubscribe = live.subscribe(check);
    return () => {
      unsubscribe();
      clearInterval(timer);
    };
  }, [live]);
  if (seconds === null) return html`<p class="status writing" role="status">Writing…</p>`;
  return html`<p class="status writing starting" role="status">
    Starting the model host… ${plural(seconds, "second")}
  </p>`;
}

function EditBox({ label, initial, submitLabel, onSubmit, onCancel }) {
  const [text, setText] = useState(initial);
  const area = useRef(null);
  useLayoutEffect(() => {
    area.current.focus();
    area.current.style.height = `${Math.min(area.current.scrollHeight + 2, 400)}px`;
  }, []);
  return html`<form class="edit-box" onSubmit=${(e) => {
    e.preventDefault();
    if (text.trim()) onSubmit(text);
  }}>
    <textarea ref=${area} aria-label=${label} value=${text}
      onInput=${(e) => setText(e.currentTarget.value)}
      onKeyDown=${(e) => {
        if (e.key !== "Escape") return;
        e.preventDefault();
        onCancel();
      }}></textarea>
    <div class="row">
      <button type="submit" class="primary small" disabled=${!text.trim()}>${submitLabel}</button>
      <button type="button" class="small" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

function MessageView({
  message, live, index, count, busy, onNavigate, onRegenerate, onResend, onEditAnswer, onRender,
}) {
  const [copied, setCopied] = useState(false);
  const [editing, setEditing] = useState(false);
  const [open, setOpen] = useState(0);
  if (message.role === "user") {
    if (editing) {
      return html`<div class="msg user editing" data-id=${message.id}>
        <${EditBox} label="Edit your message" initial=${message.content} submitLabel="Send"
          onCancel=${() => setEditing(false)}
          onSubmit=${(text) => {
            setEditing(false);
            onResend(message.id, text);
          }} />
      </div>`;
    }
    return html`<div class="msg user" data-id=${message.id}>
      <div class="bubble">${message.content}</div>
      <div class="actions">
        <${BranchNav} message=${message} index=${index} count=${count} onNavigate=${onNavigate}
          disabled=${busy} />
        <button type="button" class="small" disabled=${busy} onClick=${() => setEditing(true)}
          aria-label="Edit message">Edit</button>
      </div>
    </div>`;
  }
  const streaming = Boolean(live) || message.status === "streaming";
  const sources = live ? live.sources : message.sources;
  async function copy() {
    setCopied(await copyText(message.content));
    setTimeout(() => setCopied(false), 1500);
  }
  const sourceProps = { messageId: message.id, open, setOpen };
  return html`<article class=${`msg assistant status-${message.status}`} data-id=${message.id}
    aria-busy=${streaming ? "true" : "false"} aria-label="Answer">
    ${message.model && html`<p class="model muted">${message.model}</p>`}
    ${editing
      ? html`<${EditBox} label="Edit the answer" initial=${message.content} submitLabel="Save"
          onCancel=${() => setEditing(false)}
          onSubmit=${async (text) => {
            if (await onEditAnswer(message.id, text)) setEditing(false);
          }} />`
      : html`<${MarkdownView} text=${message.content} live=${live} citations=${sourceCount(sources)}
          onRender=${onRender} onCite=${setOpen} />`}
    ${live ? html`<${Waiting} live=${live} />` : streaming && html`<p class="status writing" role="status">Writing…</p>`}
    <${StatusNote} message=${message} />
    ${live ? html`<${LiveSources} live=${live} ...${sourceProps} />`
      : html`<${Sources} sources=${sources} ...${sourceProps} />`}
    <div class="actions">
      <${BranchNav} message=${message} index=${index} count=${count} onNavigate=${onNavigate}
        disabled=${busy} />
      ${!streaming && !editing &&
      html`<button type="button" class="small" onClick=${copy} aria-label="Copy answer">
          ${copied ? "Copied" : "Copy"}
        </button>
        <button type="button" class="small" disabled=${busy} onClick=${() => setEditing(true)}
          aria-label="Edit answer">Edit</button>
        <button type="button" class="small" disabled=${busy} onClick=${() => onRegenerate(message.id)}
          aria-label="Regenerate answer">Regenerate</button>`}
    </div>
  </article>`;
}

export const Message = memo(MessageView);
