"""Build a config dataclass from a dict, refusing keys it does not know (typos fail loudly)."""

from __future__ import annotations

import dataclasses


def strict_from_dict(cls, values: dict, what: str):
    """``cls(**values)``, or a ValueError naming the unknown keys, the valid ones and ``what``."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {what} keys {unknown}; valid keys: {sorted(known)}")
    return cls(**values)
