"""Benchmarks of the project on this machine: one table of throughput, wall time and memory.

    python bench/run.py                          # everything, on CUDA when there is a GPU (long on a CPU)
    python bench/run.py --quick                  # small settings: checks the harness in a few minutes
    python bench/run.py --only dcgan ddpm --out out/bench-gpu.json
    python bench/run.py --only dcgan ddpm --variants fp32 bf16 --out book/results/bench/cpu-bf16.json \
        --markdown book/results/bench/cpu-bf16.md   # bf16 autocast against fp32, timed in one run
    python bench/run.py --out book/results/bench/cpu.json --markdown book/results/bench/cpu.md   # the book's

Rows (``--only`` names the groups): ``matmul`` (measured matmul rate, the reference of the utilisation
figures), ``dcgan`` and ``ddpm`` (training images/s through the trainers' step loops), ``mixtures`` (the 2D
study's GAN and DDPM training steps, points/s), ``ddp`` (the DDPM
step on 1 process against 2 data-parallel ranks at the same global batch: overhead per step), ``sampling``
(ancestral and DDIM at 10/50/100 steps), ``inception`` (features/s), ``fid`` (FID wall time, ours vs
torch-fidelity), ``prdc`` (precision/recall + density/coverage time and peak memory). The metric
workloads are those of ``bench_metrics.py``.

Prints one Markdown table and writes it as JSON with the environment (``repro.records``), the git commit
and the settings. Times are ``time.perf_counter`` around device-synchronised calls, warm-up excluded.
Training rows come per variant of the trainers' options (fp32, bf16 autocast, channels_last,
torch.compile; channels_last on CUDA only), with FLOPs per image from torch's FlopCounterMode and, on
CUDA, MFU against the measured bf16 matmul rate.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import sys
import time
import traceback
from pathlib import Path

import torch

import bench_metrics
from bench_ddp import ddp_rows
from bench_train import dcgan_training, mixture_training, sampling, unet_training
from timing import hardware_name, matmul_rate

from repro.io import atomic_write, atomic_write_json
from repro.records import cpu_isa, environment_info, git_info, utc_now
from repro.report.tables import sig, with_caption

ROOT = Path(__file__).resolve().parents[1]
GROUPS = ("matmul", "dcgan", "ddpm", "mixtures", "ddp", "sampling", "inception", "fid", "prdc")

# Settings as data, per (device type, quick). Steps per timed call > 1 on CUDA spreads the trainers'
# once-per-epoch host read over several steps, as in a real epoch. ``train_variants`` are the trainer
# options timed for DCGAN and U-Net training (bench_train.options); compile's warm-up call compiles.
_CPU = dict(
    train_variants=["fp32", "bf16", "fp32+compile"],
    matmul_n=2048, gan_sizes=[32, 64], gan_batch=128, gan_warmup=2, gan_repeats=5, gan_steps=1,
    unets=["tiny", "small", "ho-cifar10"], unet_batch=128, unet_warmup=1, unet_repeats=2, unet_steps=1,
    sample_model="tiny", sample_n=32, sample_steps=[10, 50, 100], sample_repeats=1,
    ddp_model="tiny", ddp_batch=64, ddp_steps=4, ddp_warmup=1, ddp_repeats=3,
    mix_steps=200, mix_warmup=1, mix_repeats=5,
    inception_n=200, fid_n=1000, fid_batch=50, fid_repeats=1, prdc_n=[10_000, 50_000], prdc_dim=2048)
_CUDA = dict(
    train_variants=["fp32", "bf16", "bf16+channels_last", "bf16+channels_last+compile"],
    matmul_n=8192, gan_sizes=[32, 64], gan_batch=128, gan_warmup=3, gan_repeats=10, gan_steps=20,
    unets=["tiny", "small", "ho-cifar10"], unet_batch=128, unet_warmup=3, unet_repeats=5, unet_steps=10,
    sample_model="ho-cifar10", sample_n=256, sample_steps=[10, 50, 100], sample_repeats=3,
    ddp_model="ho-cifar10", ddp_batch=128, ddp_steps=10, ddp_warmup=2, ddp_repeats=5,
    mix_steps=200, mix_warmup=1, mix_repeats=5,
    inception_n=5000, fid_n=10_000, fid_batch=250, fid_repeats=2, prdc_n=[10_000, 50_000], prdc_dim=2048)
SETTINGS = {
    ("cpu", False): _CPU,
    ("cpu", True): {**_CPU, "train_variants": ["fp32"], "matmul_n": 1024, "gan_warmup": 1, "gan_repeats": 2,
                    "unets": ["tiny", "small"], "unet_batch": 16, "unet_repeats": 2, "sample_n": 8,
                    "ddp_batch": 16, "ddp_steps": 2, "ddp_repeats": 2,
                    "mix_steps": 20, "mix_repeats": 2,
                    "inception_n": 20, "fid_n": 50, "prdc_n": [2000, 5000]},
    ("cuda", False): _CUDA,
    ("cuda", True): {**_CUDA, "gan_warmup": 2, "gan_repeats": 3, "gan_steps": 5, "unet_warmup": 2, "unet_repeats": 3,
                     "unet_steps": 3, "sample_n": 64, "sample_repeats": 1, "inception_n": 500, "fid_n": 500},
}
FID_TARGET = 10_000  # FID-10k: a smaller N is extrapolated to it, and the row says so


def precision_label(variant: str, device: torch.device) -> str:
    """A variant ("bf16+channels_last+compile") in words; on CUDA "fp32" says whether TF32 was allowed."""
    parts = variant.split("+")
    if device.type == "cuda" and parts[0] == "fp32":
        conv = "TF32" if torch.backends.cudnn.allow_tf32 else "fp32"
        mm = "TF32" if torch.backends.cuda.matmul.allow_tf32 else "fp32"
        parts[0] = f"fp32 (conv {conv}, matmul {mm})"
    elif device.type == "cuda" and parts[0] == "bf16":
        parts[0] = "bf16 autocast"
    return " + ".join(p.replace("compile", "torch.compile") for p in parts)


def matmul_rows(s: dict, device: torch.device) -> list[dict]:
    """The reference rate: bf16 on CUDA (MFU), fp32 on the CPU; CUDA also shows fp32 for context."""
    dtypes = [torch.bfloat16, torch.float32] if device.type == "cuda" else [torch.float32]
    rows = []
    for dtype in dtypes:
        inner, repeats = (20, 5) if device.type == "cuda" else (3, 3)
        r = matmul_rate(device, dtype, s["matmul_n"], warmup=2, repeats=repeats, inner=inner)
        name = str(dtype).removeprefix("torch.")
        rows.append({"workload": f"matmul {r['n']}^3", "precision": name, "value": r["flop_per_s"] / 1e12,
                     "unit": "TFLOP/s", "also": f"best {r['best_flop_per_s'] / 1e12:.4g} TFLOP/s",
                     "protocol": f"median of {repeats} timings of {inner} products after 2 warm-up",
                     "details": {**r, "dtype": name}})
    return rows


def inception_rows(s: dict, device: torch.device) -> list[dict]:
    rows = []
    for r in bench_metrics.throughput(s["inception_n"], str(device)):
        size = "3x32x32, resized to 299x299 inside" if "Inception" in r["extractor"] else "at the classifier's size"
        rows.append({"workload": f"features/s, {r['extractor']}", "precision": "fp32 (TF32 off)",
                     "value": float(r["images/s"]), "unit": "images/s",
                     "also": f"{r['images']} images in {r['seconds']} s",
                     "protocol": f"random uint8 images {size}; one timed pass after a 10-image warm-up",
                     "details": r})
    return rows


def fid_rows(s: dict, device: torch.device) -> list[dict]:
    n = s["fid_n"]
    repeats = s["fid_repeats"]
    ours, theirs, diff = bench_metrics.fid_pipelines(n, s["fid_batch"], str(device), repeats)
    protocol = (f"N = {n} generated + {n} reference images (Fashion-MNIST at 32x32), offline Inception, "
                f"batch {s['fid_batch']}, no feature cache; "
                + (f"best of {repeats} alternating runs" if repeats > 1 else "one run each, ours first"))
    rows = []
    for r, name in ((ours, "ours (repro.metrics.evaluate)"), (theirs, "torch-fidelity calculate_metrics")):
        wall = float(r["wall s"])
        also = f"FID {r['FID']}, ours - theirs {diff['FID']}; time ours/theirs {ours['ratio']}"
        rows.append({"workload": f"FID-{n} wall time, {name}", "precision": "fp32 (TF32 off)", "value": wall,
                     "unit": "s", "also": also, "protocol": protocol, "details": r})
        if n < FID_TARGET:
            rows.append({"workload": f"FID-10k wall time, {name}, EXTRAPOLATED from N = {n}",
                         "precision": "fp32 (TF32 off)", "value": wall * FID_TARGET / n, "unit": "s (extrapolated)",
                         "also": f"linear in N from the measured N = {n}; an upper bound (fixed costs scaled too)",
                         "protocol": protocol, "details": {"measured_n": n, "measured_s": wall}})
    return rows


def _prdc_fresh_process(n: int, dim: int, threads: int) -> list[dict]:
    """prdc_memory in a new process: no heap freed by earlier workloads can absorb (and hide) the growth."""
    torch.set_num_threads(threads)
    import torch_fidelity.metric_prc  # noqa: F401  imported before the measurement starts

    return bench_metrics.prdc_memory(n, dim)


def prdc_rows(s: dict, device: torch.device) -> list[dict]:
    """Time and peak memory at each N; the memory slope between two N shows the growth is linear."""
    dim, rows, last = s["prdc_dim"], [], None
    for n in s["prdc_n"]:
        if device.type == "cuda":
            (r,) = bench_metrics.prdc_memory(n, dim, str(device))
        else:
            # large blocks straight from and back to the OS: RSS then follows the live tensors instead of
            # what the allocator keeps for reuse, which varies from run to run
            saved = os.environ.get("MALLOC_MMAP_THRESHOLD_")
            os.environ["MALLOC_MMAP_THRESHOLD_"] = str(1 << 20)
            try:
                with multiprocessing.get_context("spawn").Pool(1) as pool:
                    (r,) = pool.apply(_prdc_fresh_process, (n, dim, torch.get_num_threads()))
            finally:
                if saved is None:
                    del os.environ["MALLOC_MMAP_THRESHOLD_"]
                else:
                    os.environ["MALLOC_MMAP_THRESHOLD_"] = saved
        before, after = (float(v) for v in next(v for k, v in r.items() if k.startswith("peak")).split("->"))
        what = "CUDA max_memory_allocated" if device.type == "cuda" else "peak RSS (VmHWM, reset first)"
        name = f"precision/recall (k=3) + density/coverage (k=5), N = M = {n}, {dim}-d random features"
        also = f"an N x N float32 matrix would be {r['N x N float32 would be MiB']} MiB"
        if last is not None:
            slope = (after - before - last[1]) / (n - last[0]) * 1000
            also += (f"; growth from N = {last[0]}: {slope:.3g} MiB per 1,000 samples "
                     f"(N x N would add {(n * n - last[0] ** 2) * 4 / 2**20 / (n - last[0]) * 1000:.3g})")
        last = (n, after - before)
        rows += [{"workload": f"{name}: time", "precision": "fp32", "value": float(r["wall s"]), "unit": "s",
                  "also": f"P, R = {r['precision, recall']}; D, C = {r['density, coverage']}",
                  "protocol": "one timed call of each, blocks of 1000 rows", "details": r},
                 {"workload": f"{name}: peak memory above the features", "precision": "fp32",
                  "value": after - before, "unit": "MiB", "also": also,
                  "protocol": f"{what} after minus before the calls"
                              + ("" if device.type == "cuda" else ", in a fresh process"), "details": r}]
    return rows


def jobs(groups: list[str], s: dict, device: torch.device) -> list[tuple[str, object]]:
    """(label, thunk) per workload, in table order; each thunk returns rows."""
    cuda = device.type == "cuda"
    out: list[tuple[str, object]] = []
    if "dcgan" in groups:
        for size in s["gan_sizes"]:
            out.append((f"dcgan {size}", lambda size=size: dcgan_training(
                size, device, s["train_variants"], s["gan_batch"], s["gan_warmup"], s["gan_repeats"],
                s["gan_steps"])))
    if "ddpm" in groups:
        for preset in s["unets"]:
            out.append((f"ddpm {preset}", lambda preset=preset: unet_training(
                preset, device, s["train_variants"], s["unet_batch"], s["unet_warmup"], s["unet_repeats"],
                s["unet_steps"])))
    if "mixtures" in groups:
        out.append(("mixtures", lambda: mixture_training(device, s["mix_warmup"], s["mix_repeats"], s["mix_steps"])))
    if "ddp" in groups and (not cuda or torch.cuda.device_count() >= 2):
        out.append(("ddp", lambda: ddp_rows(device, s["ddp_model"], s["ddp_batch"], s["ddp_steps"], s["ddp_warmup"],
                                            s["ddp_repeats"])))
    if "sampling" in groups:
        out.append(("sampling", lambda: sampling(s["sample_model"], device, ["fp32", "bf16"] if cuda else ["fp32"],
                                                 s["sample_n"], s["sample_steps"], ["ancestral", "ddim"],
                                                 s["sample_repeats"])))
    if "inception" in groups:
        out.append(("inception", lambda: inception_rows(s, device)))
    if "fid" in groups:
        out.append(("fid", lambda: fid_rows(s, device)))
    if "prdc" in groups:
        out.append(("prdc", lambda: prdc_rows(s, device)))
    return out


def add_utilisation(rows: list[dict], reference: dict | None) -> None:
    """FLOPs per image, achieved FLOP/s and its share of the measured matmul rate (MFU on CUDA in bf16)."""
    for r in rows:
        flops = r.get("details", {}).get("flops_per_image")
        if not flops:
            continue
        achieved = flops * r["details"]["images_per_s"]
        r["details"]["achieved_flop_per_s"] = achieved
        r["also"] += f"; {flops / 1e9:.4g} GFLOP/{_example(r)}; {achieved / 1e12:.3g} TFLOP/s"
        if reference is not None:
            share = achieved / reference["details"]["flop_per_s"]
            r["details"]["utilisation"] = share
            r["details"]["utilisation_reference"] = reference["workload"] + " " + reference["precision"]
            r["also"] += (f"; MFU {share:.1%}" if reference["precision"] == "bfloat16"
                          else f"; {share:.1%} of the measured fp32 matmul rate")


def _example(row: dict) -> str:
    """What one example of a row's workload is ("image", "point"), from its unit ("points/s")."""
    return row["unit"].split("/")[0].removesuffix("s") if row["unit"].endswith("/s") else "image"


FLOAT = re.compile(r"(?<![\w.])\d+\.\d+(?:e[-+]\d+)?(?![\w.])|(?<![\w.])\d+e[-+]\d+(?![\w.])")


def _four(x: float) -> str:
    """``x`` to at most 4 significant figures (no padding zeros), without an exponent where it is >= 1e-4."""
    text = f"{x:.4g}"
    return sig(float(text), 4) if "e" in text else text


def readable(text: str, row: dict | None = None) -> str:
    """A record's text for people: each decimal to at most 4 significant figures, without exponents
    ("21.8289" -> "21.83", "1.32e+03" -> "1,320", "0.00e+00" -> "0"), and FLOPs per example named by the
    row's unit (a record written before the unit was named says "GFLOP/image" of 2D points)."""
    text = FLOAT.sub(lambda m: _four(float(m.group(0))), text)
    return text.replace("GFLOP/image", f"GFLOP/{_example(row)}") if row is not None else text


def table(rows: list[dict], keys: tuple[str, ...] = ("workload", "hardware", "precision", "figure", "also",
                                                       "protocol")) -> str:
    """The rows as one Markdown table with the columns ``keys``, numbers made :func:`readable`."""
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        figure = "FAILED" if r["value"] is None else f"{_four(r['value'])} {r['unit']}"
        cells = {**r, "figure": figure, "also": readable(r["also"], r)}
        lines.append("| " + " | ".join(str(cells[k]).replace("|", "\\|") for k in keys) + " |")
    return "\n".join(lines)


# Rows the book's prose quotes; the page shows them first and folds the full table into a dropdown.
HEADLINE = ("DCGAN training 32x32", "DDPM U-Net training, tiny", "DDPM U-Net training, ho-cifar10",
            "sampling, ddim 10 steps", "sampling, ddim 100 steps", "FID-1000 wall time, ours", "2D mixture training")


def is_headline(row: dict) -> bool:
    """A row quoted in the book: fp32 (eager or compiled) of a workload in ``HEADLINE``."""
    return row["workload"].startswith(HEADLINE) and row["precision"].startswith(("fp32", "float32"))


def shown_argv(argv: list[str]) -> list[str]:
    """The command's arguments as the record keeps them: a path of the machine it ran on is written relative
    to the checkout when inside it, else by its file name (where the file is kept is the reader's business)."""
    out = []
    for arg in argv:
        path = Path(arg)
        if path.is_absolute():
            arg = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
        out.append(arg)
    return out


def duration(seconds: float) -> str:
    """A wall time as the book writes it: seconds under two minutes, else whole minutes."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def book_page(record: dict) -> str:
    """The table for the book: the command, machine, commit and date above it, one hardware for all rows;
    the headline rows in view and every row, with the protocols, in a dropdown (MyST colon fence)."""
    env, git = record["environment"], record["git"]
    hardware = sorted({r["hardware"] for r in record["rows"]})
    commit = f"{(git.get('commit') or '?')[:7]}{' (uncommitted changes)' if git.get('dirty') else ''}"
    head = [f"Measured with `python bench/run.py {' '.join(shown_argv(record['argv']))}` on {', '.join(hardware)}, "
            f"torch {env['versions']['torch']}, commit {commit}, {record['created']}; "
            f"wall time of the whole benchmark {duration(record['wall_time_s'])}.", ""]
    keys = ("workload", "precision", "figure", "also")
    headline = [r for r in record["rows"] if is_headline(r)]
    protocols = sorted({r["protocol"] for r in record["rows"] if r["protocol"]})
    notes = ["", "Protocols:", ""] + [f"- {p}" for p in protocols]
    folded = [f":::{{dropdown}} All {len(record['rows'])} rows of the benchmark, with their protocols", "",
              with_caption(table(record["rows"], keys), "Every row of the benchmark: workload, precision, the "
                           "measured figure and what follows from it; the protocols are listed below")]
    folded += notes + ["", ":::"]
    shown = with_caption(table(headline, keys), "The headline rows of this benchmark (float32): throughput of "
                         "each training step or sampler it times, on the machine named above")
    return "\n".join(head) + "\n" + shown + "\n" + "\n".join(folded) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small settings, to check that the harness works")
    p.add_argument("--only", nargs="+", default=list(GROUPS), metavar="ROWS",
                   help=f"groups to run, of: {', '.join(GROUPS)} (commas or spaces)")
    p.add_argument("--out", type=Path, default=None, help="JSON file (default out/bench-DEVICE[-quick].json)")
    p.add_argument("--markdown", type=Path, default=None, help="also write the table for the book here")
    p.add_argument("--from-json", type=Path, default=None, metavar="JSON",
                   help="measure nothing: write --markdown from the record of an earlier run")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads; default torch's choice, but 1 for --quick on a CPU, where a "
                        "shared machine's busy cores stall multi-threaded kernels")
    p.add_argument("--variants", nargs="+", default=None, metavar="VARIANT",
                   help="trainer options timed for DCGAN and U-Net training, e.g. fp32 bf16 fp32+compile")
    p.add_argument("--fid-n", type=int, default=None, help="images per side of the FID timing")
    p.add_argument("--prdc-n", type=int, nargs="+", default=None, help="N = M of the k-NN metric timings")
    args = p.parse_args()
    if args.from_json:
        if not args.markdown:
            p.error("--from-json needs --markdown, the file to write")
        record = json.loads(args.from_json.read_text())
        record["argv"] = shown_argv(record["argv"])
        atomic_write(args.markdown, book_page(record))
        if args.out:  # a copy of the record kept elsewhere, its command's paths as a new record keeps them
            atomic_write_json(args.out, record)
        return 0
    groups = [g for item in args.only for g in item.split(",") if g]
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        p.error(f"unknown rows {unknown}; choose from {', '.join(GROUPS)}")
    device = torch.device(args.device)
    threads = args.threads or (1 if args.quick and device.type == "cpu" else None)
    if threads:
        torch.set_num_threads(threads)
    s = dict(SETTINGS[(device.type, args.quick)])
    if device.type == "cpu" and not args.variants and "bf16" not in cpu_isa():
        # emulated bf16 is many times slower than float32 (book/results/bench/cpu-bf16-avx2.md): hours here
        s["train_variants"] = [v for v in s["train_variants"] if "bf16" not in v.split("+")]
        print("this CPU has no bf16 instructions: bf16 variants left out (name them with --variants to time them)",
              file=sys.stderr)
    if args.variants:
        from bench_train import options

        for v in args.variants:
            try:
                options(v)  # an unknown variant is named before anything runs
            except ValueError as err:
                p.error(f"--variants: {err}; combine fp32 or bf16 with channels_last and compile, e.g. bf16+compile")
        s["train_variants"] = args.variants
    if args.fid_n:
        s["fid_n"] = args.fid_n
    if args.prdc_n:
        s["prdc_n"] = args.prdc_n
    hardware = hardware_name(device)

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    rows, failed = [], []
    reference = None
    start = time.perf_counter()
    if "matmul" in groups or {"dcgan", "ddpm", "sampling"} & set(groups):
        log("matmul reference rate")
        matmul = matmul_rows(s, device)
        reference = matmul[0]
        rows += matmul
    for label, thunk in jobs(groups, s, device):
        log(label)
        t0 = time.perf_counter()
        try:
            new = thunk()
        except Exception as err:  # one failed workload must not lose the others' rows
            traceback.print_exc()
            failed.append(label)
            new = [{"workload": label, "precision": "", "value": None, "unit": "",
                    "also": f"{type(err).__name__}: {err}".replace("|", "/").replace("\n", " ")[:300],
                    "protocol": "", "details": {"error": traceback.format_exc()}}]
        add_utilisation(new, reference)
        for r in new:
            log(f"  {r['workload']} [{r['precision']}]: "
                + ("FAILED" if r["value"] is None else f"{r['value']:.4g} {r['unit']}; {r['also']}"))
        log(f"  ({time.perf_counter() - t0:.0f} s)")
        rows += new
    for r in rows:
        r["hardware"] = hardware
        r["precision"] = precision_label(r["precision"], device) if r["precision"] else ""

    print(table(rows))
    os.environ.setdefault("GIT_OPTIONAL_LOCKS", "0")  # `git status` without refreshing the index
    record = {
        "created": utc_now(),
        "argv": shown_argv(sys.argv[1:]), "quick": args.quick, "groups": groups, "settings": s,
        "torch_threads": torch.get_num_threads(),
        "backends": {"cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
                     "cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
                     "cudnn_benchmark": torch.backends.cudnn.benchmark,
                     "float32_matmul_precision": torch.get_float32_matmul_precision()},
        "environment": environment_info(device), "git": git_info(ROOT), "failed": failed, "rows": rows,
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
    out = args.out or ROOT / "out" / f"bench-{device.type}{'-quick' if args.quick else ''}.json"
    atomic_write_json(out, record)
    print(f"\nwrote {out}", file=sys.stderr)
    if args.markdown:
        atomic_write(args.markdown, book_page(record))
        print(f"wrote {args.markdown}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
