"""The data layer: each loader on tiny fixtures in the real on-disk formats, and its errors."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import pytest
import torch

from repro.data import (DATASETS, CorruptDatasetError, DatasetNotFoundError, DeviceBatches, load_dataset,
                        mixture_centers, to_float, to_uint8)
from repro.data import images as images_mod
from repro.data import integrity
from repro.data import paths as paths_mod


@pytest.fixture(autouse=True)
def _isolate_lookup(monkeypatch, tmp_path):
    """No test may find the real copies in ../shared or /usr/share: point every fallback at tmp.
    The fixtures are not the published data sets, so their checksum tables start empty."""
    monkeypatch.delenv("REPRO_DATA", raising=False)
    monkeypatch.setattr(paths_mod, "repo_root", lambda: tmp_path / "nowhere" / "repo")
    monkeypatch.setattr(images_mod, "candidate_dirs",
                        lambda root, name, system=None: [root / name, tmp_path / "src" / name])
    for table in ("FASHION_MNIST_SHA256", "CIFAR10_MD5", "CIFAR10_JPEG_SHA256"):
        monkeypatch.setattr(integrity, table, {})
    integrity.forget_verifications()


def test_cifar10_reads_pickle_batches_as_uint8_in_order(cifar_root):
    ds = load_dataset("cifar10", "train", root=cifar_root, download=False)
    assert ds.images.shape == (20, 3, 32, 32) and ds.images.dtype == torch.uint8
    with open(cifar_root / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        first = pickle.load(f)["data"][0].reshape(3, 32, 32)
    assert torch.equal(ds.images[0], torch.from_numpy(first))
    x, y = ds[0]
    assert x.min() >= -1 and x.max() <= 1 and y == 0
    assert load_dataset("cifar10", "test", root=cifar_root, download=False).images.shape[0] == 4


def test_cifar10_missing_names_the_files_and_the_jpeg_alternative(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="cifar-10-batches-py.*cifar10-jpeg"):
        load_dataset("cifar10", root=tmp_path / "empty", download=False)


def test_cifar10_failed_download_gives_the_same_clear_error(tmp_path, monkeypatch):
    import torchvision

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(DatasetNotFoundError, match="download failed.*network unreachable.*cifar10-jpeg"):
        load_dataset("cifar10", root=tmp_path / "empty", download=True)


def test_cifar10_corrupt_batch_is_named(cifar_root):
    (cifar_root / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(CorruptDatasetError, match="data_batch_3"):
        load_dataset("cifar10", root=cifar_root, download=False)


def test_fashion_mnist_prepares_torchvision_raw_folder_from_gz(tmp_path, fashion_gz_dir):
    root = tmp_path / "root"
    ds = load_dataset("fashion-mnist", "train", root=root, download=False)
    assert ds.images.shape == (5, 1, 28, 28)
    raw = root / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
    src = gzip.decompress((fashion_gz_dir / "train-images-idx3-ubyte.gz").read_bytes())
    assert ds.images.flatten().numpy().tobytes() == src[16:]
    assert ds.labels.tolist() == [0, 1, 2, 3, 4]


def test_fashion_mnist_28_to_32_pads_with_background(tmp_path, fashion_gz_dir):
    native = load_dataset("fashion-mnist", "test", root=tmp_path / "r", download=False)
    padded = load_dataset("fashion-mnist", "test", root=tmp_path / "r", image_size=32, download=False)
    assert padded.images.shape == (3, 1, 32, 32)
    assert torch.equal(padded.images[:, :, 2:30, 2:30], native.images)
    assert padded.images[:, :, :2].sum() == 0 and padded.images[:, :, :, -2:].sum() == 0
    assert "padded" in padded.notes
    resized = load_dataset("fashion-mnist", "test", root=tmp_path / "r", image_size=64, download=False)
    assert resized.images.shape == (3, 1, 64, 64) and "bilinear" in resized.notes


def test_fashion_mnist_missing_says_where_to_put_files(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="t10k-images-idx3-ubyte.*dataset-fashion-mnist"):
        load_dataset("fashion-mnist", root=tmp_path / "r", download=False)


def test_fashion_mnist_corrupt_gz_is_named(tmp_path, fashion_gz_dir):
    (fashion_gz_dir / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8bgarbage")
    with pytest.raises(CorruptDatasetError, match="train-labels-idx1-ubyte.gz"):
        load_dataset("fashion-mnist", root=tmp_path / "r", download=False)


def test_cifar10_jpeg_reads_imagefolder_zip_and_labels_it_lossy(tmp_path, imagefolder_zip):
    d = tmp_path / "src" / "cifar10-jpeg"
    d.mkdir(parents=True)
    expected = imagefolder_zip(d / "test.zip", "test")
    ds = load_dataset("cifar10-jpeg", "test", root=tmp_path / "r")
    assert ds.label == "CIFAR-10 (JPEG q75)" and ds.info()["label"] == "CIFAR-10 (JPEG q75)"
    assert ds.classes == ["cat", "dog"] and ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert torch.equal(ds.images, torch.from_numpy(expected).permute(0, 3, 1, 2))


def test_cifar10_jpeg_missing_and_corrupt_zip(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="test.zip"):
        load_dataset("cifar10-jpeg", "test", root=tmp_path / "r")
    d = tmp_path / "r" / "cifar10-jpeg"
    d.mkdir(parents=True)
    (d / "test.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CorruptDatasetError, match="not a readable zip"):
        load_dataset("cifar10-jpeg", "test", root=tmp_path / "r")


def test_data_root_order_argument_env_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REPRO_DATA", str(tmp_path / "env"))
    assert paths_mod.data_root(tmp_path / "arg") == tmp_path / "arg"
    assert paths_mod.data_root() == tmp_path / "env"
    monkeypatch.delenv("REPRO_DATA")
    (tmp_path / "data").mkdir()
    assert paths_mod.data_root() == tmp_path / "data"


def test_subsets_are_deterministic_by_seed(cifar_root):
    a = load_dataset("cifar10", root=cifar_root, subset=7, seed=3, download=False)
    b = load_dataset("cifar10", root=cifar_root, subset=7, seed=3, download=False)
    c = load_dataset("cifar10", root=cifar_root, subset=7, seed=4, download=False)
    assert torch.equal(a.images, b.images) and a.checksum == b.checksum
    assert a.checksum != c.checksum and len(a) == 7


@pytest.mark.parametrize("name, k, std", [("ring8", 8, 0.02), ("grid25", 25, 0.05)])
def test_mixtures_expose_centres_and_std(name, k, std):
    ds = load_dataset(name, subset=20_000, seed=1)
    assert ds.centers.shape == (k, 2) and ds.std == std and ds.points.shape == (20_000, 2)
    offsets = ds.points.double() - ds.centers[ds.labels]
    assert abs(offsets.std().item() - std) < 0.05 * std
    assert torch.bincount(ds.labels, minlength=k).min() > 20_000 / k * 0.8
    if name == "ring8":
        assert torch.allclose(ds.centers.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64))
    else:
        assert set(ds.centers.flatten().tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    assert not torch.equal(load_dataset(name, "test", subset=10).points, load_dataset(name, subset=10).points)


def test_unknown_names_are_rejected_with_the_choices():
    with pytest.raises(ValueError, match="choose one of.*cifar10-jpeg"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="split"):
        load_dataset("ring8", split="val")
    with pytest.raises(ValueError, match="unknown mixture"):
        mixture_centers("ring9")
    assert set(DATASETS) == {"cifar10", "cifar10-jpeg", "fashion-mnist", "ring8", "grid25", "ring8_r1"}


def test_ring8_r1_is_ring8_at_half_the_scale():
    small, big = load_dataset("ring8_r1", subset=20_000, seed=1), load_dataset("ring8", subset=20_000, seed=1)
    assert small.std == 0.01 and torch.allclose(2 * small.centers, big.centers)
    assert torch.equal(small.labels, big.labels)  # same stream: the points are ring8's scaled by one half
    assert torch.allclose(2 * small.points, big.points, atol=1e-6)


def test_uint8_float_round_trip_is_exact():
    u = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(to_uint8(to_float(u)), u)
    assert to_float(u).min() == -1 and to_float(u).max() == 1


def test_device_batches_cover_each_item_once_per_epoch_and_repeat_by_seed():
    data = torch.arange(10, dtype=torch.float32).unsqueeze(1)
    batches = DeviceBatches(data, torch.arange(10), batch_size=3, seed=5, drop_last=False)
    seen = torch.cat([x for x, _ in batches.epoch(0)]).flatten()
    assert sorted(seen.tolist()) == list(range(10))
    again = torch.cat([x for x, _ in DeviceBatches(data, None, 3, seed=5, drop_last=False).epoch(0)]).flatten()
    assert torch.equal(seen, again)
    other = torch.cat([x for x, _ in batches.epoch(1)]).flatten()
    assert not torch.equal(seen, other)
    assert len(DeviceBatches(data, None, 3)) == 3


def test_device_batches_scale_uint8_to_unit_interval():
    data = torch.tensor([[0], [255]], dtype=torch.uint8)
    x, _ = next(DeviceBatches(data, None, 2).epoch(0))
    assert sorted(x.flatten().tolist()) == [-1.0, 1.0]


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").exists()
                    and not (paths_mod.repo_root().parent / "shared/data/fashion-mnist").exists(),
                    reason="no local Fashion-MNIST copy on this machine")
def test_real_fashion_mnist_copy_loads(tmp_path, monkeypatch):
    monkeypatch.undo()  # use the real look-up for this one
    ds = load_dataset("fashion-mnist", "test", root=tmp_path, download=False)
    assert len(ds) == 10_000 and ds.images.shape[1:] == (1, 28, 28)
    assert abs(ds.images.float().mean().item() / 255 - 0.2868) < 0.005


# -- integrity: published checksums, SHA256SUMS, advice that can be followed (issue 13, items 5, 6) --

def _raw_sha256(gz_dir: Path) -> dict[str, str]:
    import hashlib
    return {p.name[:-3]: hashlib.sha256(gzip.decompress(p.read_bytes())).hexdigest() for p in gz_dir.glob("*.gz")}


def _alter_pixels(gz: Path) -> None:
    """A valid .gz whose IDX content has its first image's pixels inverted."""
    data = bytearray(gzip.decompress(gz.read_bytes()))
    data[16:16 + 784] = bytes(255 - b for b in data[16:16 + 784])
    gz.write_bytes(gzip.compress(bytes(data)))


def test_valid_gz_with_altered_pixels_fails_the_published_checksum(tmp_path, fashion_gz_dir, monkeypatch):
    monkeypatch.setattr(integrity, "FASHION_MNIST_SHA256", _raw_sha256(fashion_gz_dir))
    _alter_pixels(fashion_gz_dir / "train-images-idx3-ubyte.gz")
    with pytest.raises(CorruptDatasetError, match=r"train-images-idx3-ubyte.gz \(decompressed\) is not the "
                                                  r"published data set.*replace .*train-images-idx3-ubyte.gz"):
        load_dataset("fashion-mnist", root=tmp_path / "r", download=False)
    assert not (tmp_path / "r" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").exists()


def test_altered_raw_idx_is_caught_and_remade_from_the_good_gz(tmp_path, fashion_gz_dir, monkeypatch):
    monkeypatch.setattr(integrity, "FASHION_MNIST_SHA256", _raw_sha256(fashion_gz_dir))
    good = load_dataset("fashion-mnist", root=tmp_path / "r", download=False)
    raw = tmp_path / "r" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte"
    data = bytearray(raw.read_bytes())
    data[100] ^= 0xFF
    raw.write_bytes(bytes(data))
    with pytest.raises(CorruptDatasetError, match=f"delete {raw}"):
        load_dataset("fashion-mnist", root=tmp_path / "r", download=False)
    raw.unlink()  # following the advice works
    assert torch.equal(load_dataset("fashion-mnist", root=tmp_path / "r", download=False).images, good.images)


def test_sha256sums_beside_the_copies_is_checked(tmp_path, fashion_gz_dir):
    import hashlib
    sums = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  fashion-mnist/{p.name}\n"
                   for p in sorted(fashion_gz_dir.glob("*.gz")))
    (fashion_gz_dir.parent / "SHA256SUMS").write_text(sums)
    _alter_pixels(fashion_gz_dir / "t10k-images-idx3-ubyte.gz")
    with pytest.raises(CorruptDatasetError, match=r"t10k-images-idx3-ubyte.gz does not match .*SHA256SUMS"):
        load_dataset("fashion-mnist", "test", root=tmp_path / "r", download=False)


def test_truncated_idx_inside_a_valid_gz_names_the_gz_not_raw(tmp_path, fashion_gz_dir):
    gz = fashion_gz_dir / "t10k-images-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(gzip.decompress(gz.read_bytes())[:-100]))
    with pytest.raises(CorruptDatasetError, match=f"{gz} .*truncated.*replace {gz}"):
        load_dataset("fashion-mnist", "test", root=tmp_path / "r", download=False)
    assert not (tmp_path / "r" / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte").exists()


def test_read_only_data_root_says_how_to_point_elsewhere(tmp_path, fashion_gz_dir, monkeypatch):
    import errno

    def refused(path, data):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(images_mod, "atomic_write", refused)
    with pytest.raises(PermissionError, match=r"decompressed into .*FashionMNIST/raw.*REPRO_DATA"):
        load_dataset("fashion-mnist", root=tmp_path / "r", download=False)


def test_an_unreadable_data_folder_is_named_with_the_fix(tmp_path, fashion_gz_dir, monkeypatch):
    import errno
    from pathlib import Path

    exists = Path.exists

    def refused(path):
        if path.parent == fashion_gz_dir:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return exists(path)

    monkeypatch.setattr(Path, "exists", refused)
    with pytest.raises(PermissionError, match=rf"cannot look into the data folder {fashion_gz_dir} .*chmod u\+rx"):
        load_dataset("fashion-mnist", root=tmp_path / "r", download=False)


def test_cifar10_batch_with_a_wrong_published_md5_is_refused(cifar_root, monkeypatch):
    monkeypatch.setattr(integrity, "CIFAR10_MD5", {"data_batch_2": "0" * 32})
    with pytest.raises(CorruptDatasetError, match=r"data_batch_2 does not match the published checksum"):
        load_dataset("cifar10", root=cifar_root, download=False)


def test_each_file_is_hashed_once_per_process(tmp_path, fashion_gz_dir, monkeypatch):
    monkeypatch.setattr(integrity, "FASHION_MNIST_SHA256", _raw_sha256(fashion_gz_dir))
    calls = []
    real = integrity._digest
    monkeypatch.setattr(integrity, "_digest", lambda *a: calls.append(a) or real(*a))
    load_dataset("fashion-mnist", root=tmp_path / "r", download=False)
    first = len(calls)
    load_dataset("fashion-mnist", root=tmp_path / "r", download=False)
    assert first > 0 and len(calls) == first  # verified at the first load, not again


def test_recorded_source_is_relative_to_the_data_root(tmp_path, fashion_gz_dir, cifar_root):
    fm = load_dataset("fashion-mnist", root=tmp_path / "r", download=False)
    assert fm.info()["source"] == "FashionMNIST/raw"
    assert load_dataset("cifar10", root=cifar_root, download=False).source == "cifar-10-batches-py"
    assert str(tmp_path) not in fm.info()["source"]
