// Settings: the account, its password, and API keys (each shown once, at creation).
import { api } from "../api.js";
import { html, useEffect, useState } from "../html.js";
import { copyText } from "../markdown.js";
import { formatDate } from "../util.js";

function PasswordForm() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);

  async function submit(event) {
    event.preventDefault();
    if (next !== again) {
      setResult({ error: true, text: "The new passwords do not match." });
      return;
    }
    setBusy(true);
    try {
      await api.changePassword(current, next);
      setResult({
        error: false,
        text: "Password changed. Your other sessions were signed out and your API keys deleted.",
      });
      setCurrent("");
      setNext("");
      setAgain("");
    } catch (error) {
      setResult({ error: true, text: error.message });
    }
    setBusy(false);
  }

  return html`<form class="card" onSubmit=${submit} aria-labelledby="password-title">
    <h2 id="password-title">Change password</h2>
    <div class="field"><label for="pw-current">Current password</label>
      <input id="pw-current" type="password" required autocomplete="current-password" value=${current}
        onInput=${(e) => setCurrent(e.currentTarget.value)} /></div>
    <div class="field"><label for="pw-new">New password</label>
      <input id="pw-new" type="password" required autocomplete="new-password" value=${next}
        onInput=${(e) => setNext(e.currentTarget.value)} /></div>
    <div class="field"><label for="pw-again">New password again</label>
      <input id="pw-again" type="password" required autocomplete="new-password" value=${again}
        onInput=${(e) => setAgain(e.currentTarget.value)} /></div>
    ${result && html`<p class=${result.error ? "error" : "ok"} role=${result.error ? "alert" : "status"}>${result.text}</p>`}
    <button type="submit" class="primary" disabled=${busy}>Change password</button>
  </form>`;
}

function NewKey({ created, onDone }) {
  const [copied, setCopied] = useState(false);
  return html`<div class="new-key" role="status">
    <p><strong>Your new key “${created.name}”.</strong> Copy it now: it is shown only once.</p>
    <div class="row">
      <input readonly value=${created.key} aria-label="New API key" class="mono"
        onFocus=${(e) => e.currentTarget.select()} />
      <button type="button" onClick=${async () => setCopied(await copyText(created.key))}
        aria-label="Copy the new API key">${copied ? "Copied" : "Copy"}</button>
      <button type="button" onClick=${onDone}>Done</button>
    </div>
  </div>`;
}

function ApiKeys() {
  const [keys, setKeys] = useState(null);
  const [name, setName] = useState("");
  const [created, setCreated] = useState(null);
  const [error, setError] = useState(null);

  async function refresh() {
    try {
      setKeys(await api.listKeys());
    } catch (failure) {
      setError(failure.message);
    }
  }
  useEffect(() => {
    refresh();
  }, []);

  async function create(event) {
    event.preventDefault();
    setError(null);
    try {
      setCreated(await api.createKey(name.trim()));
      setName("");
      refresh();
    } catch (failure) {
      setError(failure.message);
    }
  }
  async function remove(key) {
    setError(null);
    try {
      await api.deleteKey(key.id);
      refresh();
    } catch (failure) {
      setError(failure.message);
    }
  }

  return html`<section class="card" aria-labelledby="keys-title">
    <h2 id="keys-title">API keys</h2>
    <p class="muted">Keys let scripts use the API as you (<code>Authorization: Bearer sk-…</code>).</p>
    ${created && html`<${NewKey} created=${created} onDone=${() => setCreated(null)} />`}
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${keys && keys.length === 0 && html`<p class="muted">No keys yet.</p>`}
    ${keys && keys.length > 0 && html`<table class="keys">
      <thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Created</th>
        <th scope="col">Last used</th><th scope="col"><span class="offscreen">Actions</span></th></tr></thead>
      <tbody>${keys.map((key) => html`<tr key=${key.id}>
        <td>${key.name}</td><td class="mono">${key.prefix}…</td><td>${formatDate(key.created_at)}</td>
        <td>${key.last_used_at ? formatDate(key.last_used_at) : "never"}</td>
        <td><button type="button" class="small danger" aria-label=${`Delete key “${key.name}”`}
          onClick=${() => remove(key)}>Delete</button></td></tr>`)}</tbody>
    </table>`}
    <form class="row" onSubmit=${create}>
      <label for="key-name" class="offscreen">New key name</label>
      <input id="key-name" placeholder="Name of the new key" required maxlength="100" value=${name}
        onInput=${(e) => setName(e.currentTarget.value)} />
      <button type="submit" class="primary">Create key</button>
    </form>
  </section>`;
}

export function SettingsPage({ user }) {
  return html`<section class="page" aria-labelledby="settings-title">
    <h1 id="settings-title">Settings</h1>
    <section class="card" aria-labelledby="account-title">
      <h2 id="account-title">Account</h2>
      <dl class="facts"><dt>Name</dt><dd>${user.name}</dd><dt>Email</dt><dd>${user.email}</dd>
        <dt>Role</dt><dd>${user.role}</dd></dl>
    </section>
    <${PasswordForm} />
    <${ApiKeys} />
  </section>`;
}
