"""Signed versions and stage changes (issue 15): detached OpenPGP signatures kept as objects.

gpg: the one adapter over GnuPG (RFC 4880 / RFC 9580 detached signatures); objects: what a
signature is and the `attached/` ref naming it; settings: user.signingkey, sign.always,
sign.keyring, policy.require_signed; attach: signing records and stage changes inside their
commits; verify: checking them (the API `pacha verify` and policies use); incoming:
require_signed on what a pull brings.
"""
