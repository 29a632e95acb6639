"""The commands models, datasets and recipes share, one module per command, named for it.

Each command is a top-level function; porcelain.cli.kind_group registers it in the `model`,
`data` and `recipe` groups, and the command asks its context which kind it acts on
(porcelain.cli.context.kind_of).
"""
