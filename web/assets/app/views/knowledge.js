// Files and knowledge collections: upload with progress and processing status, collections
// with their files. File names are the uploader's and untrusted: always shown as text.
import { api, uploadFile } from "../api.js";
import { html, useEffect, useState } from "../html.js";

const STATUS_WORDS = {
  pending: "Waiting to be processed",
  processing: "Processing…",
  completed: "Ready",
  failed: "Failed",
};

export const fileName = (file) => file.meta?.name || file.filename || file.id;
export const fileStatus = (file) => file.data?.status || "pending";

function StatusText({ status, error }) {
  const words = STATUS_WORDS[status] || status;
  return html`<span class=${`file-status status-${status}`}>${words}${error ? `: ${error}` : ""}</span>`;
}

// Follows a file until it is processed: the status route, once a second.
async function waitProcessed(id, onStatus) {
  for (;;) {
    const status = await api.fileStatus(id);
    onStatus(status);
    if (status.status === "completed" || status.status === "failed") return status;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function Upload({ onUploaded }) {
  const [uploads, setUploads] = useState([]);
  const change = (key, patch) =>
    setUploads((list) => list.map((u) => (u.key === key ? { ...u, ...patch } : u)));

  async function upload(file) {
    const key = `${Date.now()}-${Math.random()}`;
    setUploads((list) => [...list, { key, name: file.name, progress: 0, status: "uploading" }]);
    try {
      const record = await uploadFile(file, (progress) => change(key, { progress }));
      change(key, { progress: 1, status: fileStatus(record), error: record.data?.error });
      onUploaded();
      const done = await waitProcessed(record.id, (s) => change(key, { status: s.status, error: s.error }));
      if (done) onUploaded();
    } catch (error) {
      change(key, { status: "failed", error: error.message });
    }
  }

  return html`<section class="card" aria-labelledby="upload-title">
    <h2 id="upload-title">Upload files</h2>
    <p class="muted">Text, Markdown, HTML, CSV, JSON, PDF and Word files. Each is split and
      indexed so that answers can cite it.</p>
    <label class="button" for="file-input">Choose files…</label>
    <input id="file-input" class="offscreen" type="file" multiple aria-label="Upload files"
      onChange=${(e) => {
        for (const file of e.currentTarget.files) upload(file);
        e.currentTarget.value = "";
      }} />
    <ul class="uploads">
      ${uploads.map((u) => html`<li key=${u.key} class="upload">
        <span class="name">${u.name}</span>
        ${u.status === "uploading"
          ? html`<progress max="1" value=${u.progress} aria-label=${`Uploading ${u.name}`}></progress>`
          : html`<${StatusText} status=${u.status} error=${u.error} />`}
      </li>`)}
    </ul>
  </section>`;
}

function Collection({ collection, files, onChanged, setError }) {
  const [adding, setAdding] = useState("");
  const inside = new Set(collection.files.map((f) => f.id));
  const candidates = files.filter((f) => !inside.has(f.id));
  async function act(promise) {
    try {
      await promise;
      setError(null);
    } catch (error) {
      setError(error.message);
    }
    onChanged();
  }
  return html`<li class="collection card" aria-label=${`Collection ${collection.name}`}>
    <div class="row spread">
      <h3>${collection.name}</h3>
      <button type="button" class="small danger" aria-label=${`Delete collection ${collection.name}`}
        onClick=${() => act(api.deleteCollection(collection.id))}>Delete</button>
    </div>
    ${collection.description && html`<p class="muted">${collection.description}</p>`}
    <ul class="collection-files">
      ${collection.files.length === 0 && html`<li class="muted">No files yet.</li>`}
      ${collection.files.map((f) => html`<li key=${f.id} class="row">
        <span class="name">${fileName(f)}</span>
        <button type="button" class="small" aria-label=${`Remove ${fileName(f)} from ${collection.name}`}
          onClick=${() => act(api.removeFromCollection(collection.id, f.id))}>Remove</button>
      </li>`)}
    </ul>
    ${candidates.length > 0 && html`<form class="row" onSubmit=${(e) => {
      e.preventDefault();
      if (adding) act(api.addToCollection(collection.id, adding));
      setAdding("");
    }}>
      <select aria-label=${`File to add to ${collection.name}`} value=${adding}
        onChange=${(e) => setAdding(e.currentTarget.value)}>
        <option value="">Add a file…</option>
        ${candidates.map((f) => html`<option value=${f.id}>${fileName(f)}</option>`)}
      </select>
      <button type="submit" class="small" disabled=${!adding}>Add</button>
    </form>`}
  </li>`;
}

export function KnowledgePage() {
  const [files, setFiles] = useState(null);
  const [collections, setCollections] = useState(null);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState(null);

  async function refresh() {
    try {
      const [fileList, knowledge] = await Promise.all([api.files(), api.collections()]);
      setFiles(fileList);
      setCollections(knowledge.items);
    } catch (failure) {
      setError(failure.message);
    }
  }
  useEffect(() => {
    refresh();
  }, []);

  async function create(event) {
    event.preventDefault();
    try {
      await api.newCollection(name.trim(), description.trim());
      setName("");
      setDescription("");
      setError(null);
    } catch (failure) {
      setError(failure.message);
    }
    refresh();
  }
  async function remove(file) {
    try {
      await api.deleteFile(file.id);
    } catch (failure) {
      setError(failure.message);
    }
    refresh();
  }

  return html`<section class="page" aria-labelledby="knowledge-title">
    <h1 id="knowledge-title">Files and knowledge</h1>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <${Upload} onUploaded=${refresh} />
    <section class="card" aria-labelledby="files-title">
      <h2 id="files-title">Your files</h2>
      ${files && files.length === 0 && html`<p class="muted">No files yet.</p>`}
      <ul class="files">${(files || []).map((f) => html`<li key=${f.id} class="row">
        <span class="name">${fileName(f)}</span>
        <${StatusText} status=${fileStatus(f)} error=${f.data?.error} />
        <button type="button" class="small danger" aria-label=${`Delete file ${fileName(f)}`}
          onClick=${() => remove(f)}>Delete</button>
      </li>`)}</ul>
    </section>
    <section class="card" aria-labelledby="collections-title">
      <h2 id="collections-title">Knowledge collections</h2>
      <form class="row" onSubmit=${create}>
        <label for="collection-name" class="offscreen">Collection name</label>
        <input id="collection-name" placeholder="Name of a new collection" required maxlength="200"
          value=${name} onInput=${(e) => setName(e.currentTarget.value)} />
        <label for="collection-description" class="offscreen">Collection description</label>
        <input id="collection-description" placeholder="Description (optional)" maxlength="4000"
          value=${description} onInput=${(e) => setDescription(e.currentTarget.value)} />
        <button type="submit" class="primary">Create collection</button>
      </form>
      <ul class="collections">${(collections || []).map((c) => html`<${Collection} key=${c.id}
        collection=${c} files=${files || []} onChanged=${refresh} setError=${setError} />`)}</ul>
    </section>
  </section>`;
}
