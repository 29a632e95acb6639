"""Models and datasets as versions: registering, finding, downloading, deleting and restoring them.

Submodules import from each other, never from this package (it re-exports nothing).
"""
