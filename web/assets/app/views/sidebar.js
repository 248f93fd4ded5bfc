// The chat list (newest first) with new, rename and delete, and links to the other pages.
import { html, useEffect, useRef, useState } from "../html.js";

function ChatItem({ chat, active, onRename, onDelete }) {
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState(chat.title);
  const [confirming, setConfirming] = useState(false);
  const input = useRef(null);

  useEffect(() => {
    if (editing) input.current?.select();
  }, [editing]);

  async function save() {
    const next = title.trim();
    setEditing(false);
    if (next && next !== chat.title) await onRename(chat.id, next);
    else setTitle(chat.title);
  }

  if (editing) {
    return html`<li class="chat-item editing">
      <form onSubmit=${(e) => { e.preventDefault(); save(); }}>
        <input ref=${input} value=${title} aria-label=${`New title for “${chat.title}”`}
          maxlength="1000" onInput=${(e) => setTitle(e.currentTarget.value)}
          onKeyDown=${(e) => {
            if (e.key === "Escape") {
              e.preventDefault();
              setTitle(chat.title);
              setEditing(false);
            }
          }}
          onBlur=${save} />
      </form>
    </li>`;
  }
  if (confirming) {
    return html`<li class="chat-item confirming" role="group" aria-label=${`Delete “${chat.title}”?`}>
      <span class="chat-title">Delete “${chat.title}”?</span>
      <button type="button" class="danger" onClick=${() => onDelete(chat.id)}>Delete</button>
      <button type="button" onClick=${() => setConfirming(false)}>Keep</button>
    </li>`;
  }
  return html`<li class=${`chat-item${active ? " active" : ""}`}>
    <a href=${`#/c/${encodeURIComponent(chat.id)}`} aria-current=${active ? "page" : undefined}
      class="chat-title" title=${chat.title}>${chat.title}</a>
    <button type="button" class="icon" aria-label=${`Rename “${chat.title}”`}
      onClick=${() => { setTitle(chat.title); setEditing(true); }}>✎</button>
    <button type="button" class="icon" aria-label=${`Delete “${chat.title}”`}
      onClick=${() => setConfirming(true)}>✕</button>
  </li>`;
}

export function Sidebar({ chats, chatsError, activeId, user, route, open, onClose, onRename, onDelete, onSignOut }) {
  const [query, setQuery] = useState("");
  const wanted = query.trim().toLowerCase();
  const shown = wanted ? (chats || []).filter((c) => c.title.toLowerCase().includes(wanted)) : chats || [];
  return html`<aside id="sidebar" class=${`sidebar${open ? " open" : ""}`} aria-label="Chats and settings">
    <div class="sidebar-head">
      <a class="button primary new-chat" href="#/" onClick=${onClose}>New chat</a>
      <button type="button" class="icon close-sidebar" aria-label="Hide chats" onClick=${onClose}>×</button>
    </div>
    <div class="chat-search">
      <input type="search" aria-label="Search chats" placeholder="Search chats" value=${query}
        onInput=${(e) => setQuery(e.currentTarget.value)} />
    </div>
    <nav aria-label="Chats" class="chat-list" onClick=${(e) => e.target.closest("a") && onClose()}>
      ${chatsError && html`<p class="error" role="alert">${chatsError}</p>`}
      ${chats && chats.length === 0 && html`<p class="muted">No chats yet.</p>`}
      ${wanted && chats?.length > 0 && shown.length === 0 && html`<p class="muted" role="status">No chat title matches.</p>`}
      <ul>
        ${shown.map(
          (chat) => html`<${ChatItem} key=${chat.id + chat.title} chat=${chat}
            active=${chat.id === activeId} onRename=${onRename} onDelete=${onDelete} />`,
        )}
      </ul>
    </nav>
    <nav class="sidebar-foot" aria-label="Account">
      <p class="who"><span class="name">${user.name}</span> <span class="muted">${user.email}</span></p>
      <a href="#/knowledge" aria-current=${route === "knowledge" ? "page" : undefined} onClick=${onClose}>Files and knowledge</a>
      <a href="#/settings" aria-current=${route === "settings" ? "page" : undefined} onClick=${onClose}>Settings</a>
      ${user.role === "admin" &&
      html`<a href="#/admin" aria-current=${route === "admin" ? "page" : undefined} onClick=${onClose}>Users</a>`}
      <button type="button" class="link" onClick=${onSignOut}>Sign out</button>
    </nav>
  </aside>`;
}
