// Administration: every account, pending ones first to approve, and their roles.
import { api } from "../api.js";
import { html, useEffect, useState } from "../html.js";
import { formatDate } from "../util.js";

const PAGE_SIZE = 50;
const ROLES = ["pending", "user", "admin"];

export function AdminPage({ user: me }) {
  const [page, setPage] = useState(1);
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(null);

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

  async function setRole(user, role) {
    setSaved(null);
    try {
      await api.setRole(user.id, role);
      setSaved(`${user.name} is now ${role === "user" ? "an approved user" : role === "admin" ? "an administrator" : "pending"}.`);
      setError(null);
    } catch (failure) {
      setError(failure.message);
    }
    refresh();
  }

  const users = data ? [...data.users].sort((a, b) => (a.role === "pending" ? 0 : 1) - (b.role === "pending" ? 0 : 1)) : [];
  const pages = data ? Math.max(1, Math.ceil(data.total / PAGE_SIZE)) : 1;
  return html`<section class="page" aria-labelledby="users-title">
    <h1 id="users-title">Users</h1>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${saved && html`<p class="ok" role="status">${saved}</p>`}
    ${data && html`<table class="users">
      <thead><tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Role</th>
        <th scope="col">Joined</th><th scope="col"><span class="offscreen">Actions</span></th></tr></thead>
      <tbody>${users.map((user) => html`<tr key=${user.id} class=${`role-${user.role}`}>
        <td>${user.name}</td><td>${user.email}</td>
        <td><select aria-label=${`Role of ${user.email}`} value=${user.role}
          disabled=${user.id === me.id} onChange=${(e) => setRole(user, e.currentTarget.value)}>
          ${ROLES.map((role) => html`<option value=${role}>${role}</option>`)}
        </select></td>
        <td>${formatDate(user.created_at)}</td>
        <td>${user.role === "pending" &&
          html`<button type="button" class="small primary" aria-label=${`Approve ${user.email}`}
            onClick=${() => setRole(user, "user")}>Approve</button>`}</td>
      </tr>`)}</tbody>
    </table>
    ${pages > 1 && html`<nav class="row pager" aria-label="Pages">
      <button type="button" disabled=${page <= 1} onClick=${() => setPage(page - 1)}>Previous</button>
      <span>Page ${page} of ${pages}</span>
      <button type="button" disabled=${page >= pages} onClick=${() => setPage(page + 1)}>Next</button>
    </nav>`}`}
  </section>`;
}
