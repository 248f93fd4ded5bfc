// Sign in, sign up, and the page a pending account sees.
import { api } from "../api.js";
import { html, useEffect, useState } from "../html.js";
import { saveToken } from "../session.js";

function Field({ id, label, type = "text", value, onInput, autocomplete, required = true, minlength }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <input id=${id} type=${type} value=${value} required=${required} minlength=${minlength}
      autocomplete=${autocomplete} onInput=${(e) => onInput(e.currentTarget.value)} />
  </div>`;
}

export function AuthPage({ onSignedIn, notice }) {
  const [mode, setMode] = useState("signin");
  // From GET /api/config: a fresh server (no account yet) opens on its administrator's sign-up,
  // and a server with sign-up turned off offers none.
  // undefined until it answers (null if it could not).
  const [config, setConfig] = useState(undefined);
  useEffect(() => {
    api
      .config()
      .then((body) => {
        setConfig(body);
        if (body.onboarding) setMode("signup");
      })
      .catch(() => setConfig(null));
  }, []);
  const onboarding = Boolean(config?.onboarding);
  const canSignUp = config?.features?.enable_signup !== false;
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const signingUp = mode === "signup";

  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = signingUp
        ? await api.signUp(name.trim(), email.trim(), password)
        : await api.signIn(email.trim(), password);
      saveToken(session.token, remember);
      onSignedIn({ id: session.id, name: session.name, email: session.email, role: session.role });
    } catch (failure) {
      setError(
        failure.status === 429 && failure.retryAfter
          ? `${failure.message} Try again in ${failure.retryAfter} seconds.`
          : failure.message,
      );
      setBusy(false);
    }
  }

  return html`<main class="auth-page">
    <form class="card auth" onSubmit=${submit} aria-labelledby="auth-title"
      data-ready=${config === undefined ? undefined : ""}>
      <h1 id="auth-title">${onboarding && signingUp
        ? "Create the administrator account"
        : signingUp ? "Create an account" : "Sign in to Stratus"}</h1>
      ${onboarding && signingUp && html`<p class="notice">This server has no accounts yet. The
        first account administers it: it approves the people who sign up after it.</p>`}
      ${notice && html`<p class="notice" role="status">${notice}</p>`}
      ${signingUp &&
      html`<${Field} id="name" label="Name" value=${name} onInput=${setName} autocomplete="name" />`}
      <${Field} id="email" label="Email" type="email" value=${email} onInput=${setEmail}
        autocomplete="username" />
      <${Field} id="password" label="Password" type="password" value=${password}
        onInput=${setPassword} autocomplete=${signingUp ? "new-password" : "current-password"} />
      <label class="check">
        <input type="checkbox" checked=${remember} onChange=${(e) => setRemember(e.currentTarget.checked)} />
        Keep me signed in on this device
      </label>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button type="submit" class="primary" disabled=${busy}>
        ${signingUp ? "Sign up" : "Sign in"}
      </button>
      ${!onboarding && (signingUp || canSignUp) && html`<p class="switch">
        ${signingUp ? "Already have an account? " : "No account yet? "}
        <button type="button" class="link" onClick=${() => {
          setMode(signingUp ? "signin" : "signup");
          setError(null);
        }}>${signingUp ? "Sign in" : "Create one"}</button>
      </p>`}
    </form>
  </main>`;
}

export function PendingPage({ user, onRecheck, onSignOut }) {
  const [checking, setChecking] = useState(false);
  async function recheck() {
    setChecking(true);
    await onRecheck();
    setChecking(false);
  }
  return html`<main class="auth-page">
    <section class="card auth" aria-labelledby="pending-title">
      <h1 id="pending-title">Awaiting approval</h1>
      <p>
        Your account <strong>${user.email}</strong> has been created and is awaiting approval by
        an administrator. You can chat once it is approved.
      </p>
      <div class="row">
        <button type="button" class="primary" onClick=${recheck} disabled=${checking}>Check again</button>
        <button type="button" onClick=${onSignOut}>Sign out</button>
      </div>
    </section>
  </main>`;
}
