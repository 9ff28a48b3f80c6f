"""The plugin host: one ``pluggy.PluginManager`` per ``Host``, loaded from the ``bark_omni`` entry-point group.

Built-ins are plugins too: they arrive through the same entry points as a third party's. A few are
*essential* (the EnCodec decoder, the pass-through post-processor and suno's checkpoint format) and cannot be
blocked; the rest obey ``BARK_OMNI_LOAD_PLUGINS``, a comma-separated allowlist of entry-point names (empty: only
the essential ones; unset: everything installed).
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Iterable

import pluggy

from . import hookspecs
from .errors import MissingPluginError, PluginError
from .specs import AdapterSpec, ControlKind, DecoderSpec, MetricSpec, ModelFormat

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "bark_omni"
ESSENTIAL_PLUGINS = frozenset({"encodec", "identity", "checkpoints"})
ALLOWLIST_ENV = "BARK_OMNI_LOAD_PLUGINS"
SAFETY_PLUGINS = frozenset({"guardrails", "watermark", "provenance"})  # switching one off always warns
TRACE_ENV = "BARK_OMNI_TRACE_PLUGINS"


@dataclass
class PluginInfo:
    """What ``plugins list`` shows about one plugin."""

    name: str
    distribution: str = ""
    version: str = ""
    essential: bool = False
    hooks: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def broken(self) -> bool:
        return self.error is not None


def _allowlist() -> set[str] | None:
    raw = os.environ.get(ALLOWLIST_ENV)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


class Host:
    """Owns a plugin manager and the registries that plugins fill.

    ``Host()`` loads installed plugins; ``Host(plugins=[...], entry_points=False)`` builds a host from explicit
    plugin objects only (what tests and embedders use). ``strict=True`` raises on a broken plugin instead of
    warning and skipping it.
    """

    def __init__(
        self,
        plugins: Iterable[Any] = (),
        *,
        entry_points: bool = True,
        strict: bool = False,
        allow: Iterable[str] | None = None,
        block: Iterable[str] = (),
    ) -> None:
        self.strict = strict
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._allow = set(allow) if allow is not None else _allowlist()
        self._allow_from_env = allow is None and self._allow is not None
        self._block = set(block)
        if os.environ.get(TRACE_ENV):
            self.pm.trace.root.setwriter(lambda msg: logger.warning("plugin trace: %s", msg.rstrip()))
            self.pm.enable_tracing()
        if entry_points:
            self._load_entry_points()
        for plugin in plugins:
            self.register(plugin)
        self._registries: dict[str, dict[str, Any]] | None = None

    # loading -----------------------------------------------------------------------------------------

    def _wanted(self, name: str) -> bool:
        if name in ESSENTIAL_PLUGINS:
            return True
        if name in self._block:
            return False
        return self._allow is None or name in self._allow

    def _load_entry_points(self) -> None:
        seen: set[str] = set()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in seen:
                continue
            seen.add(ep.name)
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                distribution=dist.name if dist else "",
                version=dist.version if dist else "",
                essential=ep.name in ESSENTIAL_PLUGINS,
            )
            if not self._wanted(ep.name):
                if ep.name in SAFETY_PLUGINS and (ep.name in self._block or self._allow_from_env):
                    how = "block=" if ep.name in self._block else f"{ALLOWLIST_ENV}"
                    warnings.warn(f"bark-omni: the {ep.name!r} safety plugin is switched off ({how}); "
                                  "see docs/responsible-use.md", UserWarning, stacklevel=3)
                continue
            try:
                module = ep.load()
            except Exception as exc:  # a broken third-party plugin must not take the host down
                self._broken(info, f"failed to import {ep.value}: {type(exc).__name__}: {exc}")
                continue
            self.register(module, name=ep.name, info=info)

    def register(self, plugin: Any, name: str | None = None, info: PluginInfo | None = None) -> None:
        """Register a plugin object; its hooks must all exist (misspelt hooks are errors)."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        info = info or PluginInfo(name=name)
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            self._broken(info, f"has an invalid hook implementation: {exc}")
            return
        unknown = [caller.name for caller in self._callers_of(plugin) if caller.spec is None]
        if unknown:
            self.pm.unregister(plugin)
            self._broken(info, f"implements unknown hook(s) {', '.join(sorted(unknown))} (misspelt?)")
            return
        self.pm.check_pending()
        info.hooks = sorted(caller.name for caller in self._callers_of(plugin))
        self.plugins[name] = info
        self._registries = None

    def _callers_of(self, plugin: Any) -> list[Any]:
        return list(self.pm.get_hookcallers(plugin) or [])

    def _broken(self, info: PluginInfo, message: str) -> None:
        info.error = message
        self.plugins[info.name] = info
        if self.strict:
            raise PluginError(f"plugin {info.name!r} {message}")
        warnings.warn(f"bark-omni: skipping plugin {info.name!r}: {message}", stacklevel=3)

    # registries --------------------------------------------------------------------------------------

    def _collect(self, hook_name: str, kind: type) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def register(item: Any) -> None:
            if not isinstance(item, kind):
                raise PluginError(f"{hook_name} expects {kind.__name__} objects, got {type(item).__name__}")
            if item.name in found:
                raise PluginError(f"two plugins register a {kind.__name__} named {item.name!r}; uninstall one")
            found[item.name] = item

        getattr(self.pm.hook, hook_name)(register=register)
        return found

    @property
    def registries(self) -> dict[str, dict[str, Any]]:
        if self._registries is None:
            self._registries = {
                "model_formats": self._collect("register_model_formats", ModelFormat),
                "adapters": self._collect("register_adapters", AdapterSpec),
                "decoders": self._collect("register_decoders", DecoderSpec),
                "control_kinds": self._collect("register_control_kinds", ControlKind),
                "metrics": self._collect("register_metrics", MetricSpec),
            }
        return self._registries

    @property
    def model_formats(self) -> dict[str, ModelFormat]:
        return self.registries["model_formats"]

    @property
    def adapters(self) -> dict[str, AdapterSpec]:
        return self.registries["adapters"]

    @property
    def decoders(self) -> dict[str, DecoderSpec]:
        return self.registries["decoders"]

    @property
    def control_kinds(self) -> dict[str, ControlKind]:
        return self.registries["control_kinds"]

    @property
    def metrics(self) -> dict[str, MetricSpec]:
        return self.registries["metrics"]

    def decoder(self, name: str) -> DecoderSpec:
        try:
            return self.decoders[name]
        except KeyError:
            hint = KNOWN_PACKAGES.get(("decoder", name))
            install = f"; install it with: pip install {hint}" if hint else ""
            raise MissingPluginError(
                f"no decoder named {name!r} is installed (available: {', '.join(sorted(self.decoders)) or 'none'}){install}"
            ) from None

    def adapter_for(self, modality: str) -> AdapterSpec:
        for spec in self.adapters.values():
            if spec.modality == modality:
                return spec
        hint = KNOWN_PACKAGES.get(("modality", modality), "an adapter plugin for it")
        raise MissingPluginError(f"no adapter for the {modality!r} input is installed; install {hint}")


KNOWN_PACKAGES: dict[tuple[str, str], str] = {
    ("decoder", "mbd"): "bark-omni-mbd",
    ("decoder", "vocos"): "bark-omni-vocos",
    ("modality", "style_text"): "bark-omni-text",
    ("modality", "reference_audio"): "bark-omni-audio",
    ("modality", "image"): "bark-omni-image",
    ("modality", "control_events"): "bark-omni-control",
}

_default_host: Host | None = None


def default_host() -> Host:
    """The process-wide host used by ``bark_omni.generate_audio`` when none is given (loaded once)."""
    global _default_host
    if _default_host is None:
        _default_host = Host()
    return _default_host
