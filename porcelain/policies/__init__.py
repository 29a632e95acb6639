"""Access policies (the specification's AccessPolicy): who may read, write and administer a name.

principals.py: the principal kinds and who is acting; records.py: policy and group records and
their refs; rules.py: which policy covers a name and what it allows; enforce.py: the one check
porcelain's actions call; change.py: setting policies and groups (admins only, audited);
signed.py: `pacha verify --policy`, the cryptographic form for shared remotes.
"""
