"""How deeply a JSON document nests, measured on its bytes before anything decodes it.

msgspec (like every recursive decoder) raises ``RecursionError`` at about a thousand levels, and
how many it manages depends on the stack already in use; so the body guard refuses anything deeper
than a fixed limit first, with a plain 400, and no decoder ever sees such a body.

Brackets inside strings do not nest: escape pairs go first (so ``\\"`` cannot end a string), then
the strings, then everything that is not a bracket. The running sum of what is left is the depth.
Valid JSON is measured exactly; for invalid JSON the number only has to be good enough to refuse
it, which the decoder would do anyway.
"""

from __future__ import annotations

import itertools
import re

# Tool schemas, structured-output formats and Open WebUI's chat documents nest a few tens of
# levels at most; our own walkers, Postgres' jsonb and the upstream's parser all manage this many.
MAX_JSON_DEPTH = 64

_ESCAPE_PAIR = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# +1 for an opening bracket, -1 for a closing one, indexed by byte value.
_STEP = [1 if b in b"[{" else -1 for b in range(256)]


def nesting_depth(body: bytes) -> int:
    """The deepest level of arrays and objects in ``body``: 0 for a scalar, 1 for ``[]``."""
    brackets = _STRING.sub(b"", _ESCAPE_PAIR.sub(b"", body)).translate(None, _NOT_BRACKETS)
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    # Cheap first: a body with no more opening brackets than the limit cannot nest deeper.
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    return nesting_depth(body) > limit
