// The chat page: the shown branch of a chat, the composer, and one generation at a time.
import { ApiError, api } from "../api.js";
import { html, useCallback, useEffect, useLayoutEffect, useRef, useState } from "../html.js";
import { StreamError, streamCompletion } from "../stream.js";
import { conversation, newestLeaf, pathTo, siblingsOf } from "../tree.js";
import { LiveText, plural, titleFrom, uuid } from "../util.js";
import { fileName, fileStatus } from "./knowledge.js";
import { Message } from "./message.js";

const POLL_MS = 1000;

// What the user reads when a request fails before any answer text arrives.
export function failureText(error) {
  if (error.status === 429) {
    const wait = error.retryAfter;
    return wait
      ? `You have reached your message limit. Try again in ${plural(wait, "second")}.`
      : "You have reached your message limit. Try again in a moment.";
  }
  if (error.status === 503) {
    return `The model host is down or not answering, so no answer could be written. ${error.message} Try again in a moment.`;
  }
  if (error.status === 502) return `The model host sent a broken answer. ${error.message}`;
  if (error.status === 0) return error.message;
  return error.message;
}

// Files and collections to search for the next message (sent as the request's `files`).
function Attachments({ attached, setAttached }) {
  const [open, setOpen] = useState(false);
  const [choices, setChoices] = useState(null);
  const [error, setError] = useState(null);

  async function toggle() {
    const opening = !open;
    setOpen(opening);
    if (!opening) return;
    try {
      const [files, knowledge] = await Promise.all([api.files(), api.collections()]);
      setChoices([
        ...knowledge.items.map((c) => ({ type: "collection", id: c.id, name: c.name })),
        ...files
          .filter((f) => fileStatus(f) === "completed")
          .map((f) => ({ type: "file", id: f.id, name: fileName(f) })),
      ]);
      setError(null);
    } catch (failure) {
      setError(failure.message);
    }
  }
  const isOn = (c) => attached.some((a) => a.id === c.id && a.type === c.type);
  const flip = (c) => setAttached(isOn(c) ? attached.filter((a) => !(a.id === c.id && a.type === c.type)) : [...attached, c]);

  return html`<div class="attachments">
    ${attached.length > 0 && html`<ul class="chips" aria-label="Attached">
      ${attached.map((a) => html`<li key=${a.type + a.id} class="chip">
        <span>${a.type === "collection" ? "Collection: " : ""}${a.name}</span>
        <button type="button" class="icon" aria-label=${`Detach ${a.name}`} onClick=${() => flip(a)}>×</button>
      </li>`)}
    </ul>`}
    <button type="button" class="small" aria-expanded=${open ? "true" : "false"}
      aria-controls="attach-panel" onClick=${toggle}>Attach files or a collection</button>
    ${open && html`<fieldset id="attach-panel" class="attach-panel">
      <legend>Search these for the next message</legend>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${choices && choices.length === 0 && html`<p class="muted">No processed files or collections yet:
        add some under <a href="#/knowledge">Files and knowledge</a>.</p>`}
      ${(choices || []).map((c) => html`<label key=${c.type + c.id} class="check">
        <input type="checkbox" checked=${isOn(c)} onChange=${() => flip(c)} />
        ${c.type === "collection" ? "Collection: " : "File: "}${c.name}
      </label>`)}
    </fieldset>`}
  </div>`;
}

function Composer({ onSend, onStop, busy, stopping, disabled, draft, setDraft }) {
  const area = useRef(null);
  useLayoutEffect(() => {
    // Grows with its text up to the CSS max-height, then scrolls.
    const el = area.current;
    el.style.height = "auto";
    el.style.height = `${el.scrollHeight}px`;
  }, [draft]);

  function submit(event) {
    event.preventDefault();
    if (!busy) onSend();
  }
  function onKeyDown(event) {
    // Enter sends; Shift+Enter is a new line; Enter while an IME composes is the IME's.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (!busy) onSend();
    }
  }
  return html`<form class="composer" onSubmit=${submit}>
    <label for="composer-input" class="offscreen">Message</label>
    <textarea id="composer-input" ref=${area} rows="1" value=${draft} disabled=${disabled}
      placeholder="Send a message (Enter to send, Shift+Enter for a new line)"
      onInput=${(e) => setDraft(e.currentTarget.value)} onKeyDown=${onKeyDown}></textarea>
    ${busy
      ? html`<button type="button" class="stop" onClick=${onStop} disabled=${stopping}
          aria-label="Stop generating">${stopping ? "Stopping…" : "Stop"}</button>`
      : html`<button type="submit" class="primary send" disabled=${disabled || !draft.trim()}
          aria-label="Send message">Send</button>`}
  </form>`;
}

export function ModelPicker({ models, model, setModel, error }) {
  if (error) return html`<p class="error model-error" role="alert">${error}</p>`;
  if (models && models.length === 0) {
    return html`<p class="error model-error" role="alert">
      No models are available: the model host may be down.
    </p>`;
  }
  return html`<label class="model-picker">
    <span class="offscreen">Model</span>
    <select aria-label="Model" value=${model || ""} onChange=${(e) => setModel(e.currentTarget.value)}
      disabled=${!models}>
      ${!models && html`<option value="">Loading models…</option>`}
      ${(models || []).map((m) => html`<option value=${m.id}>${m.name || m.id}</option>`)}
    </select>
  </label>`;
}

function chatMessages(chat) {
  return { messages: chat.chat.history.messages || {}, leaf: chat.chat.history.currentId || null };
}

export function ChatView({ chatId, model, navigate, onChatsChanged }) {
  const [messages, setMessages] = useState({});
  const [leafId, setLeafId] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [loading, setLoading] = useState(false);
  const [banner, setBanner] = useState(null);
  const [generation, setGeneration] = useState(null);
  const [draft, setDraft] = useState("");
  const [attached, setAttached] = useState([]);
  const [stopping, setStopping] = useState(false);
  const ownChat = useRef(null);
  // Server id of a streamed answer -> the id it streamed under, so its element (and the
  // Markdown rendered while it streamed) is kept when the saved chat replaces the local copy.
  const keys = useRef({});
  const aborter = useRef(null);
  const scroller = useRef(null);
  const atBottom = useRef(true);
  const current = useRef(chatId);
  current.current = chatId;

  const load = useCallback(async (id, preferLeaf = null) => {
    try {
      const chat = await api.chat(id);
      if (current.current !== id) return;
      const next = chatMessages(chat);
      setMessages(next.messages);
      setLeafId(preferLeaf && next.messages[preferLeaf] ? preferLeaf : next.leaf);
      setLoadError(null);
    } catch (error) {
      if (current.current !== id) return;
      setLoadError(error.status === 404 ? "This chat does not exist, or it was deleted." : error.message);
    } finally {
      if (current.current === id) setLoading(false);
    }
  }, []);

  useEffect(() => {
    setBanner(null);
    setStopping(false);
    if (ownChat.current && ownChat.current === chatId) return undefined;
    ownChat.current = null;
    aborter.current?.abort();
    setGeneration(null);
    setMessages({});
    setLeafId(null);
    setLoadError(null);
    atBottom.current = true;
    if (chatId) {
      setLoading(true);
      load(chatId);
    }
    return undefined;
  }, [chatId]);

  useEffect(() => () => aborter.current?.abort(), []);

  const path = pathTo(messages, leafId);
  const saved = Object.values(messages);
  const writingElsewhere = !generation && saved.some((m) => m.status === "streaming");

  // An answer still being written by the server (after a reload, or from another tab): follow
  // its checkpoints until it is finished.
  useEffect(() => {
    if (!writingElsewhere || !chatId) return undefined;
    const timer = setTimeout(() => load(chatId, leafId), POLL_MS);
    return () => clearTimeout(timer);
  }, [messages, writingElsewhere, chatId]);

  const followBottom = useCallback(() => {
    const el = scroller.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, []);
  useLayoutEffect(followBottom, [path.length, generation]);

  function onScroll() {
    const el = scroller.current;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  }

  async function run(request, { chat, tempId, previous, restoreDraft }) {
    const live = new LiveText();
    const controller = new AbortController();
    aborter.current = controller;
    setGeneration({ chat, tempId, live });
    setStopping(false);
    setBanner(null);
    atBottom.current = true;
    let answerId = null;
    let discarded = false;
    try {
      await streamCompletion(request, {
        signal: controller.signal,
        onStart: ({ messageId }) => {
          answerId = messageId;
        },
        onText: (text) => live.append(text),
        onSources: (sources) => live.setSources(sources),
      });
    } catch (error) {
      if (error.name === "AbortError") return;
      if (error instanceof ApiError && error.status === 429) {
        // Refused before anything was saved: the question goes back into the composer.
        discarded = true;
        setMessages(previous.messages);
        setLeafId(previous.leaf);
        if (restoreDraft) setDraft((d) => d || restoreDraft);
      }
      if (!(error instanceof StreamError)) {
        setBanner({ text: failureText(error), kind: error.status === 429 ? "limit" : "error" });
      }
    }
    if (controller.signal.aborted || current.current !== chat) return;
    if (answerId) keys.current[answerId] = tempId;
    if (!discarded) await load(chat, answerId);
    aborter.current = null;
    setGeneration(null);
    setStopping(false);
    onChatsChanged();
  }

  async function send() {
    const text = draft;
    if (!text.trim() || generation) return;
    if (!model) {
      setBanner({ text: "Choose a model first.", kind: "error" });
      return;
    }
    let id = chatId;
    if (!id) {
      try {
        const chat = await api.newChat(titleFrom(text));
        id = chat.id;
      } catch (error) {
        setBanner({ text: error.message, kind: "error" });
        return;
      }
      ownChat.current = id;
      current.current = id;
      navigate(`#/c/${encodeURIComponent(id)}`);
      onChatsChanged();
    }
    const shown = pathTo(messages, leafId);
    const parent = shown.length ? shown[shown.length - 1] : null;
    const now = Math.floor(Date.now() / 1000);
    const question = {
      id: `local-${uuid()}`, parentId: parent ? parent.id : null, childrenIds: [], role: "user",
      content: text, status: "complete", timestamp: now,
    };
    const answer = {
      id: `local-${uuid()}`, parentId: question.id, childrenIds: [], role: "assistant",
      content: "", status: "streaming", model, timestamp: now,
    };
    question.childrenIds.push(answer.id);
    const previous = { messages, leaf: leafId };
    const next = { ...messages, [question.id]: question, [answer.id]: answer };
    if (parent) next[parent.id] = { ...parent, childrenIds: [...parent.childrenIds, question.id] };
    setMessages(next);
    setLeafId(answer.id);
    setDraft("");
    const request = {
      model,
      chat_id: id,
      id: uuid(),
      user_message_id: uuid(),
      messages: [...conversation(shown), { role: "user", content: text }],
    };
    if (attached.length) request.files = attached.map(({ type, id }) => ({ type, id }));
    setAttached([]);
    // Under the answer being read, so a new question continues the branch on screen.
    if (parent && parent.role === "assistant") request.parent_id = parent.id;
    await run(request, { chat: id, tempId: answer.id, previous, restoreDraft: text });
  }

  const regenerate = useCallback(
    (answerId) => {
      if (generation) return;
      const answer = messages[answerId];
      const question = answer && messages[answer.parentId];
      if (!question || !chatId) return;
      const regenerated = {
        id: `local-${uuid()}`, parentId: question.id, childrenIds: [], role: "assistant",
        content: "", status: "streaming", model: model || answer.model,
        timestamp: Math.floor(Date.now() / 1000),
      };
      const previous = { messages, leaf: leafId };
      setMessages({
        ...messages,
        [question.id]: { ...question, childrenIds: [...question.childrenIds, regenerated.id] },
        [regenerated.id]: regenerated,
      });
      setLeafId(regenerated.id);
      const request = {
        model: model || answer.model,
        chat_id: chatId,
        id: uuid(),
        parent_id: question.id,
        messages: conversation(pathTo(messages, question.id)),
      };
      run(request, { chat: chatId, tempId: regenerated.id, previous });
    },
    [messages, leafId, generation, chatId, model],
  );

  const navigateBranch = useCallback(
    (messageId, step) => {
      const message = messages[messageId];
      if (!message) return;
      const siblings = siblingsOf(messages, message);
      const target = siblings[siblings.indexOf(messageId) + step];
      if (target) setLeafId(newestLeaf(messages, target));
    },
    [messages],
  );

  async function stop() {
    setStopping(true);
    try {
      await api.stopChat(generation ? generation.chat : chatId);
    } catch (error) {
      setStopping(false);
      setBanner({ text: `Could not stop the answer: ${error.message}`, kind: "error" });
    }
    // The stream ends on its own once the server has stopped the generation.
    if (!generation && chatId) load(chatId, leafId);
  }

  const busy = Boolean(generation);
  return html`<section class="chat" aria-label="Chat">
    <div class="messages" ref=${scroller} onScroll=${onScroll}>
      ${loading && html`<p class="muted center">Loading…</p>`}
      ${loadError && html`<p class="error center" role="alert">${loadError}</p>`}
      ${!chatId && !busy && html`<div class="empty">
        <h1>What can I help with?</h1>
        <p class="muted">Answers stream in as they are written. Pick a model above.</p>
      </div>`}
      ${path.map((message) => {
        const siblings = siblingsOf(messages, message);
        return html`<${Message} key=${keys.current[message.id] || message.id} message=${message}
          live=${generation && generation.tempId === message.id ? generation.live : null}
          index=${siblings.indexOf(message.id)} count=${siblings.length} busy=${busy}
          onNavigate=${navigateBranch} onRegenerate=${regenerate} onRender=${followBottom} />`;
      })}
    </div>
    ${banner &&
    html`<div class=${`banner ${banner.kind}`} role="alert">
      <span>${banner.text}</span>
      <button type="button" class="icon" aria-label="Dismiss message" onClick=${() => setBanner(null)}>×</button>
    </div>`}
    <${Attachments} attached=${attached} setAttached=${setAttached} />
    <${Composer} onSend=${send} onStop=${stop} busy=${busy || writingElsewhere} stopping=${stopping}
      disabled=${Boolean(loadError) || !model} draft=${draft} setDraft=${setDraft} />
  </section>`;
}
