"""``ModalityBundle``: the extra inputs of one request, normalised, with their routing priorities."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MODALITIES = ("style_text", "reference_audio", "image", "control_events")
MODALITY_ALIASES = {"text": "style_text", "style": "style_text", "audio": "reference_audio", "control": "control_events"}
"""Short names the CLI accepts (``--modalities text,audio``, ``--priority audio=2``)."""


def modality_name(name: str) -> str:
    """The ``ModalityBundle`` field a (possibly short) modality name means."""
    from .errors import InvalidInputError

    name = name.strip()
    if name in MODALITIES:
        return name
    if name in MODALITY_ALIASES:
        return MODALITY_ALIASES[name]
    known = ", ".join([*MODALITY_ALIASES, *MODALITIES])
    raise InvalidInputError(f"unknown modality {name!r}; use one of {known}")


@dataclass
class ModalityBundle:
    """The optional conditioning inputs of one request.

    ``priorities`` scales each modality's routing weight (e.g. ``{"reference_audio": 2.0, "style_text": 0.5}``
    to prefer the reference recording over the style prompt); a priority of 0 skips that adapter entirely.
    """

    style_text: str | None = None
    reference_audio: Any = None
    image: Any = None
    control_events: list[Any] | None = None
    priorities: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from .validate import check_priorities

        self.priorities = check_priorities(self.priorities, MODALITIES)

    def present(self) -> list[str]:
        """Names of the modalities this request carries (and whose priority is not 0)."""
        names = []
        for name in MODALITIES:
            value = getattr(self, name)
            if value is None or (name == "control_events" and len(value) == 0):
                continue
            if self.priorities.get(name, 1.0) == 0:
                continue
            names.append(name)
        return names

    def priority(self, name: str) -> float:
        return float(self.priorities.get(name, 1.0))

    @property
    def empty(self) -> bool:
        return not self.present()
