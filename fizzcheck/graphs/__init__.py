"""Random computation graphs: the IR and its code (:mod:`~fizzcheck.graphs.ir`) and their
evaluation on the reference tape and on a target (:mod:`~fizzcheck.graphs.evaluate`).

Their error bounds are in :mod:`fizzcheck.bounds.graphs`, the strategy that draws them in
:mod:`fizzcheck.strategies.graphs`.
"""

from fizzcheck.graphs.evaluate import tape_forward, tape_reverse, torch_forward, torch_reverse
from fizzcheck.graphs.ir import (
    FORWARD_VARIANTS,
    OPS,
    REVERSE_VARIANTS,
    Graph,
    Step,
    compile_graph,
    expression,
    graph_note,
    input_names,
    source,
)

__all__ = [
    "FORWARD_VARIANTS",
    "OPS",
    "REVERSE_VARIANTS",
    "Graph",
    "Step",
    "compile_graph",
    "expression",
    "graph_note",
    "input_names",
    "source",
    "tape_forward",
    "tape_reverse",
    "torch_forward",
    "torch_reverse",
]
