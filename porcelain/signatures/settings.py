"""The registry's signing settings (config.toml): which key signs, which keys are trusted, and
which stages a version may enter only by a signed change.

- `user.signingkey`: the key `pacha sign` uses, and every register and stage change with
  `sign.always = true`; `--sign KEYID` overrides it.
- `sign.keyring`: a file of exported public keys (`gpg --export -a`): the keys `pacha verify`
  and `pacha pull` trust (`--keyring FILE` overrides it). A relative path is relative to the
  registry directory. Unset: the user's GnuPG keyring, keys of full or ultimate validity.
- `policy.root-keys`: OpenPGP fingerprints: the only keys that may sign the first change of a
  policy chain (porcelain.policies.chain); unset, any trusted key may (trust on first use).
- `policy.require_signed`: stage names (a TOML list, or a comma-separated string), e.g.
  `["production"]`: a move into them must be signed by a trusted key, locally and by pull.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pacha.config import fingerprint_list
from porcelain.errors import InvalidInput
from porcelain.stages.rules import STAGES

TRUE = ("true", "1", "yes", "on")


def _names(value: Any, key: str) -> list[str]:
    """The stage names of a setting; InvalidInput for a name that is no stage, so that a typo
    (or a list written as a string) is an error, never a policy that requires nothing."""
    if value is None:
        return []
    names: list[str] | None = None
    if isinstance(value, str):
        names = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        names = [v.strip() for v in value if v.strip()]
    unknown = [n for n in names or [] if n not in STAGES]
    if names is None or unknown:
        what = f"names unknown stage {unknown[0]!r}" if unknown else f"= {value!r} is not stage names"
        raise InvalidInput(
            f"config {key} {what}: use {', '.join(STAGES)}, e.g. pacha config {key} '[\"production\"]'"
        )
    return names


def required_stages(config: Any) -> list[str]:
    """Stages a version may enter only by a signed stage change (policy.require_signed)."""
    return _names(config.get("policy.require_signed"), "policy.require_signed")


def root_keys(config: Any) -> list[str] | None:
    """policy.root-keys: the fingerprints (upper-case, 40 hex digits) that may sign a first
    policy change, or None when unset. Raises InvalidInput for a value that is not fingerprints
    (a hand-edited typo must be an error, never a root that trusts everyone)."""
    value = config.get("policy.root-keys")
    if value is None:
        return None
    try:
        return fingerprint_list(value if isinstance(value, (str, list)) else str(value))
    except ValueError:
        raise InvalidInput(
            f"config policy.root-keys = {value!r} is not OpenPGP fingerprints: set 40 hex digits each, "
            "e.g. pacha config policy.root-keys FPR1,FPR2 (gpg --fingerprint shows them)"
        ) from None


def always(config: Any) -> bool:
    """sign.always: sign every registration and stage change with user.signingkey."""
    value = config.get("sign.always", False)
    return value is True or (isinstance(value, str) and value.strip().lower() in TRUE)


def signing_key(config: Any, given: str | None) -> str | None:
    """The key a register or stage change signs with: --sign KEYID, else user.signingkey when
    sign.always is true, else None (unsigned). Raises InvalidInput for sign.always without a key."""
    if given:
        return given
    if not always(config):
        return None
    key = config.get("user.signingkey")
    if not key:
        raise InvalidInput(
            "sign.always is set but user.signingkey is not: pacha config user.signingkey KEYID"
        )
    return str(key)


def default_key(config: Any, given: str | None) -> str:
    """The key `pacha sign` uses: --key, else user.signingkey (InvalidInput if neither)."""
    key = given or config.get("user.signingkey")
    if not key:
        raise InvalidInput("no key to sign with: give --key KEYID or set user.signingkey (pacha config)")
    return str(key)


def trusted_keyring(config: Any, root: Path, given: Path | None = None) -> Path | None:
    """The keyring file whose keys are trusted: given (--keyring), else sign.keyring (relative
    to the registry directory root), else None (the user's keyring)."""
    if given is not None:
        return given
    value = config.get("sign.keyring")
    if not value:
        return None
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else root / path
