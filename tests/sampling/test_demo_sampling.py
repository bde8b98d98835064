"""`tracehouse demo --sampling`: FBaaS load stored whole, then through a policy keeping errors, slow
requests and 5% of the rest; the demo prints what was kept and compares the doctor's answers."""

from __future__ import annotations

import re
from pathlib import Path

from tests.fbaas.helpers import run_cli
from tests.fbaas.test_demo import nothing_listens_on, port_args


def test_demo_with_sampling_shows_what_was_kept_and_the_doctors_answer(tmp_path: Path) -> None:
    args, ports = port_args()
    result = run_cli("demo", "--no-wait", "--sampling", "--data", str(tmp_path / "data"), "--delay-ms", "300",
                     *args, timeout=240)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    section = out[out.index("Tail sampling"):]
    kept = re.search(r"Kept (\d+) of 150 traces \(\d+%\); by their weights they stand for ([\d,]+) requests", section)
    assert kept, section
    assert 1 <= int(kept.group(1)) <= 40
    assert "rest-5pc" in section
    # The planted delay in fizzer dominates every request: the sampled traces must name it too.
    assert re.search(r"\[same\] Where requests wait.*fizzer", section), section
    assert "The doctor's answer is unchanged" in section or "The doctor's answer changed" in section
    assert (tmp_path / "data" / "logs" / "demo-sampling.yaml").exists()
    assert "Traceback" not in out + result.stderr
    assert all(nothing_listens_on(port) for port in ports.values())
