"""Lifecycle stages: the allowed moves (rules) and moving versions between them (moves)."""
