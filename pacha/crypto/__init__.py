"""Encryption at rest (issue 15): keys, key derivation, AES-256-GCM and the formats built on them.

One concern per module, none importing the store:

- kdf: Argon2id (RFC 9106) turning a passphrase into a key-encryption key;
- aead: AES-256-GCM (NIST SP 800-38D) with fresh 96-bit random nonces;
- keyring: the registry's `keyring` file: master keys wrapped under one or more passphrases;
- passphrase: where a passphrase comes from (PACHA_PASSPHRASE, a key file, a prompt);
- unlock: a registry's master keys, unwrapped once per process when first needed;
- envelope: the encryption stage of the object body pipeline (body encoding 4);
- sealed_file: a self-describing encrypted file to share one artifact (`download --encrypt`).

The format of everything written is in docs/format.md; what encryption hides and
what it does not, in docs/security.md.
"""
