"""What a client called a file, made safe to show and to put in a download header.

The name is metadata only (the storage key is the server's), but it is shown in lists and
offered back in ``Content-Disposition``, where ``..``, or a look-alike path such as a two-dot
leader (U+2025) and division slashes (U+2215) before ``etc`` and ``passwd``, reads like a path.
So the name is NFKC-normalised (which turns the leader and the full-width forms into plain dots
and slashes), the slash look-alikes NFKC keeps become slashes, only the last component is kept,
and a name of nothing but dots is no name at all.
"""

from __future__ import annotations

import unicodedata

MAX_NAME = 255
FALLBACK = "file"
# Slashes that NFKC leaves alone (Unicode's confusables for "/" and "\" among symbols; letters
# such as the katakana "no" are left to be letters).
_SLASHES = str.maketrans(
    dict.fromkeys("\\\u2215\u2044\u29f8\u29f9\u2216\u2571\u2572\u27cb\u27cd", "/")
)


def safe_name(raw: str) -> str:
    """The last path component of ``raw`` after NFKC, without dot-only names; at most 255
    characters (the end is kept, with the extension)."""
    name = unicodedata.normalize("NFKC", raw).translate(_SLASHES)
    base = name.rsplit("/", 1)[-1].strip()
    if not base.strip(". "):
        return FALLBACK
    return base[-MAX_NAME:]
