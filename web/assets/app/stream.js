// One streamed completion: POST /api/chat/completions with stream=true, read as Server-Sent Events.
import { ApiError, NETWORK_MESSAGE, authHeaders, errorFrom, send } from "./api.js";

// The payloads of an SSE body as they arrive: JSON objects, the literal "[DONE]", and
// {comment} for a block of comment lines (": model host starting" while the host wakes).
export async function* sseEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
        const lines = block.split(/\r?\n/);
        const data = lines
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, ""))
          .join("\n");
        if (!data) {
          const comment = lines.find((line) => line.startsWith(":"));
          if (comment !== undefined) yield { comment: comment.slice(1).trim() };
          continue;
        }
        yield data === "[DONE]" ? data : JSON.parse(data);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

export class StreamError extends Error {
  constructor(message, code = null) {
    super(message);
    this.name = "StreamError";
    this.code = code;
  }
}

// The app holds a streamed answer while the model host wakes, then gives up with this code.
const HOST_DID_NOT_START = "The model host did not start in time. Try again in a moment.";

// Sends the request and reports progress through the callbacks:
//   onStart({taskId, messageId, userMessageId}), onText(delta), onSources(sources),
//   onHostStarting() (a ": model host starting" comment before the first token)
// Resolves with {finishReason} once the body ends after [DONE]: the server sends [DONE] as soon
// as the answer ends and closes the body once the answer is saved, so a chat read back after
// this resolves has the answer as saved. Rejects with ApiError before the stream (429, 503...),
// StreamError when the server reports an error mid-stream, or ApiError(0) if the connection drops.
export async function streamCompletion(request, { signal, onStart, onText, onSources, onHostStarting }) {
  const response = await send("POST", "/api/chat/completions", { ...request, stream: true }, { signal });
  if (!response.ok) throw await errorFrom(response, Boolean(authHeaders().Authorization));
  onStart?.({
    taskId: response.headers.get("x-stratus-task-id"),
    messageId: response.headers.get("x-stratus-message-id"),
    userMessageId: response.headers.get("x-stratus-user-message-id"),
  });
  let finishReason = null;
  let done = false;
  try {
    for await (const event of sseEvents(response.body)) {
      if (done) continue;
      if (event === "[DONE]") {
        done = true;
        continue;
      }
      if (event.comment !== undefined) {
        if (event.comment.startsWith("model host starting")) onHostStarting?.();
        continue;
      }
      if (event.error) {
        const { code, message } = event.error;
        if (code === "model_host_starting") throw new StreamError(HOST_DID_NOT_START, code);
        throw new StreamError(message || "The model host failed.", code);
      }
      if (Array.isArray(event.sources)) onSources?.(event.sources);
      for (const choice of event.choices || []) {
        const text = choice.delta?.content;
        if (text) onText(text);
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
    }
  } catch (error) {
    if (error instanceof StreamError || error.name === "AbortError") throw error;
    // Cut after [DONE]: the answer was whole; the chat read back shows how it was saved.
    if (done) return { finishReason };
    throw new ApiError(0, NETWORK_MESSAGE);
  }
  if (done) return { finishReason };
  // The body ended without [DONE] and without an error event: the connection was cut.
  throw new ApiError(0, "The connection was lost before the answer finished.");
}
