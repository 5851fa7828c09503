"""Driver and executor sizes that fit the application's pre-initialised workers (the warm pool).

A job uses pre-initialised workers only when its driver and executor containers fit them; with
EMR Serverless' defaults they do not, so the job gets on-demand workers while the warm pool bills.
:func:`capacity_conf` turns GetApplication's ``initialCapacity`` (or ``spark.emr_initial_capacity``
in the settings, the same shape) into the Spark properties that fit. Pure.

Memory: Spark asks for ``memory + memoryOverhead`` per container, and the overhead defaults to 10%
of the memory, at least 384 MB (EMR Serverless User Guide, "Understanding application behavior",
section "Supported worker configurations": https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/app-behavior.html).
So ``spark.*.memory`` is the worker's memory divided by 1.1 (and at least 384 MB below it).

>>> capacity_conf({"DRIVER": {"workerCount": 1, "workerConfiguration":
...     {"cpu": "2 vCPU", "memory": "4 GB", "disk": "20 GB"}}})["spark.driver.memory"]
'3712m'
"""

from __future__ import annotations

import re
from typing import Any, Dict, Mapping, Optional

from connectors.errors import SettingsError

#: Spark's default memory overhead: 10% of the container memory, at least this many MB.
MIN_OVERHEAD_MB = 384
OVERHEAD_FACTOR = 0.10

_WORKER_TYPES = {"driver": "driver", "executor": "executor"}
_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


def parse_quantity(value: Any, field: str, units: Mapping[str, float]) -> float:
    """``"4 GB"`` -> ``4 * units["gb"]``; a clear error naming ``field`` for anything else."""
    match = _QUANTITY.match(str(value))
    unit = match.group(2).lower() if match else ""
    if not match or unit not in units:
        raise SettingsError(
            f"initial capacity {field} {value!r}: expected a number with one of the units "
            f"{', '.join(sorted(u for u in units if u)) or '(none)'}, as GetApplication returns "
            "(e.g. cpu '2 vCPU', memory '4 GB', disk '20 GB')"
        )
    return float(match.group(1)) * units[unit]


def heap_mb(container_mb: int) -> int:
    """The ``spark.*.memory`` (MB) whose container (memory + default overhead) fits ``container_mb``.

    >>> heap_mb(8192)
    7447
    """
    return int(min(container_mb / (1 + OVERHEAD_FACTOR), container_mb - MIN_OVERHEAD_MB))


def capacity_conf(initial_capacity: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    """``spark.{driver,executor}.{cores,memory}`` and ``spark.emr-serverless.*.disk`` for the workers.

    Worker types other than driver and executor are ignored; an empty or missing capacity gives {}.
    """
    conf: Dict[str, str] = {}
    for kind, config in (initial_capacity or {}).items():
        role = _WORKER_TYPES.get(str(kind).lower())
        if role is None:
            continue
        worker = (config or {}).get("workerConfiguration") or {}
        if "cpu" in worker:
            cores = parse_quantity(worker["cpu"], f"{kind}.cpu", {"": 1, "vcpu": 1})
            conf[f"spark.{role}.cores"] = str(int(cores))
        if "memory" in worker:
            memory = parse_quantity(
                worker["memory"], f"{kind}.memory", {"gb": 1024, "mb": 1, "": 1024}
            )
            conf[f"spark.{role}.memory"] = f"{heap_mb(int(memory))}m"
        if worker.get("disk"):
            disk = parse_quantity(worker["disk"], f"{kind}.disk", {"gb": 1, "": 1})
            conf[f"spark.emr-serverless.{role}.disk"] = f"{int(disk)}G"
    return conf
