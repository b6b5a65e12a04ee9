"""What LangGraph would cost the `/v1/query` router: import time and per-request overhead
of a four-node graph (classify -> catalog | manual -> compose) against the same plain calls.

    .venv/bin/python -m bench.router_overhead
"""

from __future__ import annotations

import statistics
import time
from typing import Any, TypedDict

RUNS = 300


class _State(TypedDict, total=False):
    question: str
    intent: str
    rows: str
    answer: str
    text: str


def _classify(state: _State) -> dict[str, Any]:
    return {"intent": "both"}


def _catalog(state: _State) -> dict[str, Any]:
    return {"rows": "[T1] key=x"}


def _manual(state: _State) -> dict[str, Any]:
    return {"answer": "Hold it [1]."}


def _compose(state: _State) -> dict[str, Any]:
    return {"text": state.get("rows", "") + "\n" + state.get("answer", "")}


def _plain(question: str) -> _State:
    state: _State = {"question": question}
    for step in (_classify, _catalog, _manual, _compose):
        state.update(step(state))  # type: ignore[typeddict-item]
    return state


def _timings_ms(call: Any) -> list[float]:
    for _ in range(20):
        call()
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return sorted(timings)


def main() -> None:
    started = time.perf_counter()
    from langgraph.graph import END, START, StateGraph

    imported = time.perf_counter() - started
    graph = StateGraph(_State)
    for name, step in (
        ("classify", _classify),
        ("catalog", _catalog),
        ("manual", _manual),
        ("compose", _compose),
    ):
        graph.add_node(name, step)
    graph.add_edge(START, "classify")
    graph.add_conditional_edges("classify", lambda s: ["catalog", "manual"])
    graph.add_edge("catalog", "compose")
    graph.add_edge("manual", "compose")
    graph.add_edge("compose", END)
    app = graph.compile()
    lg = _timings_ms(lambda: app.invoke({"question": "x"}))
    plain = _timings_ms(lambda: _plain("x"))
    print(f"langgraph import: {imported:.2f} s")
    p95 = lg[int(RUNS * 0.95)]
    print(f"langgraph invoke: p50 {statistics.median(lg):.3f} ms, p95 {p95:.3f} ms")
    print(f"plain functions:  p50 {statistics.median(plain) * 1000:.1f} µs")


if __name__ == "__main__":
    main()
