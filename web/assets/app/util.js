// Small helpers shared by the views.

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // crypto.randomUUID needs a secure context; getRandomValues does not.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// A chat's title from its first message: one line, at most 60 characters.
export function titleFrom(text) {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 60 ? `${line.slice(0, 57)}…` : line || "New Chat";
}

export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export function formatDate(seconds) {
  if (!seconds) return "";
  return new Date(seconds * 1000).toLocaleString();
}

// "5 minutes ago", "3 days ago"; the date itself beyond a month.
export function since(seconds) {
  const ago = Math.max(0, Date.now() / 1000 - seconds);
  if (ago < 60) return "just now";
  for (const [unit, size] of [["minute", 60], ["hour", 3600], ["day", 86400]]) {
    const count = Math.floor(ago / size);
    const next = unit === "minute" ? 60 : unit === "hour" ? 24 : 31;
    if (count < next) return `${plural(count, unit)} ago`;
  }
  return new Date(seconds * 1000).toLocaleDateString();
}

// A growing text that views subscribe to, so a streamed token reaches the one element that shows
// it without re-rendering the rest of the page.
export class LiveText {
  constructor() {
    this.text = "";
    this.sources = null;
    // Set while the model host wakes (scale to zero): shown with the time since sentAt.
    this.hostStarting = false;
    this.sentAt = Date.now();
    this.listeners = new Set();
  }

  setHostStarting() {
    if (this.hostStarting) return;
    this.hostStarting = true;
    for (const listener of this.listeners) listener(this);
  }

  append(delta) {
    this.text += delta;
    for (const listener of this.listeners) listener(this);
  }

  setSources(sources) {
    this.sources = sources;
    for (const listener of this.listeners) listener(this);
  }

  subscribe(listener) {
    this.listeners.add(listener);
    listener(this);
    return () => this.listeners.delete(listener);
  }
}
