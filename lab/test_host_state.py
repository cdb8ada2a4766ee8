"""lab/host_state.py: the cross-CPU round trip probe builds and measures; bad input exits 2."""
import shutil
import subprocess

import pytest

from lab import host_state


def test_pingpong_builds_and_reports_a_round_trip(tmp_path):
    if not any(shutil.which(c) for c in ("cc", "gcc", "clang")):
        pytest.skip("no C compiler")
    binary = host_state.build_pingpong(tmp_path)
    trip = float(subprocess.run([str(binary)], capture_output=True, text=True, check=True, timeout=60).stdout)
    assert 1 < trip < 1e6  # ns for one round trip of a cache line


def test_missing_exports_exit_2_with_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        host_state.main(["--work", str(tmp_path), "--seconds", "1"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "ours-none-fp32" in err and "onnx-latency" in err
