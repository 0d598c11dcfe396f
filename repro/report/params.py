"""Notebook parameters: profiles and validation.

Each notebook has one papermill ``parameters`` cell whose values default to ``None``, meaning "take
it from the profile". A profile (``configs/profiles.yaml``) is a named set of values:

- ``gpu``: the paper-scale experiment; the default, so that
  ``papermill notebooks/train_gan.ipynb out.ipynb -p epochs 100`` runs the seed report's setting;
- ``cpu``: sized for a 2-core machine (the book's CPU previews);
- ``smoke``: a seconds-long run that checks the notebook end to end. The test configuration
  selects it through ``$REPRO_PROFILE``, and every notebook prints its profile at the top.

Explicit parameters override the profile. :func:`resolve` validates the result before any work
starts and raises one :class:`ParameterError` listing every bad value, its allowed values and the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

__all__ = ["ParameterError", "Rule", "PROFILES", "DEFAULT_PROFILE", "load_profiles", "resolve", "describe"]

PROFILES = ("gpu", "cpu", "smoke")
DEFAULT_PROFILE = "gpu"
PROFILE_NOTES = {
    "gpu": "paper-scale experiment",
    "cpu": "CPU preview sized for 2 cores; not the paper-scale experiment",
    "smoke": "seconds-long check that the notebook runs; its numbers mean nothing",
}


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
    """``{notebook: {profile: {parameter: value}}}`` from ``configs/profiles.yaml``."""
    with open(path or _profiles_path()) as f:
        return yaml.safe_load(f)


def resolve(notebook: str, params: Mapping[str, Any], rules: Mapping[str, Rule],
            constraints: Sequence[Any] = (), profiles: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Merge ``params`` (``None`` = from the profile) over the chosen profile and validate.

    ``params["profile"]`` (or ``$REPRO_PROFILE``, or :data:`DEFAULT_PROFILE`) picks the profile.
    ``constraints`` are functions ``cfg -> str | None`` for rules that tie parameters together
    (e.g. an image size the chosen model supports). Unknown parameter names are errors too.
    """
    profiles = profiles if profiles is not None else load_profiles()
    if notebook not in profiles:
        raise ParameterError(f"no profiles for notebook {notebook!r}; known: {sorted(profiles)}")
    profile = params.get("profile") or os.environ.get("REPRO_PROFILE") or DEFAULT_PROFILE
    if profile not in profiles[notebook]:
        raise ParameterError(f"parameter 'profile' = {profile!r} is not allowed; choose one of "
                             f"{sorted(profiles[notebook])}")
    cfg = dict(profiles[notebook][profile])
    cfg.update({k: v for k, v in params.items() if v is not None and k != "profile"})
    cfg["profile"] = profile
    errors = [f"unknown parameter '{k}'; this notebook takes {sorted(rules)}"
              for k in cfg if k not in rules and k != "profile"]
    errors += [e for k, rule in rules.items() if (e := rule.check(k, cfg.get(k)))]
    if not errors:
        errors += [e for c in constraints if (e := c(cfg))]
    if errors:
        raise ParameterError(f"{notebook}: invalid parameters (profile {profile!r}):\n  - " + "\n  - ".join(errors))
    return cfg


def describe(notebook: str, cfg: Mapping[str, Any]) -> str:
    """The banner a notebook prints first: profile, what it means, and the parameters in force."""
    profile = cfg["profile"]
    lines = [f"{notebook}: profile '{profile}' ({PROFILE_NOTES.get(profile, profile)})"]
    lines += [f"  {k} = {v!r}" for k, v in cfg.items() if k != "profile"]
    return "\n".join(lines)
