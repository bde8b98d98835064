"""Sparse min-cost assignment of rows (orphan callee spans) to columns (candidate caller spans).

Every row is assigned exactly once: to one of its candidate columns, or to its own private "no
parent" column, so a column (a call) is given to at most one row and calls that reached nobody
traced (cache hits, failed connects) simply stay free. Shortest augmenting paths with dual
potentials (the Jonker-Volgenant scheme, as in scipy's linear_sum_assignment) on adjacency lists:
each row's search touches only the rows and columns its candidates compete with, so a window of
100k spans costs about as much as its busiest neighbourhoods, and no dense matrix is ever built.
Pure Python: the backend process runs it and keeps numpy out (ADR 8), and the sparse search is
per-row work that arrays would not speed up much.

`margins` then gives, for each assigned row, how much the optimal total cost rises when that one
pair is forbidden (its min-marginal): the log-likelihood ratio between the chosen assignment and the
best one without that link, which the engine turns into a confidence.
"""

from __future__ import annotations

import heapq
import math

INF = math.inf
#: options whose reduced cost exceeds this many nats weigh less than e^-20 and are not searched
ALTERNATIVE_CUTOFF = 9.0
#: options further above the best rival than this are bounded, not searched (e^-4.6 = 1%)
EXACT_WITHIN = 4.6


class Assignment:
    """`adjacency[r]`: (column, cost) pairs; `no_parent[r]`: the cost of leaving row r unlinked.
    Costs may be any finite numbers; each row is shifted to be non-negative (a constant per row
    changes no optimum)."""

    def __init__(self, adjacency: list[list[tuple[int, float]]], no_parent: list[float], n_columns: int) -> None:
        self.n_rows = len(adjacency)
        self.n_columns = n_columns
        self.adj: list[list[tuple[int, float]]] = []
        self._shift: list[float] = []
        self._last_first = -1   # the first column of the last `_forward` search's shortest cycle
        for r, edges in enumerate(adjacency):
            low = min([c for _, c in edges] + [no_parent[r]])
            self._shift.append(low)
            row = [(j, c - low) for j, c in edges]
            row.append((n_columns + r, no_parent[r] - low))  # the row's private "no parent" column
            self.adj.append(row)
        self.u = [0.0] * self.n_rows
        # Duals and owners by column number (candidate columns, then each row's private one): lists,
        # not dicts, since every search reads them once per arc; a free column's dual stays 0.
        self.v: list[float] = [0.0] * (n_columns + self.n_rows)
        self.row_of: list[int] = [-1] * (n_columns + self.n_rows)
        self.col_of: list[int] = [-1] * self.n_rows
        self._reverse: list[list[tuple[int, float]]] | None = None
        for r in range(self.n_rows):
            self._augment(r)

    def _search(self, start: int,
                forbidden: int = -1) -> tuple[int, float, dict[int, float], dict[int, int], list[int]]:
        """Dijkstra over alternating paths from the unassigned row `start`, on reduced costs
        (non-negative by dual feasibility). Returns the sink (a free column), its value (distance
        plus its dual), the settled columns' distances, the predecessors and the scanned rows.

        With `forbidden` (a column `start` may not take, freed for the min-marginal) the search
        goes on past the first free column: the freed column's dual may make it cheaper."""
        u, v, row_of, adj = self.u, self.v, self.row_of, self.adj
        dist: dict[int, float] = {}
        pred: dict[int, int] = {}
        settled: dict[int, float] = {}
        scanned: list[int] = []
        heap: list[tuple[float, int, int]] = []
        push, pop = heapq.heappush, heapq.heappop
        best_sink, best_value = -1, INF
        lowest_dual = min(0.0, v[forbidden]) if forbidden >= 0 else 0.0
        row, base = start, 0.0
        while True:
            # scan `row`, reached at distance `base`: relax the arcs to its columns
            scanned.append(row)
            ur = u[row]
            for j, c in adj[row]:
                if j in settled or (row == start and j == forbidden):
                    continue
                d = base + c - ur - v[j]
                if d < dist.get(j, INF):
                    dist[j] = d
                    pred[j] = row
                    push(heap, (d, 0 if row_of[j] < 0 else 1, j))  # free columns first on ties
            owner = -1
            while heap:
                d, _, j = pop(heap)
                if j in settled or d > dist[j]:
                    continue
                if d + lowest_dual >= best_value:
                    heap.clear()
                    break
                settled[j] = d
                owner = row_of[j]
                if owner < 0:
                    value = d + v[j]
                    if value < best_value:
                        best_sink, best_value = j, value
                    if forbidden < 0:
                        heap.clear()
                        break
                else:
                    break
            if owner < 0:
                return best_sink, best_value, settled, pred, scanned
            row, base = owner, d

    def _augment(self, start: int) -> None:
        # The common case first: the search's first pop (the least (distance, taken, column) of the
        # row's own arcs) is a free column, so the search would end there, having scanned this row
        # alone: the row takes it, its dual rises by the distance, nothing else moves. The same
        # arithmetic as `_search`'s first scan, without its dictionaries and heap.
        u, v, row_of = self.u, self.v, self.row_of
        ur = u[start]
        first: tuple[float, int, int] | None = None
        for j, c in self.adj[start]:
            entry = (0.0 + c - ur - v[j], 0 if row_of[j] < 0 else 1, j)
            if first is None or entry < first:
                first = entry
        if first is not None and first[1] == 0:
            low, _, j = first
            u[start] += low
            row_of[j] = start
            self.col_of[start] = j
            return
        sink, _, settled, pred, scanned = self._search(start)
        u, v, col_of, row_of = self.u, self.v, self.col_of, self.row_of
        low = settled[sink]
        u[start] += low
        for r in scanned:
            if r != start:
                u[r] += low - settled[col_of[r]]
        for j, d in settled.items():
            if d < low:
                v[j] = v[j] - (low - d)
        j = sink
        while True:
            r = pred[j]
            row_of[j] = r
            previous = col_of[r]
            col_of[r] = j
            if r == start:
                break
            j = previous

    def parent(self, row: int) -> int:
        """The column assigned to `row`, or -1 when it is left without a parent."""
        j = self.col_of[row]
        return j if j < self.n_columns else -1

    def cost(self, row: int, column: int) -> float:
        for j, c in self.adj[row]:
            if j == column:
                return c
        return INF

    def cost_of(self, row: int, column: int) -> float:
        """The cost of `row` taking `column` as given (before the per-row shift)."""
        return self.cost(row, column) + self._shift[row]

    def _reduced(self, row: int, column: int, cost: float) -> float:
        return cost - self.u[row] - self.v[column]

    def _arcs_into(self) -> list[list[tuple[int, float]]]:
        """For each column, the rows that may take it and at what cost (built once, on first use)."""
        if self._reverse is None:
            reverse: list[list[tuple[int, float]]] = [[] for _ in range(len(self.v))]
            for r, edges in enumerate(self.adj):
                for col, c in edges:
                    reverse[col].append((r, c))
            self._reverse = reverse
        return self._reverse

    def margin(self, row: int) -> float:
        """How much the optimal total cost rises if `row` may not take its assigned column j.

        In the residual graph of the assignment (with a sink that every free column reaches and
        that reaches every taken column), that is the shortest path from `row` to j not using the
        arc row -> j: either a chain of reassignments ending at j itself, or one ending at a free
        column plus a second chain in which some row takes j and its column is given up. With
        the final duals every arc's reduced cost is non-negative (the sink's potential is 0, free
        columns' duals are 0 and taken ones' at most 0), so both legs are Dijkstra searches, and
        the reduced length of such a cycle is exactly its change in total cost."""
        j = self.col_of[row]
        sink_to_j = self._from_sink(row, j, self._arcs_into())
        return self._forward(row, j, sink_to_j)

    def alternatives(self, row: int, cutoff: float = ALTERNATIVE_CUTOFF,
                     exact_within: float = EXACT_WITHIN) -> list[float]:
        """For each other option of `row` (another candidate column, or its "no parent" column),
        how much the optimal total cost rises when `row` is made to take it: the min-marginal of
        each alternative (`margin` is the least of them). Options whose reduced cost alone
        exceeds `cutoff` nats are left out, and an option whose min-marginal does counts as INF:
        their weight e^-cost is negligible, and the searches stop early. An option whose reduced
        cost (a lower bound of its min-marginal) is more than `exact_within` nats above the best
        rival's is given that bound instead of a search: its weight is under 1% of that rival's,
        and the bound only overstates it (the confidence errs low, never high)."""
        j = self.col_of[row]
        sink_to_j = self._from_sink(row, j, self._arcs_into(), cutoff)
        # one search first: when even the best alternative is past the cutoff, so are all others
        best, best_first = self._forward_first(row, j, sink_to_j, cutoff)
        if best == INF:
            return []
        out: list[float] = [best]
        ur, v = self.u[row], self.v
        for col, c in self.adj[row]:
            if col in (j, best_first):
                continue
            reduced = c - ur - v[col]
            if reduced >= cutoff:
                continue
            out.append(reduced if reduced > best + exact_within
                       else self._forward(row, j, sink_to_j, first=col, cap=cutoff))
        return out

    def _forward_first(self, start: int, j: int, sink_to_j: float, cap: float) -> tuple[float, int]:
        """`_forward` without `first`, and the first column of the shortest cycle's path."""
        best = self._forward(start, j, sink_to_j, cap=cap)
        if best == INF:
            return INF, -1
        first = self._last_first
        return best, first

    def posterior(self, row: int) -> float:
        """The chosen link's share of the weight e^-cost over the best assignment for each option
        of `row`: 1 / (1 + sum over alternatives of e^-(their min-marginal)). Where one rival is
        close this is the logistic of the margin; where several are, each takes its share."""
        return 1.0 / (1.0 + sum(math.exp(-m) for m in self.alternatives(row) if m < INF))

    def _from_sink(self, row: int, j: int, reverse: list[list[tuple[int, float]]], cap: float = INF) -> float:
        """Shortest path sink -> j: give up some taken column, then reassign rows until one takes j
        (searched backwards from j)."""
        u, v, col_of = self.u, self.v, self.col_of
        dist: dict[int, float] = {j: 0.0}
        done: set[int] = set()
        heap: list[tuple[float, int]] = [(0.0, j)]
        push, pop = heapq.heappush, heapq.heappop
        best = cap
        while heap:
            d, y = pop(heap)
            if y in done or d > dist[y]:
                continue
            if d >= best:
                break
            done.add(y)
            best = min(best, d - v[y])     # sink -> y costs -v(y) >= 0 (y is taken)
            for x, c in reverse[y]:
                z = col_of[x]
                if x == row or z == y:
                    continue  # `row` is the cycle's start; x -> y must be an arc x does not use yet
                nd = d + (c - u[x] - v[y])
                if nd < dist.get(z, INF):
                    dist[z] = nd
                    push(heap, (nd, z))
        return best

    def _forward(self, start: int, j: int, sink_to_j: float, first: int = -1, cap: float = INF) -> float:
        """Shortest cycle through `start` not using start -> j (with `first`: starting with
        start -> first); INF when none is shorter than `cap` (the search stops there)."""
        u, v, row_of, adj = self.u, self.v, self.row_of, self.adj
        dist: dict[int, float] = {}
        settled: set[int] = set()
        heap: list[tuple[float, int, int]] = []   # (distance, column, the path's first column)
        push, pop = heapq.heappush, heapq.heappop
        best, best_first = cap, -1
        ur = u[start]
        for col, c in adj[start]:
            if col == j or (first >= 0 and col != first):
                continue
            d = c - ur - v[col]
            if d < best and d < dist.get(col, INF):
                dist[col] = d
                push(heap, (d, col, col))
        while heap:
            d, col, head = pop(heap)
            if d >= best:
                break
            if col in settled or d > dist[col]:
                continue
            settled.add(col)
            if col == j:
                best, best_first = d, head
                continue
            owner = row_of[col]
            if owner < 0:
                if d + sink_to_j < best:
                    best, best_first = d + sink_to_j, head
            elif owner != start:
                ur = u[owner]
                for nxt, c in adj[owner]:
                    if nxt in settled:
                        continue
                    nd = d + c - ur - v[nxt]
                    if nd < best and nd < dist.get(nxt, INF):
                        dist[nxt] = nd
                        push(heap, (nd, nxt, head))
        self._last_first = best_first
        return INF if best >= cap else max(0.0, best)
