"""repro: DCGAN vs diffusion models on image synthesis.

Modules read as the report's table of contents:

- ``repro.data``       data sets (images and 2D Gaussian mixtures), one entry point ``load_dataset``
- ``repro.models``     DCGAN, 2D MLPs, the DDPM U-Net
- ``repro.diffusion``  beta schedules, the Gaussian diffusion process, respacing, samplers
- ``repro.train``      trainers, checkpoints, collapse detection
- ``repro.metrics``    FID, KID, IS, precision/recall, density/coverage, mode coverage
- ``repro.records``    run folders: manifest, per-epoch CSV, sample grids, loading back
"""

__version__ = "0.1.0"
