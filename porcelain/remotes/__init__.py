"""Remotes: a team shares a registry through S3-compatible object storage or a shared path.

settings (config.toml), refsync (which refs move), rules (stage rules on the remote's
table), sync (push / fetch / pull), admin (remote add / remove / check, clone), lazy
(objects on demand), history (the remote's audit trail); wire is the one adapter to
pacha.transport.
"""
