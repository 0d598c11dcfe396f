"""Shared fixtures: tiny data sets written in the real on-disk formats, and the book built once."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from repro.data import DatasetNotFoundError, load_dataset

torch.set_num_threads(min(2, torch.get_num_threads()))

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def html_root(tmp_path_factory) -> Path:
    """The rendered book: the build named by ``REPRO_BOOK_HTML`` (e.g. ``_build/html`` right after
    ``make book``), else one built here (`jupyter-book build . -W -n --keep-going`, stored outputs only)."""
    given = os.environ.get("REPRO_BOOK_HTML")
    if given:
        return Path(given).resolve()  # relative to where pytest runs; the layout test opens file:// URIs
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    if jb is None:
        pytest.skip("jupyter-book is not installed (pip install -e '.[report]')")
    out = tmp_path_factory.mktemp("book")
    proc = subprocess.run([jb, "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"the book does not build cleanly:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return out / "_build" / "html"


@pytest.fixture(scope="session")
def real_dataset():
    """``load_dataset(name, split, **kwargs)`` without downloading; skips the test when the data set is
    not on this machine."""
    def load(name: str, split: str, **kwargs):
        try:
            return load_dataset(name, split, download=False, **kwargs)
        except DatasetNotFoundError as e:
            pytest.skip(f"{name} not available: {e}")
    return load


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> None:
    """Write an IDX file (LeCun's MNIST format): magic, dims big-endian, then uint8 data."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


@pytest.fixture
def fashion_gz_dir(tmp_path: Path) -> Path:
    """Four gzipped IDX files (5 train, 3 test images of 28x28), as Debian's package ships them."""
    rng = np.random.default_rng(0)
    d = tmp_path / "src" / "fashion-mnist"
    for prefix, n in (("train", 5), ("t10k", 3)):
        write_idx(d / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(d / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    return d


@pytest.fixture
def cifar_root(tmp_path: Path) -> Path:
    """torchvision's cifar-10-batches-py layout with 4 images per batch file."""
    rng = np.random.default_rng(1)
    root = tmp_path / "cifar"
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 3],
                 "batch_label": name, "filenames": [f"{name}_{i}.png" for i in range(4)]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    return root


def _make_imagefolder_zip(path: Path, split: str, classes=("cat", "dog"), per_class: int = 3,
                          size: int = 8) -> np.ndarray:
    """An ImageFolder zip ``split/<class>/NNNN.png`` of random RGB images; returns them in read order."""
    from PIL import Image

    rng = np.random.default_rng(2)
    arrays = []
    with zipfile.ZipFile(path, "w") as zf:
        for c in classes:
            for i in range(per_class):
                a = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                buf = io.BytesIO()
                Image.fromarray(a).save(buf, format="PNG")
                zf.writestr(f"{split}/{c}/{i:04d}.png", buf.getvalue())
                arrays.append(a)
    return np.stack(arrays)


@pytest.fixture
def imagefolder_zip():
    """A function writing an ImageFolder zip of random PNGs; it returns the images in read order."""
    return _make_imagefolder_zip


@pytest.fixture
def images_run():
    """``images_run(path, kind, lr, fds, stop=None, fid=None, status="finished", data=None)`` writes the
    records of one run of the ``images`` study: manifest, per-epoch ``fd_classifier`` (step 100 per
    epoch, batch 64), ``stop.json`` and a last ``fid-epochNNNN.json`` when given."""
    return _images_run


def _images_run(path: Path, kind: str, lr: float, fds: list[float], stop: dict | None = None, fid: dict | None = None,
                status: str = "finished", data: dict | None = None) -> Path:
    path.mkdir(parents=True)
    params = {"lr_G": lr, "lr_D": lr} if kind == "gan" else {"lr": lr}
    (path / "manifest.json").write_text(json.dumps({"kind": kind, "status": status, "data": data or {},
                                                    "params": {**params, "batch_size": 64}}))
    with open(path / "metrics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "step", "fd_classifier", "n_eval"])
        w.writerows([e, 100 * (e + 1), v, 1000] for e, v in enumerate(fds))
    if stop is not None:
        (path / "stop.json").write_text(json.dumps(stop))
    if fid is not None:
        (path / f"fid-epoch{len(fds) - 1:04d}.json").write_text(json.dumps({"result": fid}))
    return path
