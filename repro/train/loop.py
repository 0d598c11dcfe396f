"""The life of a training run, shared by the GAN and diffusion trainers.

A trainer builds its networks and hands the loop three callables; the loop owns everything else:

1. :func:`open_run` checks, before any file of the folder is touched, that a new run's folder holds no
   run, or that a resumed one is of the same kind, on the same data (checksum) and has a checkpoint
   written with the same settings; it loads that checkpoint. A refused resume leaves every file as it
   was.
2. :meth:`OpenedRun.epochs` opens the record (new, or resumed with the rows after the checkpoint
   dropped) and runs, per epoch: ``train_epoch(epoch, step) -> (row, step)`` under the training
   precision; ``evaluate(epoch, last) -> dict`` with every global RNG state restored afterwards (so
   measuring never changes what is trained) and in float32; then writes the row, ``best.pt`` when
   ``best_metric`` improved, and ``last.pt``, in that order: a run killed in between resumes from the
   older ``last.pt``, drops the rows written after it and recomputes the epoch identically.
3. The record is marked finished, or failed with the error.

In a process group (:mod:`repro.train.distributed`) rank 0 alone does all of the above that touches the
folder; it shares its verdict, every other rank loads the same ``last.pt``, trains in step with it and
neither evaluates nor writes.

Non-finite losses surface as :class:`NonFiniteLossError` from the trainer's watch; the loop adds the last
good checkpoint to the message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import precision
from ..data import MixtureDataset
from ..io import remove_stale_temporaries
from ..lock import RunLock
from ..records import MANIFEST, Record, RunRecord, load_record
from .checkpoint import CheckpointError, NonFiniteLossError, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .distributed import World, current_world

__all__ = ["OpenedRun", "open_run", "isolated_rng", "FiniteWatch", "config_dict", "pick_device", "training_tensor", "as_config",
           "IGNORED_ON_RESUME"]

TrainEpoch = Callable[[int, int], tuple[dict[str, Any], int]]
Evaluate = Callable[[int, bool], Mapping[str, Any]]


def training_tensor(dataset: Any) -> torch.Tensor:
    """The training data of a data set: uint8 images (N x C x H x W) or float points (N x dim)."""
    return dataset.points if isinstance(dataset, MixtureDataset) else dataset.images


def as_config(cls: type, config: Any) -> Any:
    """``config`` if it is a ``cls`` already, else ``cls(**config)`` with unknown keys named in the error
    (lists given for tuple fields, as JSON stores them, become tuples)."""
    if isinstance(config, cls):
        return config
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(config) - set(fields))
    if unknown:
        raise TypeError(f"unknown {cls.__name__} keys {unknown}; known keys: {sorted(fields)}")
    return cls(**{k: tuple(v) if isinstance(v, list) and isinstance(fields[k].default, tuple) else v
                  for k, v in config.items()})


def config_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as JSON types (tuples become lists): the form manifests and checkpoints store."""
    import json

    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def pick_device(device: torch.device | str | None) -> torch.device:
    """``device``, or CUDA when available, else the CPU."""
    return torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))


@contextlib.contextmanager
def isolated_rng() -> Iterator[None]:
    """Run a block without changing any global RNG state seen by training."""
    state = rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


class FiniteWatch:
    """Finds the first step whose losses are NaN or infinite, reading the device once per check.

    ``observe(step, losses)`` keeps the first bad step and its values on the device; ``check()`` reads
    them (one host sync) and raises :class:`NonFiniteLossError`. Call ``check`` every ``every`` steps and
    at the end of an epoch, before anything is written.
    """

    def __init__(self, names: tuple[str, ...], device: torch.device, every: int) -> None:
        self.names, self.every = names, every
        self.first = torch.full((), -1, dtype=torch.long, device=device)
        self.values = torch.zeros(len(names), dtype=torch.float64, device=device)

    def observe(self, step: int, losses: torch.Tensor) -> None:
        losses = losses.detach().double()
        newly = (self.first < 0) & ~torch.isfinite(losses).all()
        self.first = torch.where(newly, torch.full_like(self.first, step), self.first)
        self.values = torch.where(newly, losses, self.values)
        if self.every > 0 and step % self.every == 0:
            self.check()

    def check(self) -> None:
        step = int(self.first)
        if step >= 0:
            bad = {k: v for k, v in zip(self.names, self.values.tolist()) if not math.isfinite(v)}
            raise NonFiniteLossError(f"non-finite loss at step {step}: {bad}")


@dataclass
class OpenedRun:
    """A validated run folder, locked by this process until it leaves the ``with`` block (rank 0; other
    ranks hold no lock and write nothing)."""

    path: Path
    kind: str
    params: dict[str, Any]
    data: dict[str, Any]
    device: torch.device
    checkpoint: dict[str, Any] | None      # last.pt of a resumed run
    lock: RunLock | None
    done: bool = False                     # a resume of a finished run that asks for no more epochs
    overrides: dict[str, Any] = field(default_factory=dict)
    best_metric: str | None = None
    best_mode: str = "min"
    record: RunRecord | None = field(default=None, repr=False)   # open while epochs() runs
    world: World = World()

    @property
    def start_epoch(self) -> int:
        return 0 if self.checkpoint is None else int(self.checkpoint["epoch"]) + 1

    @property
    def last_path(self) -> Path:
        return self.path / "checkpoints" / "last.pt"

    def __enter__(self) -> "OpenedRun":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.lock is not None:  # a run that never opened its record leaves no trace
            self.lock.release(undo=self.record is None)

    def _open_record(self, fields: Mapping[str, Any]) -> RunRecord:
        if self.checkpoint is None:
            record = RunRecord(self.path, self.kind, self.params, data=self.data, device=self.device)
        else:
            record = RunRecord.resume(self.path)
            record.truncate(self.checkpoint["epoch"])
            fields = {"params": self.params, **fields}
            if self.overrides:
                fields["resume_overrides"] = record.manifest.get("resume_overrides", []) + [self.overrides]
        record.update(**fields)
        return record

    def epochs(self, epochs: int, train_epoch: TrainEpoch, evaluate: Evaluate,
               state: Callable[[], dict[str, Any]], **manifest_fields: Any) -> Record | None:
        """Run epochs ``start_epoch .. epochs - 1`` and return the finished run's record (``None`` on
        ranks other than 0, which only train)."""
        if not self.world.main:  # trains, and takes its share of the evaluation's sampling
            if not self.done:
                step = int((self.checkpoint or {}).get("step", 0))
                for epoch in range(self.start_epoch, epochs):
                    with precision.training(self.device):
                        _, step = train_epoch(epoch, step)
                    with isolated_rng(), precision.evaluation():
                        evaluate(epoch, epoch == epochs - 1)
            return None
        if self.done:
            return load_record(self.path)
        try:
            self.record = record = self._open_record(manifest_fields)
        except BaseException:
            if self.checkpoint is None:  # a fresh run's first manifest goes; the lock's undo tidies the rest
                (self.path / "manifest.json").unlink(missing_ok=True)
            raise
        ckpt = self.checkpoint or {}
        step, best, best_epoch = int(ckpt.get("step", 0)), ckpt.get("best"), ckpt.get("best_epoch")
        row: dict[str, Any] = {}
        try:
            for epoch in range(self.start_epoch, epochs):
                try:
                    with precision.training(self.device):
                        row, step = train_epoch(epoch, step)
                except NonFiniteLossError as err:
                    where = f"; the last good checkpoint is {self.last_path}" if self.last_path.exists() else ""
                    raise NonFiniteLossError(f"{err}{where}. {nonfinite_advice(self.params)}") from None
                with isolated_rng(), precision.evaluation():
                    row.update(evaluate(epoch, epoch == epochs - 1))
                improved = self._improved(row, best)
                if improved:
                    best, best_epoch = float(row[self.best_metric]), epoch
                record.log(row)
                saved = dict(state(), epoch=epoch, step=step, best=best, best_epoch=best_epoch)
                if improved:
                    save_checkpoint(self.path / "checkpoints" / "best.pt", self.kind, self.params, **saved,
                                    best_metric=self.best_metric)
                save_checkpoint(self.last_path, self.kind, self.params, **saved)
        except BaseException as err:
            record.fail(err)
            raise
        summary = {k: v for k, v in row.items() if k != "epoch"}
        if self.best_metric is not None:
            summary.update(best_metric=self.best_metric, best_value=best, best_epoch=best_epoch)
        record.finish(epochs=epochs, steps=step, **summary)
        return load_record(self.path)

    def _improved(self, row: Mapping[str, Any], best: float | None) -> bool:
        if self.best_metric is None:
            return False
        if self.best_metric not in row:
            raise ValueError(f"best_metric {self.best_metric!r} is not among this epoch's columns "
                             f"({', '.join(row)}); pass an evaluate() that returns it or change best_metric")
        value = float(row[self.best_metric])
        if not math.isfinite(value):
            return False
        return best is None or (value < best if self.best_mode == "min" else value > best)


def nonfinite_advice(params: Mapping[str, Any]) -> str:
    """How to continue after a non-finite loss, naming the settings this run's config has."""
    names = [k for k in ("lr", "lr_G", "lr_D", "grad_clip", "bf16") if k in params]
    return ("To continue from it with other settings, resume with the changed values and name them as "
            f"overrides (here: {', '.join(repr(n) for n in names)}; e.g. a lower learning rate"
            + (", gradient clipping" if "grad_clip" in params else "") + " or bf16 off): "
            f"train_*(..., resume=True, overrides={tuple(names[:1])!r}), the notebooks' -p resume True with "
            f"-y 'overrides: [{names[0]}]', or --resume --overrides {names[0]} on the command line. The "
            "manifest records the change. Or start a new run.")

# settings a resume may change without naming them: the length of the run and how it is compiled
IGNORED_ON_RESUME = ("epochs", "compile")


def open_run(out_dir: str | os.PathLike, kind: str, params: Mapping[str, Any], data: Mapping[str, Any], *,
             resume: bool, device: torch.device, overrides: tuple[str, ...] = (),
             best_metric: str | None = None, best_mode: str = "min", world: World | None = None) -> OpenedRun:
    """Lock and validate a run folder for a new run or a resume, changing nothing in it.

    ``overrides`` (resume only) names settings that may differ from the checkpoint's, e.g. a lower
    learning rate after a non-finite loss; the manifest records each change under ``resume_overrides``.
    A resume that asks for no more epochs than a finished run has is a no-op. With several ranks, rank 0
    validates and locks; the others raise its error, or load the checkpoint it validated.
    """
    world = world or current_world()
    if world.size > 1:
        return _open_on_ranks(out_dir, kind, params, data, resume=resume, device=device, overrides=overrides,
                              best_metric=best_metric, best_mode=best_mode, world=world)
    path, params = Path(out_dir), dict(params)
    lock = RunLock(path)
    lock.acquire(record_holder=False)
    try:
        checkpoint, done, changed = _validate(path, kind, params, data, resume, tuple(overrides))
    except BaseException:
        lock.release(undo=True)
        raise
    if not done:
        remove_stale_temporaries(path)
        lock.record_holder()
    return OpenedRun(path, kind, params, dict(data), device, checkpoint, lock, done, changed, best_metric, best_mode)


def _open_on_ranks(out_dir: str | os.PathLike, kind: str, params: Mapping[str, Any], data: Mapping[str, Any], *,
                   world: World, **kw: Any) -> OpenedRun:
    """:func:`open_run` on rank 0; its verdict (an error, or the checkpoint it loaded, sent whole so that
    ranks on other machines need not see the folder) shared with the others."""
    if world.main:
        try:
            run = open_run(out_dir, kind, params, data, world=World(), **kw)
        except BaseException as err:
            world.share(f"{type(err).__name__}: {err}")
            raise
        world.share((run.checkpoint, run.done))
        return dataclasses.replace(run, world=world)
    verdict = world.share(None)
    if isinstance(verdict, str):
        raise RuntimeError(f"rank 0 refused to open the run: {verdict}")
    checkpoint, done = verdict
    return OpenedRun(Path(out_dir), kind, dict(params), dict(data), kw["device"], checkpoint, None, done,
                     best_metric=kw["best_metric"], best_mode=kw["best_mode"], world=world)


def _validate(path: Path, kind: str, params: dict[str, Any], data: Mapping[str, Any], resume: bool,
              overrides: tuple[str, ...]) -> tuple[dict[str, Any] | None, bool, dict[str, Any]]:
    """(checkpoint, nothing to do, the overridden settings) for a run folder, or a clear error."""
    if not resume:
        if overrides:
            raise ValueError("overrides apply to a resumed run only; pass resume=True or drop them")
        if (path / MANIFEST).exists():
            raise FileExistsError(f"{path} already holds a run (manifest.json). Pass resume=True to continue "
                                  "it, or choose another output folder.")
        return None, False, {}
    manifest = load_record(path).manifest
    if manifest.get("kind") != kind:
        raise CheckpointError(f"{path} holds a {manifest.get('kind')!r} run, not a {kind} run")
    stored = manifest.get("data", {}).get("sha256")
    if stored is not None and stored != data.get("sha256"):
        raise CheckpointError(f"{path} was trained on other data (sha256 {stored[:12]}...); resume with the "
                              "same data set or start a new run")
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise ValueError(f"unknown override(s) {unknown}; settings of this run: {sorted(params)}")
    ckpt = load_checkpoint(path / "checkpoints" / "last.pt", kind, params, ignore=IGNORED_ON_RESUME + overrides)
    done, epochs = int(ckpt["epoch"]) + 1, int(params["epochs"])
    if epochs < done:
        raise CheckpointError(f"{path} has already trained {done} epochs; resume with epochs >= {done} "
                              f"(epochs={epochs} would make the record disagree with its rows)")
    changed = {k: {"checkpoint": ckpt["config"].get(k), "now": params[k]} for k in overrides
               if ckpt["config"].get(k) != params[k]}
    finished = epochs == done and manifest.get("status") == "finished"
    return ckpt, finished, ({"epoch": done, **changed} if changed else {})
