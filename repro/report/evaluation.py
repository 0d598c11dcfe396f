"""Final evaluation of a trained model, written beside its run as ``evaluation.json``.

The file carries its own manifest (commit, versions, hardware, wall time, parameters), so a number
quoted in the book can be traced to the run that produced it even when it was measured later.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Mapping

from ..io import atomic_write_json
from ..records import environment_info, git_info, utc_now

__all__ = ["evaluate_run", "read_evaluation", "tracked_floor", "evaluation_rows", "EVALUATION"]

EVALUATION = "evaluation.json"


def read_evaluation(run: str | Path) -> dict[str, Any] | None:
    """The final evaluation written beside ``run`` (its manifest and ``result``), or ``None`` if it has none."""
    path = Path(run) / EVALUATION
    return json.loads(path.read_text()) if path.exists() else None
# What each number of an evaluation is, in the order a table shows them.
METRICS = {
    "fid": "FID (Inception pool3)",
    "kid_mean": "KID, mean over subsets",
    "kid_std": "KID, standard deviation over subsets",
    "precision": "precision (k-NN manifold, Inception)",
    "recall": "recall (k-NN manifold, Inception)",
    "density": "density (Inception)",
    "coverage": "coverage (Inception)",
    "fd_classifier": "Fréchet distance, classifier features (not FID)",
    "classifier_score": "classifier score (Inception Score form, classifier)",
    "classes_hit": "classes present",
    "class_kl": "KL(class histogram ‖ uniform)",
}


def evaluate_run(samples: Any, reference: str, out_dir: str | Path, params: Mapping[str, Any], *,
                 name: str = EVALUATION, device: Any = "cpu", **kwargs: Any) -> dict[str, Any]:
    """Run :func:`repro.metrics.evaluate` on ``samples`` and write the result to ``out_dir/name``; when that
    file already holds an evaluation with the same parameters (a notebook re-executed over a finished run),
    its result is returned and nothing is sampled."""
    from ..metrics import evaluate

    path = Path(out_dir) / name
    wanted = json.loads(json.dumps({**dict(params), "reference": reference,
                                    **{k: v for k, v in kwargs.items() if k != "progress"}}))
    if path.exists():
        stored = json.loads(path.read_text())
        if stored.get("params") == wanted:
            return stored["result"]
    start = utc_now()
    t0 = time.perf_counter()
    result = evaluate(samples, reference=reference, device=device, **kwargs)
    record = {
        "kind": "evaluation",
        "git": git_info(),
        "params": wanted,
        **environment_info(device),
        "start_time": start,
        "wall_time_s": round(time.perf_counter() - t0, 3),
        "result": result,
    }
    atomic_write_json(path, record)
    return result


def tracked_floor(dataset: str, image_size: int, n: int, device: Any = "cpu") -> dict[str, Any]:
    """What real training images score on the per-epoch track (``fd_classifier`` and the rest, N = ``n``,
    against the test split): the floor a model's curve is read against
    (:meth:`repro.metrics.ClassifierTracker.real_floor`)."""
    from ..metrics import ClassifierTracker
    from .runs import pick_device

    device = pick_device(device) if isinstance(device, str) else device
    return ClassifierTracker(dataset, n_samples=n, device=device).real_floor(image_size)


def tracked_features(dataset: str) -> str:
    """The feature space of the per-epoch track in words, for captions: the shipped classifier of ``dataset``
    (its record's label and test accuracy; no weights are loaded)."""
    from ..metrics.classifier.network import weights_dir

    path = weights_dir() / f"classifier-{dataset}.json"
    if not path.exists():
        return f"{dataset} classifier (penultimate layer), not Inception"
    record = json.loads(path.read_text())
    accuracy = f", {record['test_accuracy']:.1%} test accuracy" if "test_accuracy" in record else ""
    return f"{record.get('label', dataset)} classifier (penultimate layer{accuracy}), not Inception"


def interval_words(resamples: int) -> str:
    """The interval behind each FID, for captions: ``"a 95% bootstrap interval (30 resamples)"``, or
    ``"no interval (no bootstrap resamples)"`` when there are none."""
    return f"a 95% bootstrap interval ({resamples} resamples)" if resamples > 0 else \
        "no interval (no bootstrap resamples)"


def evaluation_rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """An evaluation's numbers as table rows (metric, value), in :data:`METRICS` order; what it was
    measured on (``n``, ``reference``, ``extractor``) belongs in the table's caption."""
    from .tables import sig

    names = dict(METRICS)
    if result.get("kid_subset_size") is not None and result.get("n") is not None \
            and result["kid_subset_size"] >= result["n"]:
        # one subset of all N samples: its "standard deviation" is float round-off, not a spread
        names.pop("kid_std")
        names["kid_mean"] = f"KID, one subset of all {result['n']:,} samples (no spread to report)"
    return [{"metric": name, "value": sig(result[key])} for key, name in names.items() if key in result]
