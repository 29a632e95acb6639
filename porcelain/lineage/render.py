"""Drawing a lineage graph: a tree for the terminal, JSON, Graphviz DOT and Mermaid."""

from __future__ import annotations

from typing import Any

from porcelain.lineage.graph import Edge, Graph


def _params(edge: Edge) -> str:
    if not edge.params:
        return ""
    parts = []
    for key, value in sorted(edge.params.items()):
        if isinstance(value, dict) and "ref" in value:
            value = value["ref"]
        parts.append(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}")
    return " (" + ", ".join(parts) + ")"


def to_json(graph: Graph) -> dict[str, Any]:
    return {
        "root": graph.root,
        "nodes": [
            {"id": n.id, "kind": n.kind, "name": n.name, "version": n.version, "state": n.state}
            for n in graph.nodes.values()
        ],
        "edges": [
            {"child": e.child, "parent": e.parent, "relation": e.relation, "params": e.params}
            for e in graph.edges
        ],
    }


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: Graph) -> str:
    lines = ["digraph lineage {", "  rankdir=LR;", "  node [shape=box];"]
    for node in graph.nodes.values():
        style = ", style=bold" if node.id == graph.root else ""
        lines.append(f"  {_quote(node.id[:12])} [label={_quote(f'{node.label} [{node.state}]')}{style}];")
    for edge in graph.edges:
        label = edge.relation + _params(edge)
        lines.append(f"  {_quote(edge.parent[:12])} -> {_quote(edge.child[:12])} [label={_quote(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(graph: Graph) -> str:
    lines = ["graph LR"]
    for node in graph.nodes.values():
        text = f"{node.label} [{node.state}]".replace('"', "'")
        lines.append(f'  n{node.id[:12]}["{text}"]')
    for edge in graph.edges:
        label = (edge.relation + _params(edge)).replace('"', "'")
        lines.append(f'  n{edge.parent[:12]} -->|"{label}"| n{edge.child[:12]}')
    return "\n".join(lines) + "\n"


def to_tree(graph: Graph, ancestors: bool, descendants: bool) -> Any:
    """A rich Tree: parents under 'from', children under 'into'; repeats are marked, not expanded."""
    from rich.markup import escape
    from rich.tree import Tree

    nodes = graph.nodes
    up: dict[str, list[Edge]] = {}
    down: dict[str, list[Edge]] = {}
    for edge in graph.edges:
        up.setdefault(edge.child, []).append(edge)
        down.setdefault(edge.parent, []).append(edge)
    root = nodes[graph.root]
    tree = Tree(f"[bold]{escape(root.label)}[/bold] {escape(f'[{root.state}]')}")

    def grow(
        branch: Any, node_id: str, links: dict[str, list[Edge]], word: str, other: str, seen: set[str]
    ) -> None:
        for edge in links.get(node_id, []):
            target = nodes[getattr(edge, other)]
            label = target.label if target.kind == root.kind else f"{target.kind} {target.label}"
            text = escape(f"{word} {edge.relation}{_params(edge)}: {label} [{target.state}]")
            if target.id in seen:
                branch.add(text + " (shown above)")
                continue
            child = branch.add(text)
            grow(child, target.id, links, word, other, seen | {target.id})

    if ancestors:
        if up.get(graph.root):
            grow(tree, graph.root, up, "←", "parent", {graph.root})
        else:
            tree.add("no recorded parents")
    if descendants and down.get(graph.root):
        grow(tree, graph.root, down, "→", "child", {graph.root})
    return tree
