"""The dependency graph of a pipeline: checks, the order a sync run follows, critical paths.

Kept apart from running so the same answers (is it a DAG, what is upstream of what, which
chain decided the wall time) serve the parser, the runner and the dashboard alike.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from providers.pipeline.spec import Pipeline, Step


class GraphError(ValueError):
    """A graph problem, with the step it belongs to (None: the whole pipeline)."""

    def __init__(self, step: str | None, reason: str) -> None:
        super().__init__(reason)
        self.step = step


def check_graph(pipeline: Pipeline) -> None:
    """Unknown names in `after`, cycles, and templates that read steps not upstream."""
    names = set(pipeline.by_name)
    for step in pipeline.steps:
        for dep in step.after:
            if dep == step.name:
                raise GraphError(step.name, "lists itself in after")
            if dep not in names:
                raise GraphError(step.name, f"after names {dep!r}, but there is no such step")
    cycle = find_cycle(pipeline.steps)
    if cycle:
        shown = cycle if len(cycle) <= 8 else [*cycle[:7], "…"]
        path = " → ".join([*shown, cycle[0]])
        raise GraphError(cycle[0], f"dependency cycle {path}")
    for step in pipeline.steps:
        above = upstream(pipeline, step.name)
        for key, template in step.templates:
            for ref in template.references:
                if ref not in names:
                    raise GraphError(
                        step.name, f"{key} uses {{steps.{ref}}}, but there is no step {ref!r}"
                    )
                if ref not in above:
                    raise GraphError(
                        step.name,
                        f"{key} uses {{steps.{ref}}}, but {ref!r} is not upstream of it "
                        f"(add it to after, directly or through another step)",
                    )


def find_cycle(steps: Sequence[Step]) -> list[str] | None:
    """One cycle as a list of names in running order, or None for a DAG.

    Iterative, so a long chain of steps cannot hit Python's recursion limit.
    """
    after = {s.name: s.after for s in steps}
    index = {s.name: s.index for s in steps}
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for root in steps:
        if root.name in state:
            continue
        path = [root.name]
        pending = [iter(after.get(root.name, ()))]
        state[root.name] = 1
        while pending:
            dep = next(pending[-1], None)
            if dep is None:
                state[path.pop()] = 2
                pending.pop()
            elif state.get(dep) == 1:
                # Found walking dependencies backwards: report it in the order steps would
                # run, starting from the step that comes first in the file.
                cycle = list(reversed(path[path.index(dep) :]))
                first = min(range(len(cycle)), key=lambda i: index[cycle[i]])
                return cycle[first:] + cycle[:first]
            elif dep not in state and dep in after:
                state[dep] = 1
                path.append(dep)
                pending.append(iter(after[dep]))
    return None


def upstream(pipeline: Pipeline, name: str) -> set[str]:
    """Every step `name` waits for, directly or through others."""
    seen: set[str] = set()
    todo = list(pipeline.step(name).after)
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(pipeline.step(dep).after)
    return seen


def topological_order(pipeline: Pipeline) -> list[Step]:
    """Dependencies first; among steps that are ready, the one earlier in the file first."""
    waiting = {s.name: len(s.after) for s in pipeline.steps}
    children: dict[str, list[str]] = {s.name: [] for s in pipeline.steps}
    for step in pipeline.steps:
        for dep in step.after:
            children[dep].append(step.name)
    ready = [(s.index, s.name) for s in pipeline.steps if not s.after]
    heapq.heapify(ready)
    order: list[Step] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(pipeline.step(name))
        for child in children[name]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (pipeline.step(child).index, child))
    if len(order) != len(pipeline.steps):
        raise GraphError(None, "dependency cycle")
    return order


def observed_critical_path(
    after: Mapping[str, Sequence[str]], ends: Mapping[str, float | None]
) -> list[str]:
    """The chain that decided the wall time, as it happened.

    Start at the step that finished last and walk back through the dependency that finished
    last: that one kept its successor waiting. Returned in running order.
    """
    finished = {name: end for name, end in ends.items() if end is not None}
    if not finished:
        return []
    name: str | None = max(finished, key=lambda n: finished[n])
    chain: list[str] = []
    while name is not None:
        chain.append(name)
        deps = [d for d in after.get(name, ()) if d in finished]
        name = max(deps, key=lambda d: finished[d]) if deps else None
    return list(reversed(chain))


def longest_path(
    after: Mapping[str, Sequence[str]], durations: Mapping[str, float | None]
) -> list[str]:
    """The dependency chain with the largest sum of durations: the bound no concurrency beats.

    Used for a sequential run, where every step decided the wall time, to show which chain
    a concurrent run would still have to wait for.
    """
    best: dict[str, tuple[float, list[str]]] = {}
    todo = list(after)
    while todo:  # dependencies first, without recursion
        name = todo[-1]
        missing = [d for d in after.get(name, ()) if d not in best and d in after]
        if missing:
            todo.extend(missing)
            continue
        todo.pop()
        if name in best:
            continue
        options = [best[d] for d in after.get(name, ()) if d in best]
        total, chain = max(options, key=lambda o: o[0], default=(0.0, []))
        best[name] = (total + (durations.get(name) or 0.0), [*chain, name])
    if not best:
        return []
    return max(best.values(), key=lambda o: o[0])[1]
