"""The last test of a process's run order that uses a fixture: shared servers stop after it."""

from __future__ import annotations

import pytest

_LAST_USERS = pytest.StashKey[dict]()


def last_user(session: pytest.Session, fixture: str) -> pytest.Item | None:
    """The last test of this process's run order that uses `fixture` (None if none does)."""
    found = session.stash.setdefault(_LAST_USERS, {})
    if fixture not in found:
        users = [i for i in session.items if fixture in getattr(i, "fixturenames", ())]
        found[fixture] = users[-1] if users else None
    return found[fixture]
