"""How to search the visible chunks: an exact scan, or pgvector's HNSW with iterative scans.

HNSW filters after it finds neighbours, so when the caller can see 1% of the chunks a plain index
scan returns about 1% of k. Two plans return all k:

- **exact**: compute the distance to every visible chunk (through the btree on ``file_id``) and
  sort. Cost grows with the visible chunks only, so it wins whenever they are few;
- **iterative**: the HNSW index with ``hnsw.iterative_scan = relaxed_order``, which keeps walking
  the graph until enough rows pass the filter, up to ``hnsw.max_scan_tuples``. Cost grows with
  how selective the filter is, so it wins when many chunks are visible.

The choice is made per query from the visible count (known from the files table, free) and the
table's size (the planner's estimate, free). The limit on scanned tuples is sized from the
filter's selectivity, and the search falls back to exact if the index still comes back short.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

# Sizes with an HNSW index (migration 0005.rag); others are always searched exactly.
INDEXED_DIMENSIONS = frozenset({384, 768, 1024, 1536})
# pgvector's own default scan limit: never ask for less.
MIN_SCAN_TUPLES = 20_000


@dataclass(frozen=True, slots=True)
class SearchPlan:
    method: Literal["exact", "iterative"]
    ef_search: int = 0
    max_scan_tuples: int = 0


def choose_plan(
    *,
    visible_chunks: int,
    total_chunks: int,
    dimensions: int,
    candidates: int,
    ef_search: int,
    exact_max: int,
    max_scan_cap: int,
) -> SearchPlan:
    """The plan for ``candidates`` nearest chunks among ``visible_chunks`` of ``total_chunks``."""
    if dimensions not in INDEXED_DIMENSIONS or visible_chunks <= exact_max:
        return SearchPlan("exact")
    # total_chunks is an estimate (-1 or 0 before the first ANALYZE): never below the visible.
    total = max(total_chunks, visible_chunks)
    selectivity = visible_chunks / total
    # Expect to walk candidates / selectivity tuples to find enough visible ones; allow 4x.
    needed = math.ceil(4 * max(candidates, ef_search) / selectivity)
    scan = min(max(needed, MIN_SCAN_TUPLES), max_scan_cap)
    # pgvector accepts ef_search up to 1000.
    ef = min(max(ef_search, candidates), 1000)
    return SearchPlan("iterative", ef_search=ef, max_scan_tuples=scan)
