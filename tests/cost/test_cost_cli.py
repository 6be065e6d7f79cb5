"""cfgen cost / cfgen simulate entry points: output, exit codes, one-line errors."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from cfgen.cost.cli import cost_main, simulate_main

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


def test_chart_without_matplotlib_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    # A subprocess in which `import matplotlib` fails (None in sys.modules is
    # Python's own "not importable" marker), since the test extras install it.
    target = tmp_path / "chart.png"
    code = (
        "import sys; sys.modules['matplotlib'] = None;"
        "from cfgen.cost.cli import simulate_main;"
        f"sys.exit(simulate_main({[*SMALL, '--chart', str(target)]!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    (line,) = done.stderr.splitlines()
    assert "matplotlib is not installed" in line and "cfgen[chart]" in line
    assert list(tmp_path.iterdir()) == []


def test_chart_writes_a_png_that_is_not_blank(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # matplotlib is in the test extras: this test never skips (issue 14 item 8).
    import matplotlib.image

    target = tmp_path / "chart.png"
    assert simulate_main([*SMALL, "--chart", str(target), "--chart-jobs", "500"]) == 0
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1210, 462)  # figsize 11 x 4.2 inches at 110 dpi
    assert 20_000 < len(data) < 2_000_000
    pixels = matplotlib.image.imread(str(target))
    assert pixels.shape[:2] == (height, width)
    rgb = pixels[..., :3].reshape(-1, 3)
    assert (rgb < 0.5).any(axis=1).mean() > 0.005  # lines, text and axes drawn in ink
    assert len({tuple(p) for p in rgb[:: max(1, len(rgb) // 50_000)].round(2)}) > 20  # colours
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


# ------------------------------------------------------- documented upper bounds (issue 14)


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["--seed", "-1"], ("seed", "-1", "between 0 and 4294967295")),
        (["--jobs", "1000000000000"], ("jobs", "between 1 and 1000000")),
        (["--jobs", "1000001"], ("jobs", "between 1 and 1000000")),
        (["--chart-jobs", "100001"], ("--chart-jobs", "between 1 and 100000")),
        (["--duration-hours", "inf"], ("--duration-hours", "'inf' must be a finite number")),
        (["--duration-hours", "nan"], ("--duration-hours", "finite")),
        (["--duration-hours", "337"], ("--duration-hours", "between 0 and 336")),
        (["--cv", "1e400"], ("cv", "finite")),
        (["--band-hours", "inf"], ("finite",)),
        (["--max-vcpus", "99999999999999999999"], ("--max-vcpus", "between 1 and 100000")),
        (["--grace-seconds", "inf"], ("finite",)),
    ],
)
def test_simulate_bounds(
    capsys: pytest.CaptureFixture[str], argv: list[str], needles: tuple[str, ...]
) -> None:
    _one_line_error(capsys, simulate_main(["--jobs", "100", *argv]), "cfgen simulate", *needles)


def test_simulate_at_the_job_bound_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from cfgen.cost.simulate import MAX_JOBS

    assert simulate_main(["--jobs", str(MAX_JOBS), "--duration-hours", "1"]) == 0
    assert f"Workload: {MAX_JOBS} jobs" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["--max-vcpus", "99999999999999999999"], ("--max-vcpus", "between 1 and 100000")),
        (["--max-vcpus", "0"], ("--max-vcpus",)),
        (["--memory-gib-per-vcpu", "inf"], ("--memory-gib-per-vcpu", "finite")),
    ],
)
def test_cost_bounds(
    capsys: pytest.CaptureFixture[str], argv: list[str], needles: tuple[str, ...]
) -> None:
    _one_line_error(capsys, cost_main(["--offline", *argv]), "cfgen cost", *needles)


def test_cost_names_a_non_aws_endpoint_and_never_calls_it_live(tmp_path: Path) -> None:
    # The emulator's environment left exported (issue 14): AWS_ENDPOINT_URL at
    # 127.0.0.1 with dummy credentials. Port 9 (discard): nothing may be asked.
    env = {
        "PATH": os.environ["PATH"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "CFGEN_CACHE_DIR": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "cfgen", "cost"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    spot = next(line for line in done.stdout.splitlines() if line.startswith("Spot prices:"))
    assert "http://127.0.0.1:9 is not AWS's" in spot
    assert "live" not in done.stdout.lower()
    assert "lookup failed" not in spot  # not even tried
