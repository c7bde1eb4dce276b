"""Multi-process metrics' files (``PROMETHEUS_MULTIPROC_DIR``): what ``gateway serve`` cleans up, and when."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gateway.metrics import forget_dead_processes, prepare_multiprocess_dir


def a_dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    return int(done.stdout)


def test_a_dead_process_loses_its_live_gauges_and_keeps_its_counters(tmp_path: Path) -> None:
    dead, alive = a_dead_pid(), os.getpid()
    for name in (f"gauge_livemax_{dead}.db", f"gauge_livemax_{alive}.db", f"counter_{dead}.db"):
        (tmp_path / name).write_bytes(b"")
    forget_dead_processes(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"counter_{dead}.db", f"gauge_livemax_{alive}.db"]


def test_serve_starts_from_an_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "counter_1.db").write_bytes(b"")
    (tmp_path / "old").mkdir()
    prepare_multiprocess_dir(str(tmp_path))
    assert list(tmp_path.iterdir()) == []
    prepare_multiprocess_dir(str(tmp_path / "new"))
    assert (tmp_path / "new").is_dir()
