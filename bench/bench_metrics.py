"""Benchmark of the metrics (not a test): agreement with the reference code, feature throughput on this
machine, our FID pipeline against torch-fidelity's on the same images, and k-NN metric memory.

    python bench/bench_metrics.py                      # everything, FID on 10k images (slow on a CPU)
    python bench/bench_metrics.py --fid-n 200 --repeats 2 --prdc-n 50000 --prdc-dim 64
    python bench/bench_metrics.py --only agreement throughput

Prints Markdown tables. FID images: Fashion-MNIST served at 32 x 32 (padded), "generated" = test split
subset, reference = train split subset, both of ``--fid-n`` images.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time

import numpy as np
import torch


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "| " + " | ".join("---" for _ in keys) + " |"]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def agreement() -> list[dict]:
    """Max abs difference of our numbers against each reference implementation on the same features."""
    import scipy.linalg
    from prdc import compute_prdc
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_isc import isc_features_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    from repro import metrics
    from repro.metrics.inception import OfflineInception

    diffs: dict[str, list[float]] = {}
    values: dict[str, str] = {}

    def note(name, ours, ref):
        diffs.setdefault(name, []).append(float(np.max(np.abs(np.subtract(ours, ref)))))
        values[name] = ", ".join(f"{v:.6g}" for v in np.atleast_1d(ours))

    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        a = torch.randn(2500, 2048, generator=g).relu()
        b = (torch.randn(2500, 2048, generator=g) * 1.1 + 0.05).relu()
        ref = fid_statistics_to_metric(fid_features_to_statistics(a), fid_features_to_statistics(b), False)
        ours = metrics.fid_from_features(a, b)
        note("FID vs torch-fidelity (2500 x 2048)", ours, ref["frechet_inception_distance"])
        a64, b64 = a.double().numpy(), b.double().numpy()
        s1, s2 = np.cov(a64, rowvar=False), np.cov(b64, rowvar=False)
        ttur = ((a64.mean(0) - b64.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
        note("FID vs TTUR/pytorch-fid sqrtm, float64 (2500 x 2048)", ours, ttur)
        k = kid_features_to_metric(a, b, kid_subsets=20, kid_subset_size=1000, rng_seed=seed, verbose=False)
        note("KID mean, std vs torch-fidelity (2500 x 2048)", metrics.kid_from_features(a, b, 20, 1000, seed),
             (k["kernel_inception_distance_mean"], k["kernel_inception_distance_std"]))
        real, fake = a[:1500, :64], b[:1200, :64]  # 64-d: k-NN metrics away from 0 and 1
        note("precision, recall vs torch-fidelity (full matrix, 1500 / 1200 x 64)",
             metrics.precision_recall(real, fake), calculate_precision_recall_full(fake, real, neighborhood=3))
        p = compute_prdc(real.numpy(), fake.numpy(), nearest_k=5)
        note("density, coverage vs prdc 0.2 (k=5)", metrics.density_coverage(real, fake, k=5),
             (p["density"], p["coverage"]))
        p3 = compute_prdc(real.numpy(), fake.numpy(), nearest_k=3)
        note("precision, recall vs prdc 0.2 (k=3)", metrics.precision_recall(real, fake, k=3),
             (p3["precision"], p3["recall"]))
        logits = torch.randn(5000, 1008, generator=g) * 4
        i = isc_features_to_metric(logits, splits=10, shuffle=False)
        note("IS mean, std vs torch-fidelity (5000 x 1008)", metrics.inception_score(logits.double().softmax(1)),
             (i["inception_score_mean"], i["inception_score_std"]))
    torch.manual_seed(0)
    x = torch.rand(4, 3, 299, 299) * 2 - 1
    f = OfflineInception().model(x)[0]
    note("offline Inception row 0: 5 features + mean vs FACTS", [*f[:5].tolist(), float(f.mean())],
         [0.114204, 0.001766, 0.27099, 0.0, 0.01071, 0.187340])
    return [{"quantity": k, "max abs difference": f"{max(v):.2e}", "cases": len(v), "our value (last case)": values[k]}
            for k, v in diffs.items()]


def throughput(n: int = 100, device: str = "cpu") -> list[dict]:
    """Images per second of each feature extractor: one timed pass after a 10-image warm-up."""
    from repro.metrics import load_classifier
    from repro.metrics.inception import OfflineInception, online_weights_path

    rows = []
    x32 = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)
    extractors = [("offline Inception (TorchScript), fp32", OfflineInception(device=device, batch_size=50), x32)]
    if online_weights_path() is not None:
        from repro.metrics.inception import OnlineInception

        extractors.append(("online Inception (torch-fidelity), fp32",
                           OnlineInception(device=device, batch_size=50), x32))
    for name, spec_size, ch in (("fashion-mnist", 28, 1), ("cifar10-jpeg", 32, 3)):
        try:
            extractors.append((f"classifier {name}", load_classifier(name, device),
                               torch.randint(0, 256, (5000, ch, spec_size, spec_size), dtype=torch.uint8)))
        except FileNotFoundError:
            pass
    for name, extractor, images in extractors:
        extractor(images[:10])  # warm-up
        t = time.perf_counter()
        extractor(images)  # features come back on the CPU: the call ends when the device has finished
        dt = time.perf_counter() - t
        rows.append({"extractor": name, "images": len(images), "seconds": f"{dt:.1f}",
                     "images/s": f"{len(images) / dt:.1f}", "threads": torch.get_num_threads()})
    return rows


def fid_pipelines(n: int, batch_size: int, device: str = "cpu", repeats: int = 1) -> list[dict]:
    """Our evaluate() against torch_fidelity.calculate_metrics (offline extractor registered) on the same
    images: rows for ours, theirs and their difference. With ``repeats`` > 1 the two alternate and the
    fastest run of each counts (shared machines are noisy)."""
    import torch_fidelity

    from repro import metrics
    from repro.data import load_dataset
    from repro.metrics.fidelity_extractor import FidelityImages

    gen = load_dataset("fashion-mnist", "test", image_size=32, subset=n, seed=1).images
    ref = load_dataset("fashion-mnist", "train", image_size=32, subset=n, seed=0).images
    name = metrics.register_offline_inception()

    def ours() -> float:
        with tempfile.TemporaryDirectory() as cache:  # empty cache: the reference features are computed too
            return metrics.evaluate(gen, reference="fashion-mnist", split="train", metrics=("fid",), n=n,
                                    batch_size=batch_size, reference_n=n, cache_dir=cache, progress=False,
                                    device=device)["fid"]

    def theirs() -> float:
        return torch_fidelity.calculate_metrics(
            input1=FidelityImages(gen), input2=FidelityImages(ref), fid=True,
            feature_extractor=name, cuda=torch.device(device).type == "cuda", batch_size=batch_size,
            cache=False, verbose=False, save_cpu_ram=True)["frechet_inception_distance"]

    times: dict[str, list[float]] = {"ours": [], "theirs": []}
    fid: dict[str, float] = {}
    for _ in range(repeats):
        for key, run in (("ours", ours), ("theirs", theirs)):
            t = time.perf_counter()
            fid[key] = run()
            times[key].append(time.perf_counter() - t)
    best = {k: min(v) for k, v in times.items()}
    runs = {k: ", ".join(f"{t:.1f}" for t in v) for k, v in times.items()}
    return [{"pipeline": "ours: repro.metrics.evaluate", "N": n, "FID": f"{fid['ours']:.4f}",
             "wall s": f"{best['ours']:.1f}", "runs s": runs["ours"],
             "ratio": f"{best['ours'] / best['theirs']:.3f}"},
            {"pipeline": "torch_fidelity.calculate_metrics", "N": n, "FID": f"{fid['theirs']:.4f}",
             "wall s": f"{best['theirs']:.1f}", "runs s": runs["theirs"], "ratio": "1.000"},
            {"pipeline": "abs difference", "N": n, "FID": f"{abs(fid['ours'] - fid['theirs']):.2e}",
             "wall s": "", "runs s": "", "ratio": ""}]


def _peak_rss_mib() -> float:
    """Peak resident set size of this process (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> None:
    """Set the peak RSS back to the current RSS (Linux >= 4.0), so that the next peak is the next block's."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def prdc_memory(n: int, dim: int, device: str = "cpu") -> list[dict]:
    """Peak memory before -> after: on the CPU the process's peak RSS, reset to the current RSS just before
    (freed heap that an earlier workload left to the allocator can hide growth: use a fresh process); on
    CUDA torch's peak allocated memory."""
    from repro import metrics

    cuda = torch.device(device).type == "cuda"
    g = torch.Generator().manual_seed(0)
    # in place: no transient copy raises the RSS high-water mark before the measurement
    real = torch.randn(n, dim, generator=g).relu_().to(device)
    fake = torch.randn(n, dim, generator=g).mul_(1.1).relu_().to(device)
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)

        def peak() -> float:
            return torch.cuda.max_memory_allocated(device) / 2**20
    else:
        _reset_peak_rss()
        peak = _peak_rss_mib
    rss0 = peak()
    t = time.perf_counter()
    pr = metrics.precision_recall(real, fake)
    dc = metrics.density_coverage(real, fake)
    dt = time.perf_counter() - t
    rss1 = peak()
    return [{"N = M": n, "dim": dim, "precision, recall": f"{pr[0]:.3f}, {pr[1]:.3f}",
             "density, coverage": f"{dc[0]:.3f}, {dc[1]:.3f}", "wall s": f"{dt:.1f}",
             f"peak {'CUDA allocated' if cuda else 'RSS'} MiB (before -> after)": f"{rss0:.0f} -> {rss1:.0f}",
             "N x N float32 would be MiB": f"{n * n * 4 / 2**20:.0f}"}]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="*", default=["agreement", "throughput", "fid", "prdc"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--inception-n", type=int, default=100, help="images per Inception throughput measurement")
    p.add_argument("--fid-n", type=int, default=10_000)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--repeats", type=int, default=1, help="alternating runs of each FID pipeline")
    p.add_argument("--prdc-n", type=int, default=50_000)
    p.add_argument("--prdc-dim", type=int, default=2048)
    args = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}\n")
    if "agreement" in args.only:
        print("## Agreement with reference implementations\n\n" + table(agreement()) + "\n")
    if "throughput" in args.only:
        print("## Feature throughput\n\n" + table(throughput(args.inception_n, args.device)) + "\n")
    if "fid" in args.only:
        rows = fid_pipelines(args.fid_n, args.batch_size, args.device, args.repeats)
        print(f"## FID-{args.fid_n} wall time, ours vs torch-fidelity\n\n" + table(rows) + "\n")
    if "prdc" in args.only:
        rows = prdc_memory(args.prdc_n, args.prdc_dim, args.device)
        print("## Precision/recall + density/coverage time and memory\n\n" + table(rows))


if __name__ == "__main__":
    main()
