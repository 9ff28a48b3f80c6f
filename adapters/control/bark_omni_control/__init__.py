"""bark-omni's control-event adapter: timed hints that act near their time.

    from bark_omni_control import ControlEvent
    bark_omni.generate_audio("Hello there.", control_events=[ControlEvent(0.5, "beat"),
                             ControlEvent(1.2, "sfx", "laughs")], adapters="my-adapters/")

Events may also be dicts (``{"time_s": 0.5, "kind": "beat"}``) or tuples (``(0.5, "beat")``). Built-in kinds:
``beat`` (value: strength 0..1 or None), ``phoneme`` (value: a phoneme symbol such as "AH" or "ʃ") and ``sfx``
(value: a label such as "laughs"); plugins add kinds through the ``register_control_kinds`` hook. Importing this
package is cheap; torch loads when an adapter is built.
"""

from .events import BUILTIN_KINDS, ControlEvent, coerce_event, validate_events

ADAPTER_KIND = "control"
ADAPTER_VERSION = "1"

__all__ = ["ADAPTER_KIND", "ADAPTER_VERSION", "BUILTIN_KINDS", "ControlEvent", "coerce_event", "validate_events"]
