"""Who ran this: the machine block (:class:`~fizzcheck.results.schema.Machine`) shared by property
and benchmark result files, and the run id both carry.

torch and numpy are imported only inside the functions that collect the machine's details.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import platform
import re
import secrets
import socket
from datetime import datetime, timezone
from functools import cache
from typing import Any

from fizzcheck.results.schema import Gpu, Machine, TorchBuild

__all__ = ["collect_machine", "cpu_model", "machine_block", "new_run_id", "torch_build"]


def new_run_id(now: datetime | None = None) -> str:
    """UTC timestamp plus 4 random hex digits: sorts by time, unique per run.

    ``fizzcheck run`` sets ``$FIZZCHECK_RUN_ID`` for the pytest processes it starts, so that its
    property results, benchmarks and report carry its one run id; it is used when it looks like one.
    """
    given = os.environ.get("FIZZCHECK_RUN_ID", "")
    if now is None and re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{4}", given):
        return given
    now = now or datetime.now(timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(2)}"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _physical_cores() -> int | None:
    try:
        with open("/proc/cpuinfo") as info:
            pairs = set()
            physical = core = None
            for line in info:
                if line.startswith("physical id"):
                    physical = line.split(":", 1)[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":", 1)[1].strip()
                elif not line.strip() and core is not None:
                    pairs.add((physical, core))
                    physical = core = None
            if core is not None:
                pairs.add((physical, core))
            return len(pairs) or None
    except OSError:
        return None


def torch_build() -> TorchBuild:
    """CUDA/cuDNN versions and the BLAS torch was built with."""
    import torch

    config = torch.__config__.show()
    blas = next((name for name in ("MKL", "OpenBLAS", "BLIS", "Accelerate") if name.lower() in config.lower()), None)
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return TorchBuild(
        cuda=torch.version.cuda,
        cudnn=cudnn,
        blas=blas,
        mkl=bool(torch.backends.mkl.is_available()),
        openmp=bool(torch.backends.openmp.is_available()),
    )


def _gpu() -> Gpu | None:
    import torch

    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return Gpu(name=props.name, memory_bytes=int(props.total_memory), capability=f"{props.major}.{props.minor}")


@cache
def _static_machine() -> Machine:
    import numpy
    import torch

    gpu = _gpu()
    cpu = cpu_model()
    identity = "|".join([platform.node(), cpu, str(os.cpu_count()), (gpu.name or "") if gpu else ""])
    return Machine(
        machine_id=hashlib.sha256(identity.encode()).hexdigest()[:16],
        hostname=socket.gethostname(),
        cpu_model=cpu,
        cores_physical=_physical_cores(),
        cores_logical=os.cpu_count(),
        python=platform.python_version(),
        numpy=numpy.__version__,
        torch_version=torch.__version__,
        torch_build=torch_build(),
        torch_threads=None,
        gpu=gpu,
    )


def collect_machine() -> Machine:
    """This machine, as result files record it (the thread count is read now: it is settable)."""
    import torch

    return dataclasses.replace(_static_machine(), torch_threads=torch.get_num_threads())


def machine_block() -> dict[str, Any]:
    """:func:`collect_machine` as the JSON object result files hold."""
    return dataclasses.asdict(collect_machine())
