// The chat page: the shown branch of a chat, the composer, and one generation at a time.
import { ApiError, api } from "../api.js";
import { html, useCallback, useEffect, useLayoutEffect, useRef, useState } from "../html.js";
import { StreamError, streamCompletion } from "../stream.js";
import { conversation, newestLeaf, pathTo, siblingsOf } from "../tree.js";
import { LiveText, plural, titleFrom, uuid } from "../util.js";
import { fileName, fileStatus } from "./knowledge.js";
import { Message } from "./message.js";

const POLL_MS = 1000;
// After a reflow, how long the height must hold still before the reading position is left alone.
const SETTLE_MS = 200;

export function duration(seconds) {
  if (seconds < 90) return plural(seconds, "second");
  if (seconds < 90 * 60) return plural(Math.round(seconds / 60), "minute");
  return plural(Math.round(seconds / 3600), "hour");
}

// What the user reads when a request fails before any answer text arrives.
export function failureText(error) {
  if (error.status === 429) {
    // Retry-After says when: seconds for the message limit, hours for the daily token budget.
    const when = error.retryAfter ? `in ${duration(error.retryAfter)}` : "in a moment";
    return /token budget/i.test(error.message)
      ? `You have used today's token budget. Try again ${when}.`
      : `You have reached your message limit. Try again ${when}.`;
  }
  if (error.status === 503) {
    const when = error.retryAfter ? `in ${duration(error.retryAfter)}` : "in a moment";
    return `The model host is down or not answering, so no answer could be written. ${error.message} Try again ${when}.`;
  }
  if (error.status === 502) return `The model host sent a broken answer. ${error.message}`;
  return error.message;
}

// Files and collections attached to the chat: kept with it on the server (chat.files) and sent
// as the request's `files` with every message, until removed.
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
    ${attached.length > 0 && html`<ul class="chips" aria-label="Attached to this chat">
      ${attached.map((a) => html`<li key=${a.type + a.id} class="chip">
        <span>${a.type === "collection" ? "Collection: " : ""}${a.name}</span>
        <button type="button" class="icon" aria-label=${`Detach ${a.name}`} onClick=${() => flip(a)}>×</button>
      </li>`)}
    </ul>`}
    <button type="button" class="small" aria-expanded=${open ? "true" : "false"}
      aria-controls="attach-panel" onClick=${toggle}>Attach files or a collection</button>
    ${open && html`<fieldset id="attach-panel" class="attach-panel">
      <legend>Search these for every message in this chat</legend>
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
      placeholder="Send a message" aria-describedby="composer-keys"
      onInput=${(e) => setDraft(e.currentTarget.value)} onKeyDown=${onKeyDown}></textarea>
    ${busy
      ? html`<button type="button" class="stop" onClick=${onStop} disabled=${stopping}
          aria-label="Stop generating">${stopping ? "Stopping…" : "Stop"}</button>`
      : html`<button type="submit" class="primary send" disabled=${disabled || !draft.trim()}
          aria-label="Send message">Send</button>`}
    <p id="composer-keys" class="keys muted">Enter sends, Shift+Enter is a new line, Esc stops an
      answer, Ctrl+Shift+O opens a new chat.</p>
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

// The block of the conversation at the top of the scroller, and how far below the top it is:
// after the width changes and the text reflows, it is put back where it was.
const BLOCKS = "p, li, pre, h1, h2, h3, h4, h5, h6, table, blockquote, .bubble";

function topAnchor(scroller) {
  const box = scroller.getBoundingClientRect();
  // The first block under the top edge (a point may fall in the gap between two), else the
  // message there.
  let message = null;
  for (let y = box.top + 4; y < Math.min(box.bottom, box.top + 80); y += 8) {
    const hit = document.elementFromPoint(box.left + box.width / 2, y);
    const node = hit?.closest(BLOCKS);
    if (node && scroller.contains(node)) return { node, top: node.getBoundingClientRect().top - box.top };
    message ||= hit?.closest(".msg");
  }
  return message && { node: message, top: message.getBoundingClientRect().top - box.top };
}

export function ChatView({ chatId, model, navigate, onChatsChanged }) {
  const [messages, setMessages] = useState({});
  const [leafId, setLeafId] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [loading, setLoading] = useState(false);
  const [banner, setBanner] = useState(null);
  const [generation, setGeneration] = useState(null);
  const [draft, setDraft] = useState("");
  const [attached, setAttachedState] = useState([]);
  const [stopping, setStopping] = useState(false);
  // From Enter until the answer is saved (the chat may be created first).
  const [sending, setSending] = useState(false);
  const ownChat = useRef(null);
  // Server id of a streamed answer -> the id it streamed under, so its element (and the
  // Markdown rendered while it streamed) is kept when the saved chat replaces the local copy.
  const keys = useRef({});
  const aborter = useRef(null);
  const scroller = useRef(null);
  const atBottom = useRef(true);
  const anchor = useRef(null);
  // True while a reflow settles: its scroll events are not the reader's.
  const reflowing = useRef(false);
  const current = useRef(chatId);
  current.current = chatId;

  const load = useCallback(async (id, preferLeaf = null, { withFiles = false } = {}) => {
    try {
      const chat = await api.chat(id);
      if (current.current !== id) return;
      const next = chatMessages(chat);
      setMessages(next.messages);
      setLeafId(preferLeaf && next.messages[preferLeaf] ? preferLeaf : next.leaf);
      if (withFiles) setAttachedState(chat.chat.files || []);
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
    setAttachedState([]);
    atBottom.current = true;
    if (chatId) {
      setLoading(true);
      load(chatId, null, { withFiles: true });
    }
    return undefined;
  }, [chatId]);

  useEffect(() => () => aborter.current?.abort(), []);

  // Attached files and collections are saved with the chat, so they stay after a reload and on
  // another device; a new chat keeps them here until it is created with its first message.
  const setAttached = useCallback(
    async (next) => {
      setAttachedState(next);
      if (!chatId) return;
      try {
        await api.attachToChat(chatId, next);
      } catch (error) {
        setBanner({ text: `Could not save the attachments: ${error.message}`, kind: "error" });
      }
    },
    [chatId],
  );

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

  // A resize (a phone turned, a window narrowed) reflows every message: the bottom stays the
  // bottom, and otherwise the block that was at the top stays there.
  useEffect(() => {
    const el = scroller.current;
    const restore = () => {
      if (atBottom.current) {
        el.scrollTop = el.scrollHeight;
      } else if (anchor.current?.node.isConnected) {
        const { node, top } = anchor.current;
        el.scrollTop += node.getBoundingClientRect().top - el.getBoundingClientRect().top - top;
      }
    };
    let width = el.clientWidth;
    const observer = new ResizeObserver(() => {
      restore();
      if (el.clientWidth === width) return; // only the height changed: nothing reflowed
      width = el.clientWidth;
      // The text reflowed. Blocks off screen (content-visibility: auto) take their new heights
      // over the next frames, which moves what is below them: the anchor goes back each frame
      // until the height has held still for a while (frames come slowly on a busy device, so
      // a count of frames is not enough), and for two seconds at most.
      reflowing.current = true;
      const started = performance.now();
      let frames = 0;
      let height = el.scrollHeight;
      let changed = started;
      const again = () => {
        restore();
        const now = performance.now();
        if (el.scrollHeight !== height) {
          height = el.scrollHeight;
          changed = now;
        }
        const settled = ++frames >= 8 && now - changed >= SETTLE_MS;
        if (!settled && now - started < 2000) requestAnimationFrame(again);
        else reflowing.current = false;
      };
      requestAnimationFrame(again);
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  function onScroll() {
    if (reflowing.current) return;
    const el = scroller.current;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    anchor.current = atBottom.current ? null : topAnchor(el);
  }

  async function run(request, { chat, tempId, previous, restoreDraft }) {
    const live = new LiveText();
    const controller = new AbortController();
    aborter.current = controller;
    setGeneration({ chat, tempId, live, controller });
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
        onHostStarting: () => live.setHostStarting(),
      });
    } catch (error) {
      // Aborted by leaving the chat: nothing more to show. Aborted by Stop while the model host
      // was still starting: the chat is read back below.
      if (error.name === "AbortError" && !controller.stopped) return;
      if (error instanceof ApiError && error.status === 429) {
        // Refused before anything was saved: the question goes back into the composer.
        discarded = true;
        setMessages(previous.messages);
        setLeafId(previous.leaf);
        if (restoreDraft) setDraft((d) => d || restoreDraft);
      }
      if (error instanceof StreamError && error.code === "model_host_starting") {
        setBanner({ text: error.message, kind: "limit" });
      } else if (!(error instanceof StreamError) && error.name !== "AbortError") {
        setBanner({ text: failureText(error), kind: error.status === 429 ? "limit" : "error" });
      }
    }
    if (current.current !== chat) return;
    if (answerId) keys.current[answerId] = tempId;
    if (!discarded) await load(chat, answerId);
    aborter.current = null;
    setGeneration(null);
    setStopping(false);
    onChatsChanged();
  }

  // A question under `parent` (null: at the top of the chat) and its answer, streamed.
  async function ask(text, parent, { id, atRoot = false, restoreDraft = null }) {
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
    const request = {
      model,
      chat_id: id,
      id: uuid(),
      user_message_id: uuid(),
      messages: [...conversation(parent ? pathTo(messages, parent.id) : []), { role: "user", content: text }],
    };
    if (attached.length) request.files = attached.map(({ type, id: ref }) => ({ type, id: ref }));
    // Under the answer it follows; an edited first question starts a branch at the top.
    if (parent && parent.role === "assistant") request.parent_id = parent.id;
    if (atRoot) request.at_root = true;
    await run(request, { chat: id, tempId: answer.id, previous, restoreDraft });
  }

  async function send() {
    const text = draft;
    if (!text.trim() || generation || sending) return;
    if (!model) {
      setBanner({ text: "Choose a model first.", kind: "error" });
      return;
    }
    // From the key press on: the composer empties and a second Enter sends nothing.
    setSending(true);
    setDraft("");
    try {
      let id = chatId;
      if (!id) {
        try {
          const chat = await api.newChat(titleFrom(text), attached);
          id = chat.id;
        } catch (error) {
          setBanner({ text: error.message, kind: "error" });
          setDraft((d) => d || text);
          return;
        }
        ownChat.current = id;
        current.current = id;
        navigate(`#/c/${encodeURIComponent(id)}`);
        onChatsChanged();
      }
      const shown = pathTo(messages, leafId);
      // A new question continues the branch on screen.
      await ask(text, shown.length ? shown[shown.length - 1] : null, { id, restoreDraft: text });
    } finally {
      setSending(false);
    }
  }

  // An edited question is sent again as a new branch: a sibling of the one it replaces.
  const resend = useCallback(
    (questionId, text) => {
      const question = messages[questionId];
      if (generation || !question || !chatId || !model) return;
      const parent = question.parentId ? messages[question.parentId] : null;
      ask(text, parent, { id: chatId, atRoot: !parent });
    },
    [messages, leafId, generation, chatId, model, attached],
  );

  // A person's correction of an answer's text, saved in place.
  const editAnswer = useCallback(
    async (messageId, text) => {
      try {
        const chat = await api.editMessage(chatId, messageId, text);
        setMessages(chatMessages(chat).messages);
        return true;
      } catch (error) {
        setBanner({ text: `Could not save the answer: ${error.message}`, kind: "error" });
        return false;
      }
    },
    [chatId],
  );

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
      if (attached.length) request.files = attached.map(({ type, id }) => ({ type, id }));
      run(request, { chat: chatId, tempId: regenerated.id, previous });
    },
    [messages, leafId, generation, chatId, model, attached],
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
    if (stopping) return;
    setStopping(true);
    try {
      await api.stopChat(generation ? generation.chat : chatId);
    } catch (error) {
      setStopping(false);
      setBanner({ text: `Could not stop the answer: ${error.message}`, kind: "error" });
    }
    // Still waiting for the model host: the request itself ends, so nothing half-made is
    // saved. Otherwise the stream ends on its own once the server has stopped the generation.
    if (generation && !generation.live.text) {
      generation.controller.stopped = true;
      generation.controller.abort();
    }
    if (!generation && chatId) load(chatId, leafId);
  }

  const busy = Boolean(generation);
  const stopRef = useRef(stop);
  stopRef.current = busy || writingElsewhere ? stop : null;
  // Esc stops the answer being written (unless an open editor takes it).
  useEffect(() => {
    const onKey = (event) => {
      if (event.key === "Escape" && !event.defaultPrevented && stopRef.current) stopRef.current();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  return html`<section class="chat" aria-label="Chat" aria-busy=${busy || sending ? "true" : "false"}>
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
          onNavigate=${navigateBranch} onRegenerate=${regenerate} onResend=${resend}
          onEditAnswer=${editAnswer} onRender=${followBottom} />`;
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
