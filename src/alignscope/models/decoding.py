"""Maximum spanning tree decoding (Chu-Liu-Edmonds) for graph-based dependency parsing.

The decoder always returns a well-formed tree: every word has exactly one head, there is no
cycle, and exactly one word is attached to the root, as UD requires. The one-root constraint
uses the penalty construction of Gabow & Tarjan (1984): every root arc is lowered by a constant
larger than any difference between two trees' scores, so the best tree uses a single root arc,
and among such trees it is the best under the original scores.
"""

from __future__ import annotations

import numpy as np


def max_spanning_tree(scores: np.ndarray) -> list[int]:
    """Heads of the best single-root tree.

    `scores` has shape [n, n + 1]: `scores[i, h]` scores head `h` (0 is the root, `j` is word
    `j`) for word `i + 1`. The self-loop entries `scores[i, i + 1]` are ignored. Returns the
    1-based head of each word (0 for the root's single dependent).
    """
    if scores.ndim != 2 or scores.shape[1] != scores.shape[0] + 1:
        raise ValueError(f"expected scores of shape [n, n + 1], got {list(scores.shape)}")
    n = scores.shape[0]
    if n == 0:
        return []
    graph = np.full((n + 1, n + 1), -np.inf)  # graph[d, h]; node 0 (the root) takes no head
    graph[1:] = scores
    np.fill_diagonal(graph, -np.inf)
    arcs = graph[1:][np.isfinite(graph[1:])]
    if arcs.size != n * n:
        raise ValueError("arc scores must be finite (self-loops excepted)")
    if n > 1:
        graph[1:, 0] -= 1.0 + n * float(arcs.max() - arcs.min())
    heads = _chu_liu_edmonds(graph)
    return heads[1:].tolist()


def _chu_liu_edmonds(graph: np.ndarray) -> np.ndarray:
    """Maximum spanning arborescence rooted at node 0 of `graph[d, h]` (-inf: no arc)."""
    heads = graph.argmax(axis=1)
    heads[0] = -1
    cycle = _find_cycle(heads)
    if cycle is None:
        return heads
    # Contract the cycle into one new node (the last of the subproblem) and solve recursively.
    in_cycle = np.zeros(len(heads), dtype=bool)
    in_cycle[cycle] = True
    outside = np.flatnonzero(~in_cycle)  # starts with the root, node 0
    contracted = len(outside)
    sub = np.full((contracted + 1, contracted + 1), -np.inf)
    sub[:contracted, :contracted] = graph[np.ix_(outside, outside)]
    # Arcs leaving the cycle: for each outside dependent, its best head inside the cycle.
    leaving = graph[np.ix_(outside, cycle)]
    best_head_in_cycle = cycle[leaving.argmax(axis=1)]
    sub[:contracted, contracted] = leaving.max(axis=1)
    # Arcs entering the cycle replace one cycle arc: gain = new arc - the cycle arc it breaks.
    entering = graph[np.ix_(cycle, outside)] - graph[cycle, heads[cycle]][:, None]
    best_dependent_in_cycle = cycle[entering.argmax(axis=0)]
    sub[contracted, :contracted] = entering.max(axis=0)
    sub_heads = _chu_liu_edmonds(sub)

    result = heads.copy()  # cycle arcs are kept, except the one broken below
    for position, node in enumerate(outside[1:], start=1):
        head = sub_heads[position]
        result[node] = best_head_in_cycle[position] if head == contracted else outside[head]
    head_of_cycle = sub_heads[contracted]
    result[best_dependent_in_cycle[head_of_cycle]] = outside[head_of_cycle]
    return result


def _find_cycle(heads: np.ndarray) -> np.ndarray | None:
    """Nodes of one cycle in the head graph (node 0 is the root), or None."""
    state = np.zeros(len(heads), dtype=np.int8)  # 0 unseen, 1 on the current path, 2 done
    for start in range(1, len(heads)):
        path = []
        node = start
        while node > 0 and state[node] == 0:
            state[node] = 1
            path.append(node)
            node = int(heads[node])
        if node > 0 and state[node] == 1:
            return np.array(path[path.index(node):])
        state[path] = 2
    return None
