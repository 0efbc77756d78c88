"""The native stack's process handling: `down` leaves no process behind, children included."""

from __future__ import annotations

import os
import subprocess
import time

from deploy.native import stack as native


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie awaiting its reaper is gone for our purpose
        return f.read().split()[2] != "Z"


def test_stop_ends_the_process_and_its_children(tmp_path):
    st = native.Stack(run_dir=tmp_path)
    proc = native._spawn(st, "sleeper", ["bash", "-c", "sleep 300 & echo $! > child.pid; wait"], cwd=tmp_path)
    deadline = time.monotonic() + 5
    while not (tmp_path / "child.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int((tmp_path / "child.pid").read_text())
    assert native.running_pid(st, "sleeper") == proc.pid

    native.stop(st, "sleeper", timeout=5)

    assert not _alive(proc.pid) and not _alive(child)
    assert native.running_pid(st, "sleeper") is None
    assert not st.pidfile("sleeper").exists()


def test_stop_of_something_never_started_is_harmless(tmp_path):
    native.stop(native.Stack(run_dir=tmp_path), "ghost")
    subprocess.run(["true"], check=True)
