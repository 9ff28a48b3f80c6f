"""Finding optional model weights without downloading or importing the model code."""

from __future__ import annotations

from pathlib import Path


def hf_weights_present(model: str) -> bool:
    """Whether ``model`` (a directory, or a hub id in the local Hugging Face cache) has a config.json here."""
    path = Path(model).expanduser()
    if path.is_dir():
        return (path / "config.json").is_file()
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers always brings it
        return False
    found = try_to_load_from_cache(model, "config.json")
    return isinstance(found, str)
