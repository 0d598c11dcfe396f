"""The methods chapter's settings table, generated from the run manifests so that it cannot disagree
with them, with each group's differences from the paper preset it follows.

Runs whose settings agree except for the seed are one row: the study (the run folder's first parts),
the model, the data, the training settings, the seeds and the epochs they trained. The last column
names every setting where the runs differ from the paper's preset (``repro.train.gan.PRESETS``,
``repro.train.diffusion.PRESETS``): the seed report's or DCGAN paper's for a DCGAN, PacGAN's for the
2D GAN (or Metz et al.'s, for the ReLU discriminator), Ho et al.'s or Nichol & Dhariwal's for a DDPM,
whichever the runs differ from least. Where that paper states how long it trained (:data:`PAPER_LENGTH`),
the column also names our training length beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..records import load_record
from ..train import diffusion, gan
from .tables import rate, with_caption

__all__ = ["settings_rows", "settings_markdown"]

GAN_KEYS = ("image_size", "batch_size", "lr_G", "lr_D", "betas_G", "nz", "ngf", "ndf", "mlp_hidden", "update")
DDPM_KEYS = ("model", "schedule", "num_timesteps", "loss_type", "batch_size", "lr", "warmup_steps", "ema_decay",
             "grad_clip")
VARYING = ("seed", "epochs")


DCGAN_PRESETS = ("dcgan-paper", "seed-report")
# How long each paper trained, where it says: PacGAN (Lin et al. 2018), 400 epochs of 100,000 points (its
# public code, which Table 1 was made with); Ho et al. 2020 App. B, 800k steps on CIFAR-10; Nichol &
# Dhariwal 2021 App. A, 500k steps on CIFAR-10. Neither the DCGAN paper nor the seed report gives one for
# its CIFAR-10 model.
PAPER_LENGTH: dict[str, tuple[str, int]] = {"mixture-pacgan": ("epochs", 400), "ho-cifar10": ("steps", 800_000),
                                            "iddpm-cifar10": ("steps", 500_000)}


def _differences(preset: Any, settings: dict[str, Any]) -> list[str]:
    return [f"{k} {_fmt(getattr(preset, k), k)} → {_fmt(v, k)}" for k, v in settings.items()
            if hasattr(preset, k) and _fmt(getattr(preset, k), k) != _fmt(v, k)]


def _reference(kind: str, p: dict[str, Any]) -> tuple[str, Any] | None:
    """The paper preset a run follows: its name and config. A 2D GAN follows PacGAN's (or Metz et al.'s);
    a DCGAN the one of :data:`DCGAN_PRESETS` it differs from least (ties: the DCGAN paper's), so that the
    collapse study's control (the seed's setting with lr_D = lr_G) is read against the seed's preset; an
    image DDPM the paper that defines its loss: Nichol & Dhariwal's for the hybrid loss, else Ho et al.'s."""
    if kind == "gan" and p.get("arch") == "mlp":
        name = "mixture-pacgan" if p.get("d_arch") == "maxout" else "mixture-mlp"
        return name, gan.PRESETS[name]
    if kind == "gan":
        settings = _settings(kind, p)
        name = min(DCGAN_PRESETS, key=lambda n: len(_differences(gan.PRESETS[n], settings)))
        return name, gan.PRESETS[name]
    if kind == "diffusion" and p.get("model") != "mlp":
        name = "iddpm-cifar10" if p.get("loss_type") == "hybrid" else "ho-cifar10"
        return name, diffusion.PRESETS[name]
    return None


def _length(name: str, epochs: set[int], steps: set[int]) -> list[str]:
    """``["training 400 epochs → 200"]`` where the paper's length is known and ours differs."""
    if name not in PAPER_LENGTH:
        return []
    unit, theirs = PAPER_LENGTH[name]
    ours = sorted(epochs if unit == "epochs" else steps)
    if not ours or ours == [theirs]:
        return []
    span = f"{ours[0]:,}" if len(ours) == 1 else f"{ours[0]:,}–{ours[-1]:,}"
    return [f"training {theirs:,} {unit} → {span}"]


def _fmt(v: Any, key: str = "") -> str:
    """A setting as the table shows it; learning rates as papers write them (1e-4, 6.7e-4)."""
    if key.startswith("lr") and isinstance(v, (int, float)) and not isinstance(v, bool):
        return rate(v)
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    return str(v)


def _settings(kind: str, p: dict[str, Any]) -> dict[str, Any]:
    keys = GAN_KEYS if kind == "gan" else DDPM_KEYS
    if kind == "gan":
        keys = tuple(k for k in keys if not (p.get("arch") == "mlp" and k in ("ngf", "ndf", "image_size"))
                     and not (p.get("arch") == "dcgan" and k == "mlp_hidden"))  # an MLP on points has no image
    return {k: p.get(k) for k in keys if k in p}


def settings_rows(results: str | Path) -> list[dict[str, Any]]:
    """One row per group of runs with the same settings under ``results/runs`` (finished training runs only:
    a run still in progress is behind no number yet)."""
    results = Path(results)
    groups: dict[tuple, dict[str, Any]] = {}
    for manifest in sorted(results.glob("runs/**/manifest.json")):
        rec = load_record(manifest.parent)
        kind, p = rec.manifest.get("kind"), rec.params
        if kind not in ("gan", "diffusion") or rec.manifest.get("status") != "finished":
            continue
        run = manifest.parent.relative_to(results / "runs")
        study = "/".join(run.parts[:-1]) or run.parts[0]
        data = rec.manifest.get("data", {})
        settings = _settings(kind, p)
        key = (study, kind, data.get("label"), data.get("n"), tuple((k, _fmt(v, k)) for k, v in settings.items()))
        g = groups.setdefault(key, {"seeds": set(), "epochs": set(), "steps": set(), "kind": kind, "params": p})
        g["seeds"].add(p.get("seed"))
        g["epochs"].add(len(rec.rows))
        if rec.rows and rec.rows[-1].get("step") is not None:
            g["steps"].add(int(rec.rows[-1]["step"]))
    rows = []
    for (study, kind, label, n, settings), g in groups.items():
        ref = _reference(kind, g["params"])
        differs = "—"
        if ref is not None:
            name, preset = ref
            diff = _differences(preset, dict(settings)) + _length(name, g["epochs"], g["steps"])
            differs = f"{name}: " + ("; ".join(diff) if diff else "none")
        epochs = sorted(g["epochs"])
        rows.append({"study": study, "model": "GAN" if kind == "gan" else "DDPM",
                     "data": f"{label}, {n:,}" if n else str(label),
                     "settings": ", ".join(f"{k} {v}" for k, v in settings),
                     "seeds": ", ".join(str(s) for s in sorted(g["seeds"])),
                     "epochs": str(epochs[0]) if len(epochs) == 1 else f"{epochs[0]}–{epochs[-1]}",
                     "differs from the paper preset": differs})
    return rows


def settings_markdown(results: str | Path) -> str:
    """:func:`settings_rows` as a Markdown table (empty string when there are no runs)."""
    rows = settings_rows(results)
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]).replace("|", "\\|") for k in keys) + " |" for r in rows]
    return with_caption("\n".join(lines), "The settings of every finished run recorded with this book, read from the "
                        "run manifests (a study still running lists the runs it has finished): runs that differ only in "
                        "their seed share a row")
