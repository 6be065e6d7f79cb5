"""Data transfer in the cost model: NAT against VPC endpoints, figures computed by hand.

us-east-1 (bundled table): NAT 0.045 $/h and 0.045 $/GB; interface endpoints
0.01 $/h per AZ; S3 gateway endpoint free; 730 h a month, 2 AZs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cfgen.config import ConfigError, load_profile
from cfgen.cost import network
from cfgen.cost.cli import cost_main, simulate_main
from cfgen.cost.prices import PriceError


def test_ten_tb_through_nat_against_endpoints_ec2() -> None:
    c = network.compare("us-east-1", 10_240, interface_endpoints=6)
    # NAT: 2 gateways x 730 h x 0.045 = 65.70; 10240 GB x 0.045 = 460.80.
    assert c.nat.hourly == pytest.approx(65.70)
    assert c.nat.per_gb == pytest.approx(460.80)
    assert c.nat.total == pytest.approx(526.50)
    # Endpoints: 6 x 2 AZs x 730 h x 0.01 = 87.60; S3 via the gateway: 0.
    assert c.endpoints.hourly == pytest.approx(87.60)
    assert c.endpoints.per_gb == 0
    # Break-even: (87.60 - 65.70) / 0.045 = 486.67 GB a month.
    assert c.break_even_gb == pytest.approx(486.666, abs=1e-2)


def test_fargate_needs_three_endpoints_and_beats_nat_at_any_volume() -> None:
    c = network.compare("us-east-1", 0, interface_endpoints=3)
    # 3 x 2 x 730 x 0.01 = 43.80 < 65.70 of two NAT gateways.
    assert c.endpoints.total == pytest.approx(43.80)
    assert c.break_even_gb == 0


def test_eu_west_1_rates_and_three_azs() -> None:
    c = network.compare("eu-west-1", 1000, interface_endpoints=6, azs=3)
    # NAT: 3 x 730 x 0.048 = 105.12 + 1000 x 0.048 = 48 -> 153.12.
    assert c.nat.total == pytest.approx(153.12)
    # Endpoints: 6 x 3 x 730 x 0.011 = 144.54.
    assert c.endpoints.total == pytest.approx(144.54)
    # (144.54 - 105.12) / 0.048 = 821.25 GB.
    assert c.break_even_gb == pytest.approx(821.25)


def test_unknown_region_is_a_price_error() -> None:
    with pytest.raises(PriceError, match="region='ap-south-1'"):
        network.rates("ap-south-1")


def test_table_names_its_source_and_date() -> None:
    table = network.network_table()
    assert table["as_of"] and "aws.amazon.com/vpc/pricing" in table["source"]
    assert "Estimates" in table["source"]


def test_cost_cli_prints_both_modes_and_the_break_even(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cost_main(["--offline", "--data-gb-per-month", "10240"]) == 0
    out = capsys.readouterr().out
    assert "Data transfer, 10240 GB a month" in out and "ESTIMATE" in out
    assert "-> 526.50 $/month" in out
    assert "-> 87.60 $/month" in out
    assert "this profile (public): 0.00 $/month" in out
    assert "break-even: above 487 GB a month" in out


def test_cost_cli_endpoints_profile_is_charged_its_endpoint_hours(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cost_main(["--offline", "--profile", "endpoints", "--data-gb-per-month", "5"]) == 0
    assert "this profile (endpoints): 87.60 $/month" in capsys.readouterr().out


def test_cost_cli_without_the_option_prints_no_transfer_block(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cost_main(["--offline"]) == 0
    assert "Data transfer" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--data-gb-per-month", "-1"], "--data-gb-per-month: -1 must be 0 or more"),
        (["--data-gb-per-month", "lots"], "'lots' is not a number"),
    ],
)
def test_cost_cli_bad_volume_is_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    rc = cost_main(["--offline", *argv])
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and err.count("\n") == 1 and needle in err


def test_simulate_reports_the_workload_transfer(capsys: pytest.CaptureFixture[str]) -> None:
    assert simulate_main(["--jobs", "200", "--seed", "1", "--gb-per-job", "2.5"]) == 0
    out = capsys.readouterr().out
    # 200 x 2.5 = 500 GB; through NAT 500 x 0.045 = 22.50 $.
    assert "200 jobs x 2.5 GB = 500 GB" in out
    assert "processing 500 GB x 0.045 $ = 22.50 $" in out
    assert "this profile (public): 0.00 $ for the workload" in out


def test_simulate_bad_gb_per_job_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    rc = simulate_main(["--jobs", "10", "--gb-per-job", "-1"])
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and "--gb-per-job: -1 must be 0 or more" in err


def test_readme_ten_tb_figures_are_what_cfgen_cost_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert cost_main(["--offline", "--data-gb-per-month", "10240"]) == 0
    out = capsys.readouterr().out.splitlines()
    for prefix in ("  nat:", "  endpoints:", "  break-even:"):
        line = next(x for x in out if x.startswith(prefix))
        # The README quotes the line up to the note in parentheses.
        assert line.split(" (")[0] in readme, line


# ------------------------------------------------- the profile's default volume


def _profile(tmp_path: Path, body: str) -> str:
    path = tmp_path / "volume.toml"
    path.write_text('description = "x"\n' + body, encoding="utf-8")
    return str(path)


def test_profile_volume_is_the_default_of_cfgen_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = _profile(
        tmp_path, '[compute]\nnetwork_mode = "nat"\n[cost]\ndata_gb_per_month = 2048\n'
    )
    assert cost_main(["--offline", "--profile", profile]) == 0
    out = capsys.readouterr().out
    assert "Data transfer, 2048 GB a month (cost.data_gb_per_month of the profile)" in out
    # NAT: 65.70 $ of hours + 2048 x 0.045 = 92.16 $ -> 157.86 $.
    assert "this profile (nat): 157.86 $/month" in out


def test_the_option_overrides_the_profile_volume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = _profile(
        tmp_path, '[compute]\nnetwork_mode = "nat"\n[cost]\ndata_gb_per_month = 2048\n'
    )
    assert cost_main(["--offline", "--profile", profile, "--data-gb-per-month", "0"]) == 0
    out = capsys.readouterr().out
    assert "Data transfer, 0 GB a month to and from" in out and "of the profile" not in out
    assert "this profile (nat): 65.70 $/month" in out


def test_the_endpoints_profile_prices_ten_tb_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert load_profile("endpoints").cost.data_gb_per_month == 10240
    assert load_profile("default").cost.data_gb_per_month == 0
    assert cost_main(["--offline", "--profile", "endpoints"]) == 0
    out = capsys.readouterr().out
    assert "Data transfer, 10240 GB a month (cost.data_gb_per_month of the profile)" in out


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "cost.data_gb_per_month=-1: must be 0 or more"),
        ("-0.5", "cost.data_gb_per_month=-0.5: must be 0 or more"),
        ("nan", "cost.data_gb_per_month=nan: must be a finite number of GB"),
        ("inf", "cost.data_gb_per_month=inf: must be a finite number of GB"),
        ('"10 TB"', "cost.data_gb_per_month='10 TB': must be a number"),
        ("true", "cost.data_gb_per_month=True: must be a number"),
    ],
)
def test_a_bad_profile_volume_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    profile = _profile(tmp_path, f"[cost]\ndata_gb_per_month = {value}\n")
    rc = cost_main(["--offline", "--profile", profile])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err


def test_an_unknown_cost_key_names_the_allowed_one(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"cost.data_gb=1: unknown key; allowed here: data_gb_per_month"
    ):
        load_profile(_profile(tmp_path, "[cost]\ndata_gb = 1\n"))
