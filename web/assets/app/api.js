// The public API, exactly as scripts use it: no private endpoints.
import { clearToken, loadToken } from "./session.js";

export class ApiError extends Error {
  constructor(status, message, { retryAfter = null, code = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.retryAfter = retryAfter;
    this.code = code;
  }
}

export const EXPIRED_EVENT = "stratus:session-expired";

function detailOf(body) {
  if (!body || typeof body !== "object") return null;
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg || String(d)).join(" ");
  if (body.error && typeof body.error.message === "string") return body.error.message;
  if (typeof body.error === "string") return body.error;
  return null;
}

const PLAIN = {
  400: "The request was not accepted.",
  403: "You are not allowed to do that.",
  404: "Not found.",
  409: "That conflicts with the current state.",
  413: "That is too large.",
  422: "Some of what you entered is not valid.",
  429: "Too many requests.",
  500: "The server failed. Try again.",
  502: "The model host sent a broken answer. Try again.",
  503: "The service is unavailable right now. Try again in a moment.",
};

function retryAfterSeconds(response) {
  const value = response.headers.get("retry-after");
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

// Turns a non-2xx response into an ApiError. A 401 on an authenticated call means the session
// is gone (expired, revoked, signed out elsewhere): the app goes back to the sign-in page.
export async function errorFrom(response, authenticated) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  const message = detailOf(body) || PLAIN[response.status] || `Request failed (${response.status}).`;
  if (response.status === 401 && authenticated) {
    clearToken();
    window.dispatchEvent(new CustomEvent(EXPIRED_EVENT));
  }
  return new ApiError(response.status, message, {
    retryAfter: retryAfterSeconds(response),
    code: body?.error?.code ?? null,
  });
}

export function authHeaders() {
  const token = loadToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export const NETWORK_MESSAGE = "Cannot reach the server. Check the connection and try again.";

export async function send(method, path, body, { signal, headers = {} } = {}) {
  const auth = authHeaders();
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        ...auth,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, NETWORK_MESSAGE);
  }
  return response;
}

async function call(method, path, body) {
  const response = await send(method, path, body);
  if (!response.ok) throw await errorFrom(response, Boolean(authHeaders().Authorization));
  if (response.status === 204) return null;
  return response.json();
}

export const api = {
  // Before sign-in: may people sign up, and is this a fresh server (onboarding)?
  config: () => call("GET", "/api/config"),
  // Accounts
  signUp: (name, email, password) => call("POST", "/api/v1/auths/signup", { name, email, password }),
  signIn: (email, password) => call("POST", "/api/v1/auths/signin", { email, password }),
  signOut: () => call("POST", "/api/v1/auths/signout"),
  me: () => call("GET", "/api/v1/auths/"),
  changePassword: (password, newPassword) =>
    call("POST", "/api/v1/auths/update/password", { password, new_password: newPassword }),
  listKeys: () => call("GET", "/api/v1/auths/api_keys"),
  createKey: (name) => call("POST", "/api/v1/auths/api_keys", { name }),
  deleteKey: (id) => call("DELETE", `/api/v1/auths/api_keys/${encodeURIComponent(id)}`),
  // Administration
  listUsers: (page, limit) => call("GET", `/api/v1/users/?page=${page}&limit=${limit}`),
  setRole: (id, role) => call("POST", `/api/v1/users/${encodeURIComponent(id)}/update`, { role }),
  deleteUser: (id) => call("DELETE", `/api/v1/users/${encodeURIComponent(id)}`),
  revokeSessions: (id) => call("POST", `/api/v1/users/${encodeURIComponent(id)}/sessions/revoke`),
  unlockUser: (id) => call("POST", `/api/v1/users/${encodeURIComponent(id)}/unlock`),
  // Chat
  models: () => call("GET", "/api/models"),
  chats: () => call("GET", "/api/v1/chats/"),
  newChat: (title, files = []) => call("POST", "/api/v1/chats/new", { chat: { title, files } }),
  chat: (id) => call("GET", `/api/v1/chats/${encodeURIComponent(id)}`),
  renameChat: (id, title) => call("POST", `/api/v1/chats/${encodeURIComponent(id)}`, { chat: { title } }),
  // The files and collections attached to the chat (kept with it, searched for every message).
  attachToChat: (id, files) => call("POST", `/api/v1/chats/${encodeURIComponent(id)}`, { chat: { files } }),
  editMessage: (id, messageId, content) =>
    call("POST", `/api/v1/chats/${encodeURIComponent(id)}/messages/${encodeURIComponent(messageId)}`, {
      content,
    }),
  deleteChat: (id) => call("DELETE", `/api/v1/chats/${encodeURIComponent(id)}`),
  stopChat: (id) => call("POST", `/api/v1/chats/${encodeURIComponent(id)}/stop`),
  // Files and knowledge (the rag function)
  files: () => call("GET", "/api/v1/files/"),
  fileStatus: (id) => call("GET", `/api/v1/files/${encodeURIComponent(id)}/process/status`),
  deleteFile: (id) => call("DELETE", `/api/v1/files/${encodeURIComponent(id)}`),
  collections: () => call("GET", "/api/v1/knowledge/"),
  newCollection: (name, description) => call("POST", "/api/v1/knowledge/create", { name, description }),
  deleteCollection: (id) => call("DELETE", `/api/v1/knowledge/${encodeURIComponent(id)}`),
  addToCollection: (id, fileId) =>
    call("POST", `/api/v1/knowledge/${encodeURIComponent(id)}/file/add`, { file_id: fileId }),
  // The file stays among the user's files; only its link to the collection goes.
  removeFromCollection: (id, fileId) =>
    call("POST", `/api/v1/knowledge/${encodeURIComponent(id)}/file/remove?delete_file=false`, {
      file_id: fileId,
    }),
};

// A file larger than this goes straight to the uploads bucket through a presigned POST: in AWS
// a body through the API is limited to about 4.4 MB (infra/cdk/profiles.py LARGE_UPLOAD_BYTES).
export const LARGE_UPLOAD_BYTES = 4 * 1024 * 1024;

// Uploads with progress; resolves with the file's record. onProgress gets a fraction, 0 to 1.
export async function uploadFile(file, onProgress) {
  if (file.size <= LARGE_UPLOAD_BYTES) {
    const form = new FormData();
    form.append("file", file, file.name);
    return postForm("/api/v1/files/", form, authHeaders(), onProgress);
  }
  // The record first (pending), then the bytes to the address and fields it names; S3's own
  // event starts the processing. The grant's fields carry the credentials: no token to S3.
  const grant = await call("POST", "/api/v1/files/upload-url", { filename: file.name });
  const form = new FormData();
  for (const [name, value] of Object.entries(grant.fields)) form.append(name, value);
  form.append("file", file, file.name);
  await postForm(grant.url, form, {}, onProgress);
  return grant.file;
}

// fetch cannot report how much of a request body has been sent, so uploads use XMLHttpRequest.
function postForm(url, form, headers, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", url);
    for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = async () => {
      const type = request.getResponseHeader("content-type") || "";
      const ok = request.status >= 200 && request.status < 300;
      // S3 answers a presigned POST with 204 and no body.
      if (ok && !type.includes("json")) return resolve(null);
      const response = new Response(request.response, {
        status: request.status,
        headers: { "content-type": type },
      });
      if (ok) resolve(await response.json());
      else reject(await errorFrom(response, "Authorization" in headers));
    };
    request.onerror = () => reject(new ApiError(0, NETWORK_MESSAGE));
    request.send(form);
  });
}
