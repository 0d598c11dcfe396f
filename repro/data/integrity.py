"""Checksums of the known data sets, checked when their files are first read.

A file with altered pixels inside a valid container (a re-gzipped IDX, a rewritten pickle) loads
without any decoding error; only a checksum catches it. Three sources of truth:

- Fashion-MNIST (Xiao et al. 2017): SHA-256 of the four *decompressed* IDX files. The gzip wrappers
  differ between copies (Debian's, torchvision's download), the IDX content is the data set.
- CIFAR-10 (Krizhevsky 2009): the MD5 of each python-pickle batch that torchvision publishes.
- CIFAR-10 JPEG q75: SHA-256 of this project's two ImageFolder zips.

Any file that sits beside a ``SHA256SUMS`` (in its folder or the one above, as in the shared data
folder) is also checked against the line naming it. A file is hashed once per process: the result
is cached by path, size and modification time.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .paths import CorruptDatasetError

__all__ = ["FASHION_MNIST_SHA256", "CIFAR10_MD5", "CIFAR10_JPEG_SHA256", "verify_file", "verify_bytes",
           "sha256sums_entry", "forget_verifications"]

FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
CIFAR10_MD5 = {  # torchvision.datasets.CIFAR10.train_list / test_list
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
CIFAR10_JPEG_SHA256 = {
    "train.zip": "614607010ed2564f86ae6c7c9a438a2c55efacae83ded52eca646a28205d33c6",
    "test.zip": "7927686acf0120b5e176cf1ec1285c59e138bec4fa8a150edfe8ab657cae7d16",
}
SUMS_FILE = "SHA256SUMS"

_verified: set[tuple[str, int, int, str]] = set()


def _digest(data_or_path: bytes | Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    if isinstance(data_or_path, bytes):
        h.update(data_or_path)
        return h.hexdigest()
    with open(data_or_path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def sha256sums_entry(path: Path) -> tuple[Path, str] | None:
    """The ``SHA256SUMS`` file beside ``path`` (its folder or the one above) and its digest for it."""
    path = Path(path)
    for folder in (path.parent, path.parent.parent):
        sums = folder / SUMS_FILE
        if not sums.is_file():
            continue
        try:
            lines = sums.read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            parts = line.strip().split(maxsplit=1)
            if len(parts) == 2 and (folder / parts[1].lstrip("*")).resolve() == path.resolve():
                return sums, parts[0].lower()
    return None


def verify_bytes(data: bytes, expected: str | None, what: str, fix: str, algorithm: str = "sha256") -> None:
    """Raise :class:`CorruptDatasetError` if ``data``'s digest is not ``expected`` (``None``: no check)."""
    if expected is None:
        return
    got = _digest(data, algorithm)
    if got != expected:
        raise CorruptDatasetError(
            f"{what} is not the published data set ({algorithm} {got[:16]}..., expected {expected[:16]}...); {fix}")


def verify_file(path: Path, expected: str | None = None, algorithm: str = "sha256", fix: str | None = None) -> None:
    """Check ``path`` against ``expected`` and against any ``SHA256SUMS`` beside it, once per process.

    Raises :class:`CorruptDatasetError` naming the file, both digests and ``fix`` (default: replace it).
    """
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, f"{algorithm}:{expected}")
    if key in _verified:
        return
    fix = fix or f"replace {path} with a good copy"
    checks = [(expected, algorithm, "the published checksum")] if expected else []
    listed = sha256sums_entry(path)
    if listed is not None:
        checks.append((listed[1], "sha256", str(listed[0])))
    digests: dict[str, str] = {}
    for want, algo, source in checks:
        got = digests.setdefault(algo, _digest(path, algo))
        if got != want:
            raise CorruptDatasetError(
                f"{path} does not match {source} ({algo} {got[:16]}..., expected {want[:16]}...): the file "
                f"is damaged or altered; {fix}")
    _verified.add(key)


def forget_verifications() -> None:
    """Clear the per-process cache (tests; or after replacing a file in place within the same second)."""
    _verified.clear()

