"""``ModalityBundle``: the extra inputs of one request, by modality name, with their routing priorities.

A modality is whatever an installed adapter plugin registers (``AdapterSpec.modality``, with optional short
``aliases`` for the CLI): the core names none, so a third party adds one by registering an adapter for it. The
host knows which exist (``Host.modalities``, ``Host.modality_name``, ``Host.check_modalities``).
"""

from __future__ import annotations

from typing import Any, Mapping


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, (list, tuple)) and len(value) == 0)


class ModalityBundle:
    """The optional conditioning inputs of one request: ``inputs`` maps a modality name to its raw value (a path,
    an array, events...), read by that modality's adapter. ``ModalityBundle(image="cat.png")`` and
    ``ModalityBundle({"image": "cat.png"})`` are the same; a missing modality reads as None (``bundle.image``).

    ``priorities`` scales each modality's routing weight (e.g. ``{"reference_audio": 2.0, "style_text": 0.5}``
    to prefer the reference recording over the style prompt); a priority of 0 skips that adapter entirely.
    Names are checked against the host's adapters when the request runs (``Host.check_modalities``).
    """

    def __init__(self, inputs: Mapping[str, Any] | None = None, *, priorities: Mapping[str, float] | None = None,
                 **named: Any) -> None:
        from .errors import InvalidInputError
        from .validate import check_priorities

        if inputs is not None and not isinstance(inputs, Mapping):
            raise InvalidInputError(f"modality inputs must be a dict of modality name -> value, "
                                    f"got {type(inputs).__name__}")
        merged = {**dict(inputs or {}), **named}
        bad = [name for name in merged if not (isinstance(name, str) and name.isidentifier())]
        if bad:
            raise InvalidInputError(f"modality names must be identifiers such as 'image', got {bad[0]!r}")
        self.inputs: dict[str, Any] = {name: value for name, value in merged.items() if value is not None}
        self.priorities: dict[str, float] = check_priorities(priorities, None)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or "inputs" not in self.__dict__:
            raise AttributeError(name)
        return self.__dict__["inputs"].get(name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModalityBundle) and (self.inputs, self.priorities) == (other.inputs, other.priorities)

    def __repr__(self) -> str:
        return f"ModalityBundle({self.inputs!r}, priorities={self.priorities!r})"

    def replace(self, **changes: Any) -> ModalityBundle:
        """A copy with some inputs changed (None removes one) or ``priorities=`` replaced."""
        priorities = changes.pop("priorities", self.priorities)
        return ModalityBundle({**self.inputs, **changes}, priorities=priorities)

    def present(self) -> list[str]:
        """Names of the modalities this request carries (and whose priority is not 0)."""
        return [name for name, value in self.inputs.items()
                if not _absent(value) and self.priorities.get(name, 1.0) != 0]

    def priority(self, name: str) -> float:
        return float(self.priorities.get(name, 1.0))

    @property
    def empty(self) -> bool:
        return not self.present()
