from pathlib import Path

from hub import sysinfo


def test_health_reads_the_machine(tmp_path: Path) -> None:
    cpu = sysinfo.CpuSampler()
    sum(i * i for i in range(200_000))  # some CPU between the two samples
    h = sysinfo.health(tmp_path, started=0.0, cpu=cpu)
    assert h["memory_rss_bytes"] and h["memory_rss_bytes"] > 1_000_000
    assert h["memory_total_bytes"] >= h["memory_available_bytes"] > 0
    assert h["disk_total_bytes"] >= h["disk_free_bytes"] > 0
    assert h["uptime_s"] >= 0 and h["system_uptime_s"] > 0
    assert h["cpu_percent"] is None or 0 <= h["cpu_percent"] <= 100


def test_temperature_from_a_thermal_zone(tmp_path: Path, monkeypatch) -> None:
    zone = tmp_path / "thermal_zone0"
    zone.mkdir()
    (zone / "temp").write_text("48312\n")  # millidegrees, as a Pi's SoC reports
    monkeypatch.setattr(sysinfo, "THERMAL", tmp_path)
    assert sysinfo.temperature_c() == 48.3
    monkeypatch.setattr(sysinfo, "THERMAL", tmp_path / "none")
    assert sysinfo.temperature_c() is None
