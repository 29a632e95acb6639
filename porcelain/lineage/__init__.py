"""Lineage between versions: the graph, edges added later, usage, and drawing it."""
