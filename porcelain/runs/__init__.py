"""Experiment runs: records, live runs and their metrics, executing a command, comparing runs."""
