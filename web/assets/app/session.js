// Where the session token lives. See web/README.md ("Where the token is kept").
//
// sessionStorage by default: the token survives a reload but not the tab, so a shared computer
// forgets it when the tab closes. "Keep me signed in" puts it in localStorage instead, shared by
// every tab until it expires or the user signs out. Either way it is sent only as an
// Authorization header, never as a cookie, so other sites cannot make the browser use it (no CSRF).
const KEY = "stratus.token";

export function loadToken() {
  return sessionStorage.getItem(KEY) || localStorage.getItem(KEY) || null;
}

export function saveToken(token, remember) {
  clearToken();
  (remember ? localStorage : sessionStorage).setItem(KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
}

// Small preferences that are not secrets (the chosen model).
export function loadPreference(name, fallback = null) {
  return localStorage.getItem(`stratus.pref.${name}`) ?? fallback;
}

export function savePreference(name, value) {
  localStorage.setItem(`stratus.pref.${name}`, value);
}
