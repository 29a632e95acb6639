"""Principals (the specification's `Principal`: User, Group, ServiceAccount, Public) and who is acting.

A principal is written `user:ID`, `group:NAME`, `service-account:ID` or `public`. A user's ID is
an email address (or whatever PACHA_PRINCIPAL says); a group is defined by a group record
(`pacha policy group`); `public` is everyone.

The acting principal comes from, in order: the PACHA_PRINCIPAL variable, config `user.principal`,
else `user:<email>` of the configured identity (PACHA_AUTHOR_EMAIL, config user.email, or
login@host). Only a user or a service account can act.
"""

from __future__ import annotations

import os
import re
from typing import Any

from porcelain.errors import InvalidInput

KINDS = ("user", "group", "service-account")
PUBLIC = "public"
ALIASES = {"sa": "service-account", "service": "service-account", "serviceaccount": "service-account"}
ENV = "PACHA_PRINCIPAL"
_ID = re.compile(r"^[^\s:,]{1,200}$")
HINT = "write user:EMAIL, group:NAME, service-account:ID or public"


def parse(text: str) -> str:
    """The canonical form of a principal: `kind:id` with a lower-case kind, or `public`.

    Raises InvalidInput naming the text and the accepted forms.
    """
    raw = text.strip()
    if raw.lower() == PUBLIC:
        return PUBLIC
    kind, sep, ident = raw.partition(":")
    kind = ALIASES.get(kind.lower(), kind.lower())
    if not sep or kind not in KINDS or not _ID.match(ident):
        raise InvalidInput(f"{text!r} is not a principal: {HINT}")
    if kind != "group":
        ident = ident.lower()  # email addresses and account ids compare without case
    return f"{kind}:{ident}"


def kind_of(principal: str) -> str:
    """user, group, service-account or public."""
    return PUBLIC if principal == PUBLIC else principal.partition(":")[0]


def acting(plumbing: Any) -> str:
    """The principal this process acts as (see the module docstring).

    Raises InvalidInput if PACHA_PRINCIPAL or user.principal is not a user or service account.
    """
    configured = os.environ.get(ENV) or plumbing.config.get("user.principal")
    if configured:
        principal = parse(str(configured))
        if kind_of(principal) not in ("user", "service-account"):
            raise InvalidInput(
                f"{ENV} / user.principal is {configured!r}: only a user:ID or service-account:ID acts"
            )
        return principal
    identity = plumbing.identity()  # "Name <email>"
    email = identity[identity.rfind("<") + 1 : -1] if identity.endswith(">") else identity
    return parse(f"user:{email}")


def owner(plumbing: Any) -> str | None:
    """The registry's owner (config core.owner, recorded by `pacha init`), or None."""
    value = plumbing.config.get("core.owner")
    if not value:
        return None
    try:
        return parse(str(value))
    except InvalidInput:
        raise InvalidInput(f"config core.owner is {value!r}: {HINT}") from None
