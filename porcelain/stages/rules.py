"""Lifecycle stages and which moves between them are allowed."""

from __future__ import annotations

from porcelain.errors import InvalidInput

DEVELOPMENT, STAGING, PRODUCTION, ARCHIVED = "development", "staging", "production", "archived"
STAGES = (DEVELOPMENT, STAGING, PRODUCTION, ARCHIVED)
INITIAL = DEVELOPMENT


def check_stage(stage: str) -> str:
    if stage not in STAGES:
        raise InvalidInput(f"unknown stage {stage!r}: use {', '.join(STAGES)}")
    return stage


def allowed_targets(current: str) -> tuple[str, ...]:
    """Development, staging and production move freely (and to archived); archived only revives."""
    if current == ARCHIVED:
        return (DEVELOPMENT,)
    return tuple(s for s in STAGES if s != current)


def check_transition(current: str, target: str, what: str) -> None:
    check_stage(target)
    if target == current:
        raise InvalidInput(f"{what} is already in {target}")
    allowed = allowed_targets(current)
    if target not in allowed:
        raise InvalidInput(f"cannot move {what} from {current} to {target}: allowed: {', '.join(allowed)}")
