"""Adapter sets as shared artefacts: a folder or a Hugging Face hub id, a model card, an upload.

* ``resolve_adapters(source)``: a folder that exists is used as it is; otherwise ``org/name`` is a hub id,
  resolved by huggingface_hub's own ``snapshot_download`` into its cache (``HF_HOME`` / ``HF_HUB_CACHE``; the
  snapshot ``refs/main`` names, or ``revision``). With ``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE`` or
  ``BARK_OMNI_OFFLINE`` set (or ``local_files_only=True``) only the cache is read, and an id absent from it is
  a one-line ``ModelNotFoundError``. Only the adapter files and the card are fetched.
* ``write_model_card(folder)``: ``README.md`` with YAML front matter (``library_name: bark-omni``, the base
  model's fingerprint, the modalities, the training figures of ``training.json`` when the trainer left one).
* ``push_adapters(folder, repo_id)``: creates the repo (``exist_ok``) and uploads the folder with ``HfApi``.

Nothing here runs at import time; huggingface_hub is imported when a hub id or an upload is asked for.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Mapping

from .errors import CheckpointError, InvalidInputError, ModelNotFoundError, shorten, short_path
from .paths import offline

WEIGHTS_FILE = "adapters.safetensors"
CONFIG_FILE = "adapters.json"
CARD_FILE = "README.md"
TRAINING_FILE = "training.json"
ADAPTER_FILES = (CONFIG_FILE, WEIGHTS_FILE, CARD_FILE, TRAINING_FILE)
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}")


def is_hub_id(source: Any) -> bool:
    """``source`` names a hub repo (``org/name``) rather than a folder on this machine."""
    if not isinstance(source, (str, os.PathLike)):
        return False
    text = os.fspath(source)
    return bool(HUB_ID.fullmatch(text)) and ".." not in text and not Path(text).expanduser().exists()


def resolve_adapters(source: str | os.PathLike[str], *, revision: str | None = None,
                     local_files_only: bool | None = None) -> Path:
    """The local folder of an adapter set given as a folder or a hub id (see the module docstring)."""
    if not is_hub_id(source):
        return Path(source).expanduser()
    repo_id = os.fspath(source)
    cache_only = offline() if local_files_only is None else local_files_only
    from huggingface_hub import snapshot_download
    from huggingface_hub import constants as hub_constants
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(repo_id, revision=revision, allow_patterns=list(ADAPTER_FILES),
                                   local_files_only=cache_only)
    except LocalEntryNotFoundError:
        cache = short_path(hub_constants.HF_HUB_CACHE, 50)
        if cache_only:
            raise ModelNotFoundError(f"adapters {repo_id!r} are not in the Hugging Face cache ({cache}) and downloads "
                                     "are off (HF_HUB_OFFLINE); fetch them once online or pass a folder") from None
        raise ModelNotFoundError(f"cannot reach the Hugging Face hub for adapters {repo_id!r} and they are not "
                                 f"cached in {cache}; check the network or pass a folder") from None
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        raise ModelNotFoundError(f"the hub refused adapters {repo_id!r} (HTTP {status}): check the id, or log in "
                                 "(`hf auth login`) for a private repo") from None
    return Path(folder)


# the model card -------------------------------------------------------------------------------------

def _yaml(value: Any) -> str:
    """A scalar or a list of scalars as YAML (JSON's spelling of them is valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def training_figures(record: Mapping[str, Any] | None) -> dict[str, Any]:
    """The numbers of a trainer's record, flattened one level (``validation.loss_semantic``): paths and other
    machine-specific strings are left out."""
    figures: dict[str, Any] = {}
    for key, value in (record or {}).items():
        if isinstance(value, bool) or key in ("output", "adapters", "device"):
            continue
        if isinstance(value, (int, float)):
            figures[key] = round(value, 6) if isinstance(value, float) else value
        elif isinstance(value, Mapping):
            figures.update({f"{key}.{k}": v for k, v in training_figures(value).items()})
    return figures


def model_card(meta: Mapping[str, Any], training: Mapping[str, Any] | None = None) -> str:
    """``README.md`` text of an adapter set from its ``adapters.json`` content and the trainer's record."""
    fusion = meta.get("fusion", {})
    modalities = list(fusion.get("modalities", []))
    fingerprint = fusion.get("base_fingerprint") or "unknown"
    figures = training_figures(training)
    front = ["---", "library_name: bark-omni", f"tags: {_yaml(['bark-omni', 'bark', 'text-to-audio', 'adapters'])}",
             f"base_model_fingerprint: {_yaml(fingerprint)}", f"modalities: {_yaml(modalities)}",
             f"fusion_format: {_yaml(meta.get('format_version'))}",
             f"adapter_kinds: {_yaml(sorted({str(a.get('kind')) for a in meta.get('adapters', {}).values()}))}"]
    if figures:
        front += ["training:"] + [f"  {_yaml(k)}: {_yaml(v)}" for k, v in figures.items()]
    body = [
        "---", "", f"# bark-omni adapters: {', '.join(modalities) or 'none'}", "",
        "Adapters and a routed fusion block that steer a frozen Bark through bark-omni; Bark's weights are unchanged.",
        f"They were made for the base model with fingerprint `{fingerprint}` and refuse any other.", "",
        "```python", "import bark_omni", "",
        f'audio = bark_omni.generate_audio("Hello.", {", ".join(f"{m}=..." for m in modalities)}'
        f'{", " if modalities else ""}adapters="<this repo id or folder>")', "```", "",
    ]
    if figures:
        body += ["## Training figures", "", "| figure | value |", "|---|---|"]
        body += [f"| {k} | {v} |" for k, v in figures.items()] + [""]
    else:
        body += ["No training record was saved with these adapters (freshly initialised adapters change nothing).", ""]
    return "\n".join(front + body)


def read_meta(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{short_path(folder / CONFIG_FILE)} is unreadable ({type(exc).__name__}); pass a folder "
                              "written by `bark-omni adapters init` or `bark-omni train`") from None


def write_model_card(folder: str | os.PathLike[str], training: Mapping[str, Any] | None = None) -> Path:
    """Write ``training.json`` (when ``training`` is given) and ``README.md`` into an adapter folder."""
    from .files import atomic_output

    folder = Path(folder)
    if training is not None:
        with atomic_output(folder / TRAINING_FILE) as tmp:
            tmp.write_text(json.dumps(dict(training), indent=2, default=str) + "\n", encoding="utf-8")
    elif (folder / TRAINING_FILE).is_file():
        training = json.loads((folder / TRAINING_FILE).read_text(encoding="utf-8"))
    with atomic_output(folder / CARD_FILE) as tmp:
        tmp.write_text(model_card(read_meta(folder), training), encoding="utf-8")
    return folder / CARD_FILE


# upload -----------------------------------------------------------------------------------------------

def push_adapters(folder: str | os.PathLike[str], repo_id: str, *, token: str | None = None, private: bool = False,
                  commit_message: str | None = None) -> str:
    """Upload an adapter folder (card written first when missing) to ``repo_id``; returns the commit's URL."""
    folder = Path(folder).expanduser()
    if not (folder / CONFIG_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"{short_path(folder)} holds no adapters ({CONFIG_FILE}, {WEIGHTS_FILE}); push a folder "
                              "from `bark-omni train` or `bark-omni adapters init`")
    if not HUB_ID.fullmatch(repo_id or ""):
        raise InvalidInputError(f"repo id {shorten(repo_id)} is not of the form org/name")
    if offline():
        raise InvalidInputError("uploads are off (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set); unset it to push")
    if not (folder / CARD_FILE).is_file():
        write_model_card(folder)
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="model",
                             allow_patterns=list(ADAPTER_FILES),
                             commit_message=commit_message or "bark-omni adapters")
    return str(getattr(info, "commit_url", None) or f"https://huggingface.co/{repo_id}")
