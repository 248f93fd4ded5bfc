// A chat's messages form a tree (chat.history.messages): each regenerated answer is a sibling.

// The branch shown: from the root down to `leafId`.
export function pathTo(messages, leafId) {
  const path = [];
  const seen = new Set();
  let node = leafId ? messages[leafId] : null;
  while (node && !seen.has(node.id)) {
    seen.add(node.id);
    path.push(node);
    node = node.parentId ? messages[node.parentId] : null;
  }
  return path.reverse();
}

export function siblingsOf(messages, message) {
  if (message.parentId && messages[message.parentId]) {
    return messages[message.parentId].childrenIds.filter((id) => messages[id]);
  }
  return Object.values(messages)
    .filter((m) => !m.parentId)
    .sort((a, b) => a.timestamp - b.timestamp)
    .map((m) => m.id);
}

// The leaf reached from `id` by always following the newest child.
export function newestLeaf(messages, id) {
  let node = messages[id];
  const seen = new Set();
  while (node && node.childrenIds?.length && !seen.has(node.id)) {
    seen.add(node.id);
    const next = messages[node.childrenIds[node.childrenIds.length - 1]];
    if (!next) break;
    node = next;
  }
  return node ? node.id : id;
}

// The conversation sent to the model: the branch's text, without answers that never started.
export function conversation(path) {
  return path
    .filter((m) => m.role === "user" || (m.role === "assistant" && m.content))
    .map((m) => ({ role: m.role, content: m.content }));
}
