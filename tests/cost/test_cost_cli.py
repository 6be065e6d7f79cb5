"""cfgen cost / cfgen simulate entry points: output, exit codes, one-line errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cfgen.cost.cli import cost_main, simulate_main

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
SMALL = ["--jobs", "2000", "--seed", "3"]


def _one_line_error(capsys: pytest.CaptureFixture[str], rc: int, *needles: str) -> None:
    out, err = capsys.readouterr()
    assert rc == 2
    assert out == ""
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err


# ------------------------------------------------------------------- cost


def test_cost_offline_default_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert cost_main(["--offline"]) == 0
    out = capsys.readouterr().out
    assert "Profile default in us-east-1" in out
    assert "Spot prices: bundled estimate as of" in out
    assert "Blended at 256 vCPUs" in out
    assert "On-Demand fallback CE: up to 16 vCPUs" in out
    assert "saving" in out


@pytest.mark.usefixtures("no_aws_credentials")
def test_cost_without_credentials_says_bundled(capsys: pytest.CaptureFixture[str]) -> None:
    assert cost_main(["--region", "eu-west-1", "--max-vcpus", "64"]) == 0
    out = capsys.readouterr().out
    assert "no AWS credentials" in out
    assert "Blended at 64 vCPUs" in out
    assert "eu-west-1" in out


def test_cost_help_returns_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert cost_main(["--help"]) == 0
    assert "--max-vcpus" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["--region", "mars-1"], ("--region", "mars-1")),
        (["--max-vcpus", "-4"], ("--max-vcpus", "-4")),
        (["--max-vcpus", "many"], ("--max-vcpus", "many")),
        (["--profile", "no-such-profile"], ("no-such-profile",)),
        (["--bogus"], ("--bogus",)),
        (["--memory-gib-per-vcpu", "0"], ("--memory-gib-per-vcpu",)),
    ],
)
def test_cost_bad_input(
    capsys: pytest.CaptureFixture[str], argv: list[str], needles: tuple[str, ...]
) -> None:
    _one_line_error(capsys, cost_main([*argv, "--offline"]), "cfgen cost", *needles)


# --------------------------------------------------------------- simulate


def test_simulate_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    assert simulate_main(SMALL) == 0
    out = capsys.readouterr().out
    assert "hazard" in out
    assert "On-Demand only" in out
    assert "recipe: no checkpoints, 3 attempts, no fallback" in out
    assert "cfgen: checkpoints every 15 min, 5 attempts, fallback" in out


def test_simulate_is_reproducible(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*SMALL, "--interruption", "15-20%", "--duration-hours", "8"]
    assert simulate_main(argv) == 0
    first = capsys.readouterr().out
    assert simulate_main(argv) == 0
    assert capsys.readouterr().out == first


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["--jobs", "-5"], ("--jobs", "-5")),
        (["--jobs", "0"], ("--jobs",)),
        (["--interruption", "30-40%"], ("--interruption", "30-40%")),
        (["--region", "mars-1"], ("--region", "mars-1")),
        (["--distribution", "weibull"], ("--distribution", "weibull")),
        (["--duration-hours", "-1"], ("--duration-hours",)),
        (["--notice-rate", "2"], ("--notice-rate",)),
        (["--vcpus-per-job", "0"], ("--vcpus-per-job",)),
        (["--vcpus-per-job", "999"], ("--vcpus-per-job", "999")),
        (["--band-hours", "0"], ("--band-hours",)),
        (["--chart", "out.svg"], ("--chart", ".png")),
        (["--chart", "/nonexistent-dir/x.png"], ("--chart", "does not exist")),
    ],
)
def test_simulate_bad_input(
    capsys: pytest.CaptureFixture[str], argv: list[str], needles: tuple[str, ...]
) -> None:
    _one_line_error(capsys, simulate_main([*SMALL, *argv]), "cfgen simulate", *needles)


@pytest.mark.skipif(HAS_MATPLOTLIB, reason="checks the message shown without matplotlib")
def test_chart_without_matplotlib_is_one_line_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "chart.png"
    rc = simulate_main([*SMALL, "--chart", str(target)])
    _one_line_error(capsys, rc, "matplotlib is not installed", "cfgen[chart]")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="matplotlib (extra 'chart') is not installed")
def test_chart_writes_a_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "chart.png"
    assert simulate_main([*SMALL, "--chart", str(target), "--chart-jobs", "500"]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [f.name for f in tmp_path.iterdir()] == ["chart.png"]
    assert "chart written to" in capsys.readouterr().out


def _profile(tmp_path: Path, name: str, compute: str) -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'description = "{name} test"\n[compute]\n{compute}\n')
    return str(path)


def test_cost_fargate_profile(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    profile = _profile(tmp_path, "fg", 'platform = "FARGATE"')
    assert cost_main(["--profile", profile, "--offline", "--max-vcpus", "10"]) == 0
    out = capsys.readouterr().out
    # 10 vCPUs x (0.04048 + 2 GB x 0.004445) = 0.49370 $/h On-Demand.
    assert "Fargate 0.49 $/h" in out
    assert "Fargate Spot 0.16 $/h" in out
    assert "Fargate fallback CE" in out


def test_simulate_fargate_profile(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    profile = _profile(tmp_path, "fg", 'platform = "FARGATE"')
    assert simulate_main([*SMALL, "--profile", profile]) == 0
    assert "Spot 0.01627 $/vCPU-h" in capsys.readouterr().out


def test_cost_arm64_profile_with_families(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    profile = _profile(
        tmp_path,
        "arm",
        'architecture = "arm64"\ninstance_types = ["c7g", "m7g.large", "r7g.xlarge"]',
    )
    assert cost_main(["--profile", profile, "--offline", "--region", "eu-west-1"]) == 0
    out = capsys.readouterr().out
    assert "c7g.16xlarge" in out
    assert "on c7g.large" in out


@pytest.mark.parametrize("command", ["cost", "simulate"])
def test_help_works(command: str) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "cfgen", command, "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
