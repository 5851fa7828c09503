"""``sparkpg doctor``: operator diagnostics of a deployment (never shipped to EMR).

:func:`~diagnostics.run.run_doctor` runs every check; the modules hold one concern each:
:mod:`~diagnostics.results` (results, table and JSON), :mod:`~diagnostics.aws_reader` (every AWS
call), :mod:`~diagnostics.jar`, :mod:`~diagnostics.iam` (with :mod:`~diagnostics.policy`),
:mod:`~diagnostics.applications`, :mod:`~diagnostics.network` (with :mod:`~diagnostics.vpc` and
:mod:`~diagnostics.databases`) and :mod:`~diagnostics.probe_run` (the ``--probe`` job).
"""
