from pathlib import Path

import pytest

from gate.budgets import load_budgets, propose_budgets
from gate.budgets.model import Attribution, TagRule
from gate.budgets.propose import tidy_count, tidy_size, warn_at_for, write_size

KiB = 1024
MiB = 1024 * 1024

MEASURED = {
    "ACPI.sys": {
        "nonpaged_impacting_bytes": 1_000_000,
        "nonpaged_allocations": 1234,
        "active_code_bytes": 300_000,
    },
    "storport.sys": {"nonpaged_impacting_bytes": 200_000, "paged_impacting_bytes": 90_000},
    "tiny.sys": {"nonpaged_impacting_bytes": 100},
    "(kernel)": {"nonpaged_impacting_bytes": 5_000_000},
}
TOTALS = {"nonpaged_impacting_bytes": 6_300_100, "nonpaged_allocations": 1234}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 4 * KiB),  # never below one page
        (100, 4 * KiB),
        (4097, 5 * KiB),
        (60 * KiB + 1, 61 * KiB),
        (64 * KiB + 1, 68 * KiB),
        (1_200_000, 1172 * KiB),
        (4 * MiB + 1, 4 * MiB + 64 * KiB),
        (100 * MiB + 1, 101 * MiB),
    ],
)
def test_tidy_size(value, expected):
    assert tidy_size(value) == expected


def test_tidy_count_and_write_size():
    assert tidy_count(1480.8) == 1500
    assert tidy_count(95) == 95
    assert tidy_count(0) == 10
    assert write_size(3 * MiB) == "3 MiB"
    assert write_size(4 * MiB + 64 * KiB) == "4160 KiB"
    assert write_size(2 * 1024 * MiB) == "2 GiB"
    assert write_size(1000) == "1000"


def test_proposal_text():
    text = propose_budgets(MEASURED, TOTALS, 0.2, window="0s..30s")
    assert text == (
        "# Budgets proposed by `gate` from measured figures.\n"
        "# Each limit is the measured value plus 20% headroom, rounded up to a\n"
        '# tidy binary size; "*" gets the median of the proposed limits. warn_at is set so that\n'
        "# the traces measured pass with no warning. Review every limit and add owners before\n"
        "# committing. The format is described in docs/budgets.md.\n"
        "version: 1\n"
        'window: "0s..30s"\n'
        "warn_at: 92%\n"
        "drivers:\n"
        '  "*":  # any driver without its own entry\n'
        "    nonpaged_impacting_bytes: 236 KiB\n"
        "    paged_impacting_bytes: 108 KiB\n"
        "    nonpaged_allocations: 1500\n"
        "    active_code_bytes: 352 KiB\n"
        '  "(kernel)":\n'
        "    nonpaged_impacting_bytes: 5888 KiB  # measured 4.77 MiB\n"
        "  acpi.sys:\n"
        "    nonpaged_impacting_bytes: 1172 KiB  # measured 977 KiB\n"
        "    nonpaged_allocations: 1500  # measured 1,234\n"
        "    active_code_bytes: 352 KiB  # measured 293 KiB\n"
        "  storport.sys:\n"
        "    nonpaged_impacting_bytes: 236 KiB  # measured 195 KiB\n"
        "    paged_impacting_bytes: 108 KiB  # measured 87.9 KiB\n"
        "  tiny.sys:\n"
        "    nonpaged_impacting_bytes: 4 KiB  # measured 100 B\n"
        "totals:\n"
        "  nonpaged_impacting_bytes: 7424 KiB  # measured 6.01 MiB\n"
        "  nonpaged_allocations: 1500  # measured 1,234\n"
    )


def test_proposal_is_deterministic():
    reordered = dict(reversed(list(MEASURED.items())))
    assert propose_budgets(MEASURED, TOTALS, 0.25) == propose_budgets(reordered, TOTALS, 0.25)


def test_round_trip_through_the_loader(tmp_path: Path):
    path = tmp_path / "proposed.yaml"
    path.write_text(propose_budgets(MEASURED, TOTALS, 0.2, aggregate="median"), encoding="utf-8")
    budgets = load_budgets([path])

    assert set(budgets.drivers) == {"(kernel)", "acpi.sys", "storport.sys", "tiny.sys"}
    assert budgets.aggregate == "median"
    assert budgets.warn_at == 0.92
    for driver, values in MEASURED.items():
        for metric, measured in values.items():
            limit = budgets.limit_for(driver, metric).value
            assert limit >= measured * 1.2
            assert measured < budgets.warn_at * limit  # the proposal passes its own traces
    assert budgets.limit_for("acpi.sys", "nonpaged_impacting_bytes").value == 1172 * KiB
    assert budgets.limit_for("new.sys", "nonpaged_impacting_bytes").value == 236 * KiB
    assert budgets.limit_for("(total)", "nonpaged_allocations").value == 1500


def test_metrics_filter_and_errors(tmp_path: Path):
    text = propose_budgets(MEASURED, TOTALS, 0.01, metrics=["active_code_bytes"])
    assert "nonpaged_impacting_bytes" not in text
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    budgets = load_budgets([path])
    assert list(budgets.drivers) == ["acpi.sys"]
    assert budgets.totals == {}

    with pytest.raises(ValueError, match="unknown metric"):
        propose_budgets(MEASURED, TOTALS, 0.2, metrics=["npp_bytes"])
    with pytest.raises(ValueError, match="headroom"):
        propose_budgets(MEASURED, TOTALS, -0.1)
    with pytest.raises(ValueError, match="would warn on the traces they came from"):
        propose_budgets(MEASURED, TOTALS, 0.0)


@pytest.mark.parametrize(
    ("headroom", "warn_at"), [(0.2, 0.92), (0.25, 0.9), (0.5, 0.84), (1.0, 0.75), (0.001, 1.0)]
)
def test_warn_at_lies_between_a_measured_figure_and_its_limit(headroom, warn_at):
    assert warn_at_for(headroom) == warn_at
    assert 1 / (1 + headroom) < warn_at_for(headroom) <= 1


def test_the_attribution_measured_with_is_written_and_loads(tmp_path: Path):
    (tmp_path / "pooltag.txt").write_text("Fbk1 - fabrikam.sys - test\n", encoding="utf-8")
    attribution = Attribution(
        skip_modules=("wdf01000.sys",),
        tag_rules=(TagRule("Fbk*", "fabrikam.sys", "b.yaml", 3),),
        pooltag_paths=(Path("pooltag.txt"),),
    )
    text = propose_budgets(MEASURED, TOTALS, 0.2, attribution=attribution)
    assert (
        "attribution:\n"
        "  skip_modules: [wdf01000.sys]\n"
        "  tags:\n"
        '    "Fbk*": fabrikam.sys\n'
        '  pooltag: ["pooltag.txt"]\n'
    ) in text
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = load_budgets([path]).attribution
    assert loaded.skip_modules == ("wdf01000.sys",)
    assert [(r.pattern, r.driver) for r in loaded.tag_rules] == [("Fbk*", "fabrikam.sys")]
    assert loaded.pooltag_paths == (tmp_path / "pooltag.txt",)


def test_nothing_measured_still_loads(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text(propose_budgets({}, {}, 0.2), encoding="utf-8")
    assert load_budgets([path]).drivers == {}
