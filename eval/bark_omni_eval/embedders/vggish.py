"""VGGish embeddings (the network the original FAD used), when its weights are on this machine.

The weights are the PyTorch port's file ``vggish-10086976.pth`` (torch hub's checkpoint folder, or a path
given as ``weights=`` / ``BARK_OMNI_VGGISH_WEIGHTS``); they are read with the safe loader. Without them the
embedder raises ``MetricUnavailable``; nothing is downloaded.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from ..dsp import log_mel
from ..errors import MetricUnavailable

WEIGHTS_FILE = "vggish-10086976.pth"
WEIGHTS_ENV = "BARK_OMNI_VGGISH_WEIGHTS"
PATCH_FRAMES = 96  # 0.96 s of 10 ms frames
N_MELS = 64


def vggish_network():
    """VGGish's layers, named as in the PyTorch port so that its state dict loads unchanged."""
    from torch import nn

    layers: list[nn.Module] = []
    channels = 1
    for width in (64, "pool", 128, "pool", 256, 256, "pool", 512, 512, "pool"):
        if width == "pool":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, width, 3, 1, 1), nn.ReLU(inplace=True)]
            channels = width
    network = nn.Module()
    network.features = nn.Sequential(*layers)
    network.embeddings = nn.Sequential(nn.Linear(512 * 4 * 6, 4096), nn.ReLU(True), nn.Linear(4096, 4096),
                                       nn.ReLU(True), nn.Linear(4096, 128), nn.ReLU(True))
    return network


def weights_candidates(weights: str | os.PathLike[str] | None = None) -> list[Path]:
    if weights is not None:
        return [Path(weights)]
    places = [Path(os.environ[WEIGHTS_ENV])] if os.environ.get(WEIGHTS_ENV) else []
    import torch

    places.append(Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE)
    return places


@functools.lru_cache(maxsize=2)
def load_vggish(path: Path, device: str = "cpu"):
    from bark_omni.safe_load import safe_torch_load

    network = vggish_network()
    network.load_state_dict(safe_torch_load(path))
    return network.to(device).eval().requires_grad_(False)


class VGGishEmbedder:
    """128-d VGGish embeddings of 0.96 s log-mel patches (16 kHz, 64 bands, 125-7500 Hz)."""

    name = "vggish"
    sample_rate = 16_000

    def __init__(self, weights: str | os.PathLike[str] | None = None, device: str = "cpu") -> None:
        found = next((p for p in weights_candidates(weights) if p.is_file()), None)
        if found is None:
            looked = ", ".join(str(p) for p in weights_candidates(weights))
            raise MetricUnavailable(f"VGGish weights not found (looked for {looked}); put {WEIGHTS_FILE} there "
                                    f"or set {WEIGHTS_ENV}")
        self.device = device
        self.network = load_vggish(found, device)

    def embed(self, audio: np.ndarray) -> np.ndarray:
        import torch

        mel = log_mel(audio, self.sample_rate, n_mels=N_MELS)
        if len(mel) < PATCH_FRAMES:  # one patch at least: pad short clips with the quietest value
            mel = np.pad(mel, ((0, PATCH_FRAMES - len(mel)), (0, 0)), constant_values=float(np.log(0.01)))
        n = len(mel) // PATCH_FRAMES
        patches = torch.from_numpy(mel[: n * PATCH_FRAMES].reshape(n, 1, PATCH_FRAMES, N_MELS)).to(self.device)
        with torch.inference_mode():
            x = self.network.features(patches)
            x = x.permute(0, 2, 3, 1).reshape(n, -1)  # channels last, as the TensorFlow original flattens
            return self.network.embeddings(x).double().cpu().numpy()
