"""Reading counts out of judge replies. A reply that cannot be read gives None and the reason, never 0."""
from __future__ import annotations

import re
from typing import Sequence

MAX_COUNT = 1000   # a count above this is a judge malfunction, not a trace with 1001 checks

_COUNT = re.compile(r"<count>\s*([^<]*?)\s*</count>", re.IGNORECASE)


def _to_count(raw: str, what: str) -> tuple[int | None, str | None]:
    if not re.fullmatch(r"\d+", raw):
        return None, f"{what} is not a whole number: {raw[:40]!r}"
    value = int(raw)
    if value > MAX_COUNT:
        return None, f"{what} {value} is implausibly large"
    return value, None


def parse_count(reply: str | None) -> tuple[int | None, str | None]:
    """(count, None) from a <count>N</count> reply, or (None, reason). The last tag wins if a judge repeats it."""
    if not reply or not reply.strip():
        return None, "empty reply"
    found = _COUNT.findall(reply)
    if not found:
        return None, f"no <count> tag in reply: {reply.strip()[:60]!r}"
    return _to_count(found[-1], "count")


def parse_combined(reply: str | None, names: Sequence[str]) -> dict[str, tuple[int | None, str | None]]:
    """Each name's (count, None) or (None, reason) from a reply with <name>N</name> tags."""
    out = {}
    for name in names:
        if not reply or not reply.strip():
            out[name] = (None, "empty reply")
            continue
        found = re.findall(rf"<{name}>\s*([^<]*?)\s*</{name}>", reply, re.IGNORECASE)
        out[name] = _to_count(found[-1], name) if found else (None, f"no <{name}> tag in reply")
    return out
