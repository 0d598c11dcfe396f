"""Notebook parameters: profiles and validation.

Each notebook has one papermill ``parameters`` cell whose values default to ``None``, meaning "take
it from the profile". A profile (``configs/profiles.yaml``) is a named set of values, written as what
it changes in the notebook's ``defaults`` (each parameter is written once):

- ``gpu``: the paper-scale experiment; the default, so that
  ``papermill notebooks/train_gan.ipynb out.ipynb -p epochs 100`` runs the seed report's setting;
- ``cpu``: sized for a 2-core machine (the book's CPU previews);
- ``smoke``: a seconds-long run that checks the notebook end to end. The test configuration
  selects it through ``$REPRO_PROFILE``, and every notebook prints its profile at the top.

Explicit parameters override the profile. :func:`resolve` validates the result before any work
starts and raises one :class:`ParameterError` listing every bad value, its allowed values and the fix.

:func:`setup` is every notebook's first step, ``experiment.setup(globals())``: each parameter is named
once, in the ``parameters`` cell. It also refuses what papermill lets through: a name injected with
``-p`` that the notebook does not declare (papermill only logs it, and the run would go on with the
profile's value), and the paper-scale ``gpu`` profile on a machine without a GPU, unless ``-p device
cpu`` asks for that explicitly (the message gives the estimated CPU time).
"""

from __future__ import annotations

import ast
import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import yaml

__all__ = ["ParameterError", "Rule", "PROFILES", "DEFAULT_PROFILE", "load_profiles", "resolve", "describe",
           "setup", "setup_for", "fill_from_preset", "injected_parameters"]

PROFILES = ("gpu", "cpu", "smoke")
DEFAULT_PROFILE = "gpu"
PROFILE_NOTES = {
    "gpu": "paper-scale experiment",
    "cpu": "CPU preview sized for 2 cores; not the paper-scale experiment",
    "smoke": "seconds-long check that the notebook runs; its numbers mean nothing",
}


Complete = Callable[[Mapping[str, Any]], dict[str, Any]]


class ParameterError(ValueError):
    """One or more notebook parameters are invalid; the message names each and its allowed values."""


@dataclass(frozen=True)
class Rule:
    """What one parameter may be: a type, optional choices, a lower bound, an existing path."""

    kind: type | tuple[type, ...]
    choices: Sequence[Any] | None = None
    minimum: float | None = None
    exists: bool = False
    optional: bool = False
    help: str = ""

    def check(self, name: str, value: Any) -> str | None:
        if value is None:
            return None if self.optional else f"parameter '{name}' is required ({self.help or self._allowed()})"
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            return f"parameter '{name}' = {value!r} must be {self._allowed()}"
        if self.choices is not None and value not in self.choices:
            return f"parameter '{name}' = {value!r} is not allowed; choose one of {list(self.choices)}"
        if self.minimum is not None and value < self.minimum:
            return f"parameter '{name}' = {value!r} must be >= {self.minimum}"
        if self.exists and not Path(value).exists():
            return f"parameter '{name}' = {value!r}: no such folder or file; {self.help or 'give an existing path'}"
        return None

    def _allowed(self) -> str:
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        s = " or ".join(k.__name__ for k in kinds)
        if self.choices is not None:
            s += f" in {list(self.choices)}"
        if self.minimum is not None:
            s += f" >= {self.minimum}"
        return s


def _profiles_path() -> Path:
    return Path(__file__).resolve().parents[2] / "configs" / "profiles.yaml"


def load_profiles(path: str | os.PathLike | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """``{notebook: {profile: {parameter: value}}}`` from ``configs/profiles.yaml``: each profile's values
    over its notebook's ``defaults``. A profile naming a parameter that ``defaults`` lacks is an error."""
    with open(path or _profiles_path()) as f:
        raw = yaml.safe_load(f)
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    for notebook, entries in raw.items():
        defaults = entries.get("defaults") or {}
        merged[notebook] = {}
        for profile, values in entries.items():
            if profile == "defaults":
                continue
            stray = sorted(set(values or {}) - set(defaults))
            if stray:
                raise ParameterError(f"{path or _profiles_path()}: profile {notebook}.{profile} sets {stray}, "
                                     f"which {notebook}.defaults does not declare; add them there first")
            merged[notebook][profile] = {**defaults, **(values or {})}
    return merged


def resolve(notebook: str, params: Mapping[str, Any], rules: Mapping[str, Rule],
            constraints: Sequence[Any] = (), profiles: Mapping[str, Any] | None = None,
            complete: Complete | None = None) -> dict[str, Any]:
    """Merge ``params`` (``None`` = from the profile) over the chosen profile and validate.

    ``params["profile"]`` (or ``$REPRO_PROFILE``, or :data:`DEFAULT_PROFILE`) picks the profile.
    ``constraints`` are functions ``cfg -> str | None`` for rules that tie parameters together
    (e.g. an image size the chosen model supports). ``complete(cfg) -> cfg`` fills values that are
    ``None`` in both from elsewhere (a trainer preset) before the checks. Unknown parameter names are
    errors too.
    """
    profiles = profiles if profiles is not None else load_profiles()
    if notebook not in profiles:
        raise ParameterError(f"no profiles for notebook {notebook!r}; known: {sorted(profiles)}")
    profile, origin = profile_choice(params)
    if profile not in profiles[notebook]:
        raise ParameterError(f"parameter 'profile' = {profile!r}{origin} is not allowed; choose one of "
                             f"{sorted(profiles[notebook])}")
    cfg = dict(profiles[notebook][profile])
    cfg.update({k: v for k, v in params.items() if v is not None and k != "profile"})
    cfg["profile"] = profile
    if complete is not None:
        cfg = complete(cfg)
    errors = [unknown_parameter(k, rules) for k in cfg if k not in rules and k != "profile"]
    errors += [e for k, rule in rules.items() if (e := rule.check(k, cfg.get(k)))]
    if not errors:
        errors += [e for c in constraints if (e := c(cfg))]
    if errors:
        raise ParameterError(f"{notebook}: invalid parameters (profile {profile!r}{origin}):\n  - "
                             + "\n  - ".join(errors))
    return cfg


def profile_choice(params: Mapping[str, Any]) -> tuple[str, str]:
    """The profile in force and where it came from (``""`` for the parameter, else a note for messages)."""
    if params.get("profile"):
        return params["profile"], ""
    if os.environ.get("REPRO_PROFILE"):
        return os.environ["REPRO_PROFILE"], " (from $REPRO_PROFILE)"
    return DEFAULT_PROFILE, " (the default)"


def unknown_parameter(name: str, rules: Mapping[str, Rule]) -> str:
    """"unknown parameter 'epoch'; did you mean 'epochs'?", with the names the notebook takes."""
    close = difflib.get_close_matches(name, [*rules, "profile"], n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown parameter '{name}'; {hint}this notebook takes {sorted([*rules, 'profile'])}"


def injected_parameters(namespace: Mapping[str, Any]) -> list[str]:
    """Names papermill assigned in its injected cell (source starting "# Parameters"), read from the
    notebook's input history ``In``; empty outside a notebook."""
    history = namespace.get("In")
    if not isinstance(history, (list, tuple)):
        return []
    names: list[str] = []
    for source in history:
        if not isinstance(source, str) or not source.lstrip().startswith("# Parameters"):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def setup(notebook: str, namespace: Mapping[str, Any], rules: Mapping[str, Rule],
          constraints: Sequence[Any] = (), profiles: Mapping[str, Any] | None = None,
          complete: Complete | None = None) -> dict[str, Any]:
    """A notebook's parameters validated and merged over its profile; prints the banner.

    ``namespace`` is the notebook's ``globals()`` (the declared names are read from it, and every name
    papermill injected must be one of them) or a plain ``{name: value}`` dict. Refuses the ``gpu``
    profile on a CPU unless ``device`` was given as ``"cpu"`` (see the module docstring).
    """
    declared = [*rules, "profile"]
    if isinstance(namespace.get("In"), (list, tuple)):  # a notebook's globals
        unknown = [n for n in injected_parameters(namespace) if n not in declared]
        if unknown:
            raise ParameterError(f"{notebook}: " + "; ".join(unknown_parameter(n, rules) for n in unknown))
        params = {k: namespace[k] for k in declared if k in namespace}
    else:
        params = dict(namespace)
    cfg = resolve(notebook, params, rules, constraints, profiles, complete)
    _refuse_paper_scale_on_cpu(notebook, params, cfg)
    print(describe(notebook, cfg))
    return cfg


def setup_for(notebook: str, rules: Mapping[str, Rule], constraints: Sequence[Any] = (),
              complete: Complete | None = None) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """The ``setup(globals())`` of one notebook's report module: :func:`setup` with its rules bound."""
    def setup_notebook(namespace: Mapping[str, Any]) -> dict[str, Any]:
        return setup(notebook, namespace, rules, constraints, complete=complete)
    setup_notebook.__doc__ = (f"Validate the {notebook} notebook's parameters (its ``globals()`` or a dict) "
                              "against its profile, print the banner, return the config.")
    return setup_notebook


def fill_from_preset(presets: Mapping[str, Any], names: Sequence[str]) -> Complete:
    """A ``complete`` for :func:`setup_for`: each of ``names`` left at ``None`` takes its value from the
    trainer preset that ``cfg["preset"]`` names (an unknown preset is left for its rule to name)."""
    def from_preset(cfg: Mapping[str, Any]) -> dict[str, Any]:
        if cfg.get("preset") not in presets:
            return dict(cfg)
        base = presets[cfg["preset"]]
        return {**cfg, **{k: getattr(base, k) for k in names if cfg.get(k) is None}}
    from_preset.__doc__ = f"``cfg`` with each of {', '.join(names)} left at ``None`` taken from its preset."
    return from_preset


def _refuse_paper_scale_on_cpu(notebook: str, params: Mapping[str, Any], cfg: Mapping[str, Any]) -> None:
    """The ``gpu`` profile that would run on a CPU needs an explicit ``device="cpu"``."""
    if cfg["profile"] != "gpu" or "device" not in cfg or params.get("device") == "cpu":
        return
    if cfg["device"] != "cpu":
        import torch

        if cfg["device"] != "auto" or torch.cuda.is_available():
            return
    from .cpu_estimate import cpu_estimate

    _, origin = profile_choice(params)
    estimate = cpu_estimate(notebook, cfg) or "no CPU timing of this configuration is on record"
    raise ParameterError(
        f"{notebook}: the 'gpu' profile{origin} is the paper-scale experiment, but it would run on the CPU "
        f"(no CUDA GPU is visible): {estimate}. Use -p profile cpu for the run sized for a CPU, or pass "
        "-p device cpu to run the paper-scale experiment on the CPU anyway.")


def describe(notebook: str, cfg: Mapping[str, Any]) -> str:
    """The banner a notebook prints first: profile, what it means, and the parameters in force."""
    profile = cfg["profile"]
    lines = [f"{notebook}: profile '{profile}' ({PROFILE_NOTES.get(profile, profile)})"]
    lines += [f"  {k} = {v!r}" for k, v in cfg.items() if k != "profile"]
    return "\n".join(lines)
