"""The registry's signing settings (config.toml): which key signs, which keys are trusted, and
which stages a version may enter only by a signed change.

- `user.signingkey`: the key `pacha sign` uses, and every register and stage change with
  `sign.always = true`; `--sign KEYID` overrides it.
- `sign.keyring`: a file of exported public keys (`gpg --export -a`): the keys `pacha verify`
  and `pacha pull` trust (`--keyring FILE` overrides it). A relative path is relative to the
  registry directory. Unset: the user's GnuPG keyring, keys of full or ultimate validity.
- `policy.require_signed`: stage names (a TOML list, or a comma-separated string), e.g.
  `["production"]`: a move into them must be signed by a trusted key, locally and by pull.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from porcelain.errors import InvalidInput

TRUE = ("true", "1", "yes", "on")


def _names(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise InvalidInput(f'config {key} = {value!r}: give stage names, e.g. require_signed = ["production"]')


def required_stages(config: Any) -> list[str]:
    """Stages a version may enter only by a signed stage change (policy.require_signed)."""
    return _names(config.get("policy.require_signed"), "policy.require_signed")


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
