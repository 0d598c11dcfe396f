"""`pytest --nbval` runs every notebook under the `smoke` profile: seconds-long runs that check each
notebook end to end. Each notebook prints its profile in its first output. The paper-scale default
(`gpu`) is what papermill runs when no profile is given."""

import os

os.environ["REPRO_PROFILE"] = "smoke"
