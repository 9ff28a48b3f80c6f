"""The plugin host: one ``pluggy.PluginManager`` per ``Host``, loaded from the ``bark_omni`` entry-point group.

Built-ins are plugins too and use the same hooks as a third party's. The *essential* ones (``DEFAULT_PLUGINS``:
the EnCodec decoder, the pass-through post-processor, suno's checkpoint format and the voice-prompt commands)
are plain modules of the core registered by module path, as llm's default plugins and pytest's essential
plugins are, and cannot be blocked; installed plugins obey ``BARK_OMNI_LOAD_PLUGINS``, a comma-separated
allowlist of entry-point names (empty: only the essential ones; unset: everything installed). A host also keeps
what it loaded (models, adapter weights: ``cached``), so two hosts never share models built by other formats.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Hashable, Iterable, TypeVar

import pluggy

from . import hookspecs
from .errors import BarkOmniError, InvalidInputError, MissingPluginError, PluginError, PluginHookError, PluginWarning
from .specs import AdapterSpec, ControlKind, DecoderSpec, MetricSpec, ModelFormat, PromptSource, GuardrailSpec, WatermarkerSpec
from .specs import ControlCue, Route, SceneSound, SemanticTokenizerSpec

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

ENTRY_POINT_GROUP = "bark_omni"
DEFAULT_PLUGINS: dict[str, str] = {
    "encodec": "bark_omni.default_plugins.encodec_decoder",
    "identity": "bark_omni.default_plugins.identity",
    "suno": "bark_omni.default_plugins.suno_format",
    "prompts": "bark_omni.default_plugins.prompt_commands",
}
"""The core's own plugins: name -> module, registered by every host before any installed plugin."""
ESSENTIAL_PLUGINS = frozenset(DEFAULT_PLUGINS)
ALLOWLIST_ENV = "BARK_OMNI_LOAD_PLUGINS"
SAFETY_GROUP = "bark_omni_safety"  # a distribution declares its safety plugins here; leaving one out always warns
WATERMARKER_ENV = "BARK_OMNI_WATERMARKER"
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


def declared_safety_plugins() -> dict[str, str]:
    """Safety plugins the installed distributions declare (entry-point group ``bark_omni_safety``): plugin name ->
    its module. Read from metadata only, so a plugin that is left out is still known to be missing."""
    return {ep.name: ep.value for ep in metadata.entry_points(group=SAFETY_GROUP)}


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
        self.safety_notes: list[str] = []  # safety plugins left out, in words (copied into every result)
        self._owners: dict[tuple[str, str], str] = {}  # (kind, name) of a registered item -> its plugin
        self._install_fault_policy()
        self._cache_lock = threading.RLock()
        self._caches: dict[str, dict[Hashable, Any]] = {}
        if os.environ.get(TRACE_ENV):
            self.pm.trace.root.setwriter(lambda msg: logger.warning("plugin trace: %s", msg.rstrip()))
            self.pm.enable_tracing()
        if entry_points:
            self._load_default_plugins()
            self._load_entry_points()
        for plugin in plugins:
            self.register(plugin)
        self._registries: dict[str, dict[str, Any]] | None = None
        self._note_missing_safety(entry_points)

    # loading -----------------------------------------------------------------------------------------

    def _wanted(self, name: str) -> bool:
        if name in ESSENTIAL_PLUGINS:
            return True
        if name in self._block:
            return False
        return self._allow is None or name in self._allow

    def _load_default_plugins(self) -> None:
        try:
            version = metadata.version("bark-omni")
        except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
            version = ""
        for name, module in DEFAULT_PLUGINS.items():
            info = PluginInfo(name=name, distribution="bark-omni", version=version, essential=True)
            self.register(importlib.import_module(module), name=name, info=info)

    def _load_entry_points(self) -> None:
        seen: set[str] = set(DEFAULT_PLUGINS)  # an old install's entry points for the built-ins are not loaded twice
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
                continue
            try:
                module = ep.load()
            except Exception as exc:  # a broken third-party plugin must not take the host down
                self._broken(info, f"failed to import {ep.value}: {type(exc).__name__}: {exc}")
                continue
            self.register(module, name=ep.name, info=info)

    def _note_missing_safety(self, entry_points: bool) -> None:
        """Warn (``UserWarning``) and keep a note for every declared safety plugin this host did not load."""
        loaded = {name for name, info in self.plugins.items() if not info.broken}
        modules = {getattr(self.pm.get_plugin(name), "__name__", None) for name in loaded}
        for name, module in sorted(declared_safety_plugins().items()):
            if name in loaded or module in modules:
                continue
            info = self.plugins.get(name)
            if info is not None and info.broken:
                how = "it failed to load"
            elif not entry_points:
                how = "entry_points=False"
            elif name in self._block:
                how = "block="
            elif self._allow_from_env:
                how = ALLOWLIST_ENV
            else:
                how = "allow="
            note = f"the {name!r} safety plugin is switched off ({how})"
            self.safety_notes.append(note)
            warnings.warn(f"bark-omni: {note}; see docs/responsible-use.md", UserWarning, stacklevel=3)

    def save_result(self, path: Path, result: Any, request: Any = None) -> Path:
        """Write ``result``'s audio and the files this host's plugins keep beside it (``files.save_generation``)."""
        from .files import save_generation

        return save_generation(Path(path), result, request=request, host=self)

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

    # what this host loaded ---------------------------------------------------------------------------

    def cached(self, kind: str, key: Hashable, build: Callable[[], _T]) -> _T:
        """``build()`` once per ``(kind, key)`` for this host (thread-safe): models, adapter weights."""
        with self._cache_lock:
            table = self._caches.setdefault(kind, {})
            if key not in table:
                table[key] = build()
            return table[key]

    def clear_cache(self, kind: str | None = None) -> None:
        """Forget what this host loaded (of one ``kind``, or everything)."""
        with self._cache_lock:
            if kind is None:
                self._caches.clear()
            else:
                self._caches.pop(kind, None)

    # calling hooks: one fault policy for every implementation -------------------------------------------

    def _install_fault_policy(self) -> None:
        """Route every hook call through ``_guarded`` (before tracing, so a trace shows the guarded calls)."""
        inner = self.pm._inner_hookexec

        def hookexec(hook_name: str, methods: list[Any], kwargs: dict[str, Any], firstresult: bool) -> Any:
            return inner(hook_name, [self._guarded(hook_name, impl) for impl in methods], kwargs, firstresult)

        self.pm._inner_hookexec = hookexec

    def _guarded(self, hook: str, impl: Any) -> Any:
        """``impl`` seen through the fault policy (see ``fault_policy``): a failure names the plugin and the hook."""
        function, plugin = impl.function, impl.plugin_name
        if impl.wrapper or impl.hookwrapper:
            def guarded_wrapper(*args: Any) -> Any:
                try:
                    return (yield from function(*args))
                except BarkOmniError:
                    raise  # typed already: deliberate, or an inner implementation's fault passing through
                except Exception as exc:
                    raise self._fault(hook, plugin, exc) from exc

            return _GuardedImpl(impl, guarded_wrapper)

        def guarded(*args: Any) -> Any:
            staged, commit = _stage(hook, impl.argnames, args, lambda item: self._owners.__setitem__(_key(item), plugin))
            try:
                value = function(*staged)
                commit()
                return value
            except Exception as exc:
                return self._failed(hook, plugin, exc)

        return _GuardedImpl(impl, guarded)

    def owner_of(self, spec: Any) -> str:
        """The name of the plugin that registered ``spec`` (a ``DecoderSpec``, ``WatermarkerSpec``...), or ""."""
        self.registries  # noqa: B018 - registering is what records owners
        return self._owners.get(_key(spec), "")

    def call_plugin(self, spec: Any, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call code a plugin registered (``spec.load``, ``spec.apply``...) failing closed: an exception becomes a
        ``PluginHookError`` naming the plugin and what it registered (a ``BarkOmniError`` passes unchanged)."""
        try:
            return function(*args, **kwargs)
        except BarkOmniError:
            raise
        except Exception as exc:
            what = f"its {type(spec).__name__.removesuffix('Spec').lower()} {getattr(spec, 'name', '?')!r}"
            raise self._fault(what, self.owner_of(spec) or "?", exc) from exc

    def _failed(self, hook: str, plugin: str, exc: Exception) -> None:
        """Apply ``fault_policy(hook)``: warn and skip the implementation's part, or raise ``PluginHookError``."""
        policy = fault_policy(hook)
        info = self.plugins.get(plugin)
        if policy == "skip" and (self.strict or (info is not None and info.essential)):
            policy = "fail"
        if policy == "fail" and isinstance(exc, BarkOmniError) and not hook.startswith("register_"):
            logger.debug("plugin %r raised in %s", plugin, hook, exc_info=exc)
            raise exc  # a typed error the plugin raised on purpose already says what to do
        fault = self._fault(hook, plugin, exc, skipped=policy != "fail")
        if policy == "fail":
            raise fault from exc
        warnings.warn(str(fault), PluginWarning, stacklevel=2)
        return None

    def _fault(self, hook: str, plugin: str, exc: Exception, skipped: bool = False) -> PluginHookError:
        logger.debug("plugin %r failed in %s", plugin, hook, exc_info=exc)
        detail = " ".join(str(exc).split())
        detail = f"{type(exc).__name__}: {detail[:77] + '...' if len(detail) > 80 else detail}".rstrip(": ")
        outcome = _SKIPPED.get(hook, "skipped") if skipped else _REFUSED.get(
            hook.rsplit(" ", 1)[0] if hook.startswith("its ") else hook, "fix the plugin or uninstall it")
        if skipped and hook.startswith("register_"):
            outcome = f"its {hook[len('register_'):].replace('_', ' ')} are skipped"
        return PluginHookError(f"plugin {plugin!r} failed in {hook} ({detail}); {outcome}", plugin=plugin, hook=hook)

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
                "prompt_sources": self._collect("register_prompt_sources", PromptSource),
                "watermarkers": self._collect("register_watermarkers", WatermarkerSpec),
                "guardrails": self._collect("register_guardrails", GuardrailSpec),
                "routes": self._collect("register_routes", Route),
                "control_cues": self._collect("register_control_cues", ControlCue),
                "scene_sounds": self._collect("register_scene_sounds", SceneSound),
                "semantic_tokenizers": self._collect("register_semantic_tokenizers", SemanticTokenizerSpec),
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

    @property
    def prompt_sources(self) -> dict[str, PromptSource]:
        return self.registries["prompt_sources"]

    @property
    def guardrails(self) -> dict[str, GuardrailSpec]:
        return self.registries["guardrails"]

    @property
    def watermarkers(self) -> dict[str, WatermarkerSpec]:
        return self.registries["watermarkers"]

    @property
    def routes(self) -> dict[str, Route]:
        return self.registries["routes"]

    @property
    def control_cues(self) -> dict[str, ControlCue]:
        return self.registries["control_cues"]

    @property
    def scene_sounds(self) -> dict[str, SceneSound]:
        return self.registries["scene_sounds"]

    @property
    def semantic_tokenizers(self) -> dict[str, SemanticTokenizerSpec]:
        return self.registries["semantic_tokenizers"]

    def watermarker(self) -> WatermarkerSpec | None:
        """The watermarker the pipeline applies: ``$BARK_OMNI_WATERMARKER`` if set, else the highest priority."""
        wanted = os.environ.get(WATERMARKER_ENV)
        if wanted:
            if wanted not in self.watermarkers:
                raise MissingPluginError(f"{WATERMARKER_ENV}={wanted!r} names no installed watermarker "
                                         f"(available: {', '.join(sorted(self.watermarkers)) or 'none'})")
            return self.watermarkers[wanted]
        if not self.watermarkers:
            return None
        return max(self.watermarkers.values(), key=lambda spec: (spec.priority, spec.name))

    def decoder(self, name: str) -> DecoderSpec:
        try:
            return self.decoders[name]
        except KeyError:
            hint = self.package_providing("decoders", name=name)
            install = f"; install it with: pip install {hint}" if hint else ""
            raise MissingPluginError(
                f"no decoder named {name!r} is installed (available: {', '.join(sorted(self.decoders)) or 'none'}){install}"
            ) from None

    @property
    def modalities(self) -> tuple[str, ...]:
        """The modalities this host's adapters consume, in registration order (a third party's too)."""
        return tuple(dict.fromkeys(spec.modality for spec in self.adapters.values()))

    def modality_name(self, name: str) -> str:
        """The modality a (possibly short: ``AdapterSpec.aliases``) name means; ``InvalidInputError`` if none."""
        name = name.strip()
        aliases = {alias: spec.modality for spec in self.adapters.values() for alias in spec.aliases}
        if name in self.modalities:
            return name
        if name in aliases:
            return aliases[name]
        known = ", ".join([*aliases, *self.modalities]) or "none (install an adapter plugin)"
        raise InvalidInputError(f"unknown modality {name!r}; use one of {known}")

    def check_modalities(self, bundle: Any) -> None:
        """A ``ModalityBundle``'s priorities name modalities this host has (``InvalidInputError``), and each input
        it carries has an adapter (``MissingPluginError`` naming the package that provides one, when known)."""
        for name in bundle.priorities:
            if name not in self.modalities:
                raise InvalidInputError(f"unknown modality {name!r} in priorities; installed: "
                                        f"{', '.join(self.modalities) or 'none'}")
        for name in bundle.present():
            self.adapter_for(name)

    def adapter_for(self, modality: str) -> AdapterSpec:
        for spec in self.adapters.values():
            if spec.modality == modality:
                return spec
        hint = self.package_providing("adapters", modality=modality) or "an adapter plugin for it"
        raise MissingPluginError(f"no adapter for the {modality!r} input is installed; install {hint}")

    def package_providing(self, registry: str, **fields: Any) -> str:
        """The distribution (the spec's ``package``) of an installed plugin this host did not load that registers
        a ``registry`` entry with these field values; "" when none does. Plugins declare themselves through
        what they register, so the core names no plugin. For error messages only: it loads every plugin."""
        everything = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                found = Host(allow=everything).registries.get(registry, {}).values()
            except BarkOmniError:
                return ""
        return next((getattr(item, "package", "") for item in found
                     if all(getattr(item, key, None) == value for key, value in fields.items())), "")


OBSERVER_HOOKS = frozenset({"generation_finished", "audio_written", "sidecar_files"})
"""Hooks that only watch or add to an output: an implementation that fails is reported and skipped."""
_SKIPPED = {"generation_finished": "the audio is kept", "audio_written": "the file is kept",
            "sidecar_files": "the audio is saved without its files"}
_REFUSED = {"check_request": "nothing was generated: a failing guardrail refuses the request",
            "postprocess_audio": "no audio is returned rather than audio it did not finish",
            "its watermarker": "no unmarked audio is returned"}


def fault_policy(hook: str) -> str:
    """What a failing implementation of ``hook`` does: ``"skip"`` (warn, drop its contribution: registration
    hooks and ``OBSERVER_HOOKS``) or ``"fail"`` (raise ``PluginHookError``: guardrails, post-processing, any
    other hook, and registration by an essential plugin or on a strict host)."""
    if hook in SAFETY_REGISTRATIONS:
        return "fail"
    return "skip" if hook.startswith("register_") or hook in OBSERVER_HOOKS else "fail"


SAFETY_REGISTRATIONS = frozenset({"register_guardrails", "register_watermarkers"})
"""Registration hooks whose failure must not silently drop a guardrail or the watermark: they fail closed."""


def _key(item: Any) -> tuple[str, str]:
    return type(item).__name__, str(getattr(item, "name", id(item)))


class _GuardedImpl:
    """A pluggy ``HookImpl`` with its function replaced by a guarded one (everything else read through)."""

    __slots__ = ("_impl", "function")

    def __init__(self, impl: Any, function: Any) -> None:
        self._impl, self.function = impl, function

    def __getattr__(self, name: str) -> Any:
        return getattr(self._impl, name)


def _stage(hook: str, argnames: tuple[str, ...], args: tuple[Any, ...],
           owned: Callable[[Any], None]) -> tuple[tuple[Any, ...], Any]:
    """For a registration hook, hand the implementation a scratch ``register`` (or Typer ``app``) and return a
    commit that passes on what it registered only once it returned: a plugin that fails halfway adds nothing.
    ``owned(item)`` is called for each item passed on (the host remembers which plugin registered it)."""
    if not hook.startswith("register_"):
        return args, lambda: None
    staged, commits = list(args), []
    for i, name in enumerate(argnames):
        if name == "register" and callable(args[i]):
            items: list[Any] = []
            staged[i] = items.append
            commits.append(lambda target=args[i], items=items: [(target(item), owned(item)) for item in items])
        elif name == "app" and hasattr(args[i], "registered_commands"):
            scratch = type(args[i])()
            staged[i] = scratch
            commits.append(lambda target=args[i], scratch=scratch: (
                target.registered_commands.extend(scratch.registered_commands),
                target.registered_groups.extend(scratch.registered_groups)))
    return tuple(staged), lambda: [commit() for commit in commits]


_default_host: Host | None = None


def default_host() -> Host:
    """The process-wide host used by ``bark_omni.generate_audio`` when none is given (loaded once)."""
    global _default_host
    if _default_host is None:
        _default_host = Host()
    return _default_host
