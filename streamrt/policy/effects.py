"""The host's effect policy: the :class:`SecurityContext` of ``--allow`` / ``--deny``, and the check of a source the
host reads itself.

What a ``call`` needs and how a guard refuses it is the language's side (:mod:`streamrt.lang.effects`); a
:class:`SecurityContext` is one of the two :class:`~streamrt.lang.effects.EffectPolicy` kinds a guard holds a script
to (the other being the script's own ``(effects ...)`` declaration).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from streamrt.errors import EffectDeniedError
from streamrt.lang.effects import effect_labels, uri_effects
from streamrt.printer import pr_str

__all__ = ["SecurityContext", "check_source"]


class SecurityContext(msgspec.Struct, frozen=True):
    """Which effects scripts may have: all of ``allow`` (``None``: every effect) except those in ``deny``.

    The default context allows everything. ``SecurityContext.parse(allow="network,fs")`` reads the CLI's form.
    """

    allow: frozenset[str] | None = None
    deny: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.allow is not None:
            msgspec.structs.force_setattr(self, "allow", effect_labels(self.allow, "allow"))
        msgspec.structs.force_setattr(self, "deny", effect_labels(self.deny, "deny"))

    @classmethod
    def parse(
        cls, allow: str | Iterable[str] | None = None, deny: str | Iterable[str] | None = None
    ) -> SecurityContext:
        """From comma-separated labels (``"network,fs"``), or lists of them; ``allow="none"`` allows nothing."""

        def split(value: str | Iterable[str]) -> list[str]:
            parts = [value] if isinstance(value, str) else list(value)
            return [p for part in parts for p in part.split(",") if p.strip() and p.strip() != "none"]

        return cls(
            allow=None if allow is None else frozenset(split(allow)),
            deny=frozenset() if deny is None else frozenset(split(deny)),
        )

    def permits(self, effect: str) -> bool:
        return effect not in self.deny and (self.allow is None or effect in self.allow)

    def refusal(self, effect: str) -> str:
        """Why ``effect`` is denied and how to allow it (for a message)."""
        if effect in self.deny:
            return (
                f"the security context denies :{effect}; to allow it, drop {effect} from --deny "
                "(Python: SecurityContext(deny=...))"
            )
        allowed = " ".join(":" + e for e in sorted(self.allow or ())) or "no effects"
        return (
            f"the security context allows only {allowed}; to allow it, add {effect} to --allow "
            "(Python: SecurityContext(allow=...))"
        )


def check_source(security: SecurityContext, uri: str, what: str) -> None:
    """A host about to read ``uri`` itself (a resumed stream's source): refuse it as a ``call`` would be."""
    for effect in sorted(uri_effects(uri)):
        if not security.permits(effect):
            raise EffectDeniedError(
                f"{what} reads {pr_str(uri)}, which needs the :{effect} effect, but {security.refusal(effect)}",
                capability="mcp.stream.start",
                effect=effect,
            )
