"""`pytest --nbval` runs every notebook under the `smoke` profile: seconds-long runs that check each
notebook end to end. Each notebook prints its profile in its first output. The paper-scale default
(`gpu`) is what papermill runs when no profile is given.

Numbers in an output are compared with the stored ones to a relative tolerance
(:mod:`repro.report.output_match`): CPUs with different vector units round torch's kernels
differently, and a smoke run carries that into its third significant figure. Everything else in an
output is compared exactly."""

import os
import shutil
import tempfile
from pathlib import Path

from nbval.plugin import IPyNbCell

from repro.report.output_match import reconcile_outputs

os.environ["REPRO_PROFILE"] = "smoke"

_exact = IPyNbCell.compare_outputs


def _within_tolerance(self, test, ref, skip_compare=None):
    return _exact(self, reconcile_outputs(ref, test, clean=self.sanitize), ref, skip_compare)


IPyNbCell.compare_outputs = _within_tolerance


# A smoke run writes into a fresh temporary folder that its process removes when it exits
# (repro.report.runs.study_root); nbval kills its kernels instead, so the folders they made are removed here.
_TMP = Path(tempfile.gettempdir())
_NAMES = [f"{nb.stem}-smoke-*" for nb in Path(__file__).parent.glob("*.ipynb")]


def _smoke_folders() -> set[Path]:
    return {folder for name in _NAMES for folder in _TMP.glob(name)}


_BEFORE = _smoke_folders()


def pytest_sessionfinish(session, exitstatus):
    for folder in _smoke_folders() - _BEFORE:
        shutil.rmtree(folder, ignore_errors=True)
