"""Pacha's porcelain: the daily workflows (models, datasets, recipes, runs).

Built only on the public API of `pacha`; `pacha` never imports this package.
"""
