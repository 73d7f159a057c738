"""Hub health for the status page: uptime, CPU, memory, disk and board temperature (Linux /proc, /sys)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

THERMAL = Path("/sys/class/thermal")


def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def _meminfo() -> dict[str, int]:
    out = {}
    for line in (_read("/proc/meminfo") or "").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0]) * 1024
    return out


def rss_bytes() -> int | None:
    for line in (_read("/proc/self/status") or "").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


def temperature_c() -> float | None:
    """The SoC temperature where the board has a sensor (a Pi does; most VMs don't)."""
    for zone in sorted(THERMAL.glob("thermal_zone*")):
        raw = _read(zone / "temp")
        if raw and raw.strip().lstrip("-").isdigit():
            return round(int(raw) / 1000, 1)
    return None


class CpuSampler:
    """CPU use between two calls, from /proc/stat (system) and os.times (this process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        fields = (_read("/proc/stat") or "cpu 0 0 0 0").splitlines()[0].split()[1:]
        values = [int(v) for v in fields]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        t = os.times()
        return float(sum(values)), float(idle), t.user + t.system

    def percent(self) -> tuple[float | None, float | None]:
        with self._lock:
            total, idle, proc = self._sample()
            t0, i0, p0 = self._last
            self._last = (total, idle, proc)
        dt = total - t0
        if dt <= 0:
            return None, None
        ticks = os.sysconf("SC_CLK_TCK")
        system = round(100.0 * (1 - (idle - i0) / dt), 1)
        process = round(100.0 * (proc - p0) * ticks / dt * (os.cpu_count() or 1), 1)
        return system, process


def health(data_dir: Path, started: float, cpu: CpuSampler) -> dict[str, Any]:
    mem = _meminfo()
    disk = shutil.disk_usage(data_dir)
    system_cpu, process_cpu = cpu.percent()
    return {
        "uptime_s": int(time.monotonic() - started),
        "system_uptime_s": int(float((_read("/proc/uptime") or "0").split()[0])),
        "cpu_percent": system_cpu,
        "process_cpu_percent": process_cpu,
        "load_1m": os.getloadavg()[0],
        "memory_rss_bytes": rss_bytes(),
        "memory_total_bytes": mem.get("MemTotal"),
        "memory_available_bytes": mem.get("MemAvailable"),
        "disk_total_bytes": disk.total,
        "disk_free_bytes": disk.free,
        "temperature_c": temperature_c(),
    }
