// Administration: every account, pending ones first to approve, their roles and last activity,
// and what to do about one: end its sessions and keys, clear its sign-in lock, delete it.
// Each destructive action asks first.
import { api } from "../api.js";
import { html, useEffect, useState } from "../html.js";
import { formatDate, since } from "../util.js";

const PAGE_SIZE = 50;
const ROLES = ["pending", "user", "admin"];

// What each destructive action does, in the words of its confirmation.
const ACTIONS = {
  revoke: {
    label: "End sessions",
    ask: (u) => `End every session of ${u.name} (${u.email}) and delete their API keys? They will have to sign in again.`,
    run: (u) => api.revokeSessions(u.id),
    done: (u) => `${u.name} was signed out everywhere and their API keys were deleted.`,
  },
  delete: {
    label: "Delete",
    ask: (u) => `Delete ${u.name} (${u.email})? Their chats, files and keys go too. This cannot be undone.`,
    run: (u) => api.deleteUser(u.id),
    done: (u) => `${u.name} (${u.email}) was deleted.`,
  },
};

function Confirm({ user, action, onConfirm, onCancel }) {
  const { label, ask } = ACTIONS[action];
  return html`<tr class="confirm-row"><td colspan="6">
    <div class="confirm" role="group" aria-label=${`${label} ${user.email}?`}>
      <span>${ask(user)}</span>
      <button type="button" class="small danger" onClick=${onConfirm}>${label}</button>
      <button type="button" class="small" onClick=${onCancel}>Cancel</button>
    </div>
  </td></tr>`;
}

export function AdminPage({ user: me }) {
  const [page, setPage] = useState(1);
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(null);
  // {id, action} of the confirmation shown.
  const [asking, setAsking] = useState(null);

  async function refresh(which = page) {
    try {
      setData(await api.listUsers(which, PAGE_SIZE));
      setError(null);
    } catch (failure) {
      setError(failure.message);
    }
  }
  useEffect(() => {
    refresh(page);
  }, [page]);

  async function act(user, work, message) {
    setSaved(null);
    setAsking(null);
    try {
      await work();
      setSaved(message);
      setError(null);
    } catch (failure) {
      setError(failure.message);
    }
    refresh();
  }

  const setRole = (user, role) =>
    act(user, () => api.setRole(user.id, role),
      `${user.name} is now ${role === "user" ? "an approved user" : role === "admin" ? "an administrator" : "pending"}.`);
  const unlock = (user) =>
    act(user, () => api.unlockUser(user.id), `${user.name} can sign in again: their failed sign-ins were cleared.`);
  const confirmed = (user, action) => act(user, () => ACTIONS[action].run(user), ACTIONS[action].done(user));

  const users = data ? [...data.users].sort((a, b) => (a.role === "pending" ? 0 : 1) - (b.role === "pending" ? 0 : 1)) : [];
  const pages = data ? Math.max(1, Math.ceil(data.total / PAGE_SIZE)) : 1;
  return html`<section class="page" aria-labelledby="users-title">
    <h1 id="users-title">Users</h1>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${saved && html`<p class="ok" role="status">${saved}</p>`}
    ${data && html`<div class="table-wrap"><table class="users">
      <thead><tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Role</th>
        <th scope="col">Last active</th><th scope="col">Joined</th>
        <th scope="col"><span class="offscreen">Actions</span></th></tr></thead>
      <tbody>${users.map((user) => {
        const self = user.id === me.id;
        const row = html`<tr key=${user.id} class=${`role-${user.role}`}>
          <td>${user.name}</td><td>${user.email}</td>
          <td><select aria-label=${`Role of ${user.email}`} value=${user.role}
            disabled=${self} onChange=${(e) => setRole(user, e.currentTarget.value)}>
            ${ROLES.map((role) => html`<option value=${role}>${role}</option>`)}
          </select></td>
          <td title=${formatDate(user.last_active_at)}>${user.last_active_at ? since(user.last_active_at) : "never"}</td>
          <td>${formatDate(user.created_at)}</td>
          <td class="user-actions">
            ${user.role === "pending" &&
            html`<button type="button" class="small primary" aria-label=${`Approve ${user.email}`}
              onClick=${() => setRole(user, "user")}>Approve</button>`}
            <button type="button" class="small" aria-label=${`Clear the sign-in lock of ${user.email}`}
              onClick=${() => unlock(user)}>Clear sign-in lock</button>
            ${Object.entries(ACTIONS).map(([action, { label }]) => html`<button type="button"
              class="small danger" disabled=${self} aria-label=${`${label} ${user.email}`}
              onClick=${() => setAsking({ id: user.id, action })}>${label}</button>`)}
          </td>
        </tr>`;
        return asking?.id === user.id
          ? [row, html`<${Confirm} key=${`${user.id}-confirm`} user=${user} action=${asking.action}
              onConfirm=${() => confirmed(user, asking.action)} onCancel=${() => setAsking(null)} />`]
          : row;
      })}</tbody>
    </table></div>
    ${pages > 1 && html`<nav class="row pager" aria-label="Pages">
      <button type="button" disabled=${page <= 1} onClick=${() => setPage(page - 1)}>Previous</button>
      <span>Page ${page} of ${pages}</span>
      <button type="button" disabled=${page >= pages} onClick=${() => setPage(page + 1)}>Next</button>
    </nav>`}`}
  </section>`;
}
