"""The report's experiments: one module per notebook (parameters, run, evaluation), plus profiles.

A notebook calls ``setup(params)`` (validates the parameters against its profile and prints the
banner), then ``run(cfg)`` and the plotting functions of :mod:`repro.plotting`.
"""
