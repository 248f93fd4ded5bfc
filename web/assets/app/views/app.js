// The application shell: who is signed in, which page is shown (from the URL's #hash), the
// chat list and the model list.
import { EXPIRED_EVENT, api } from "../api.js";
import { html, useCallback, useEffect, useState } from "../html.js";
import { clearToken, loadPreference, loadToken, savePreference } from "../session.js";
import { AdminPage } from "./admin.js";
import { AuthPage, PendingPage } from "./auth.js";
import { ChatView, ModelPicker } from "./chat.js";
import { KnowledgePage } from "./knowledge.js";
import { SettingsPage } from "./settings.js";
import { Sidebar } from "./sidebar.js";

function parseRoute() {
  const hash = window.location.hash.replace(/^#\/?/, "");
  const [page, ...rest] = hash.split("/");
  if (page === "c" && rest[0]) return { page: "chat", chatId: decodeURIComponent(rest[0]) };
  if (page === "settings" || page === "admin" || page === "knowledge") return { page, chatId: null };
  return { page: "chat", chatId: null };
}

// Embedding models cannot chat; the list from /api/models has both kinds.
const isChatModel = (m) => !/embed/i.test(m.id);

function Shell({ user, onSignOut }) {
  const [route, setRoute] = useState(parseRoute);
  const [chats, setChats] = useState(null);
  const [chatsError, setChatsError] = useState(null);
  const [models, setModels] = useState(null);
  const [modelsError, setModelsError] = useState(null);
  const [model, setModelState] = useState(loadPreference("model"));
  const [sidebarOpen, setSidebarOpen] = useState(false);

  useEffect(() => {
    const onHash = () => setRoute(parseRoute());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  const refreshChats = useCallback(async () => {
    try {
      const list = await api.chats();
      setChats([...list].sort((a, b) => b.updated_at - a.updated_at));
      setChatsError(null);
    } catch (error) {
      setChatsError(error.message);
    }
  }, []);

  useEffect(() => {
    refreshChats();
    api
      .models()
      .then((body) => {
        const list = (body.data || []).filter(isChatModel);
        setModels(list);
        setModelState((chosen) => (list.some((m) => m.id === chosen) ? chosen : list[0]?.id || null));
      })
      .catch((error) => setModelsError(`Could not load the models: ${error.message}`));
  }, []);

  const setModel = useCallback((id) => {
    setModelState(id);
    savePreference("model", id);
  }, []);

  const navigate = useCallback((hash) => {
    if (window.location.hash !== hash) window.location.hash = hash;
  }, []);

  // Ctrl+Shift+O (Cmd+Shift+O on a Mac), as in Open WebUI: a new chat, ready to type in.
  useEffect(() => {
    const onKey = (event) => {
      if (!(event.ctrlKey || event.metaKey) || !event.shiftKey || event.key.toLowerCase() !== "o") return;
      event.preventDefault();
      navigate("#/");
      requestAnimationFrame(() => document.getElementById("composer-input")?.focus());
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  const rename = useCallback(async (id, title) => {
    try {
      await api.renameChat(id, title);
    } catch (error) {
      setChatsError(`Could not rename the chat: ${error.message}`);
    }
    refreshChats();
  }, []);

  const remove = useCallback(
    async (id) => {
      try {
        await api.deleteChat(id);
        if (parseRoute().chatId === id) navigate("#/");
      } catch (error) {
        setChatsError(`Could not delete the chat: ${error.message}`);
      }
      refreshChats();
    },
    [navigate],
  );

  let page;
  if (route.page === "settings") page = html`<${SettingsPage} user=${user} />`;
  else if (route.page === "knowledge") page = html`<${KnowledgePage} />`;
  else if (route.page === "admin" && user.role === "admin") page = html`<${AdminPage} user=${user} />`;
  else {
    page = html`<${ChatView} chatId=${route.chatId} model=${model} navigate=${navigate}
      onChatsChanged=${refreshChats} />`;
  }
  const current = chats?.find((c) => c.id === route.chatId);
  return html`<div class="shell">
    <${Sidebar} chats=${chats} chatsError=${chatsError} activeId=${route.chatId} user=${user}
      route=${route.page} open=${sidebarOpen} onClose=${() => setSidebarOpen(false)}
      onRename=${rename} onDelete=${remove} onSignOut=${onSignOut} />
    <div class="main">
      <header class="topbar">
        <button type="button" class="icon menu" aria-label="Show chats" aria-controls="sidebar"
          aria-expanded=${sidebarOpen ? "true" : "false"} onClick=${() => setSidebarOpen(true)}>☰</button>
        ${route.page === "chat"
          ? html`<${ModelPicker} models=${models} model=${model} setModel=${setModel} error=${modelsError} />
            <h1 class="chat-heading">${current ? current.title : route.chatId ? "" : "New chat"}</h1>`
          : html`<span class="brand">Stratus</span>`}
      </header>
      <main id="content">${page}</main>
    </div>
  </div>`;
}

export function App() {
  const [user, setUser] = useState(null);
  const [checking, setChecking] = useState(Boolean(loadToken()));
  const [notice, setNotice] = useState(null);

  const whoAmI = useCallback(async () => {
    try {
      setUser(await api.me());
    } catch (error) {
      if (error.status !== 401) setNotice(error.message);
    }
    setChecking(false);
  }, []);

  useEffect(() => {
    const onExpired = () => {
      setUser(null);
      setNotice("Your session has expired or was ended. Please sign in again.");
    };
    window.addEventListener(EXPIRED_EVENT, onExpired);
    if (loadToken()) whoAmI();
    return () => window.removeEventListener(EXPIRED_EVENT, onExpired);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api.signOut();
    } catch {
      // Signed out here whatever the server says: the token is forgotten below.
    }
    clearToken();
    setUser(null);
    setNotice("You have signed out.");
    window.location.hash = "#/";
  }, []);

  if (checking) return html`<p class="boot">Loading…</p>`;
  if (!user) {
    return html`<${AuthPage} notice=${notice} onSignedIn=${(u) => {
      setNotice(null);
      setUser(u);
    }} />`;
  }
  if (user.role === "pending") return html`<${PendingPage} user=${user} onRecheck=${whoAmI} onSignOut=${signOut} />`;
  return html`<${Shell} user=${user} onSignOut=${signOut} />`;
}
