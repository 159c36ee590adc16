"""The README's two commands are what a fresh machine needs (issue 27: the install pulled the 5.5 GB CUDA torch on a
CPU machine): the daemon's command takes PyTorch's CPU build first and says who should leave that out; `.ci/run`
runs exactly the README's test command."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [c.strip() for c in re.findall(r"```bash\n(.*?)```", text, re.S)]


def test_the_daemon_command_takes_the_cpu_wheel_and_says_when_not_to():
    run = next(c for c in commands() if c.endswith("loopgen serve"))
    steps = [s.strip() for s in run.split("&&")]
    cpu = steps.index("pip install torch --index-url https://download.pytorch.org/whl/cpu")
    assert cpu < steps.index("pip install -e .")  # torch first, so that -e . finds it and pulls no CUDA build
    readme = (ROOT / "README.md").read_text()
    assert "NVIDIA GPU" in readme and "Mac" in readme and "leave out the first `pip install`" in readme


def test_ci_runs_exactly_the_readme_test_command():
    test = next(c for c in commands() if "pytest" in c)
    ci = (ROOT / ".ci" / "run").read_text()
    after = ci.split("# --- the README's test command ---", 1)[1].strip()
    assert test.endswith(after) and test.startswith("python3 -m venv .venv && . .venv/bin/activate")
    assert "python3 -m venv .venv" in ci and ". .venv/bin/activate" in ci
