from datetime import date
from pathlib import Path

import pytest

from gate.budgets import BudgetSet, load_budgets
from gate.budgets.loader import tag_pattern_is_valid
from gate.errors import BudgetError, GateError

FULL = """\
version: 1
window: "0s..30s"
aggregate: median
warn_at: 80%
baseline:
  tolerance_percent: 10%
  tolerance_min_bytes: 64 KiB
unbudgeted: fail
attribution:
  skip_modules: [WDF01000.sys]
  tags:
    "Fbk*": Fabrikam.sys
    "Ab?c": contoso.sys
  pooltag: pooltag.txt
drivers:
  "*":
    nonpaged_impacting_bytes: 256 KiB
  ACPI.sys:
    owner: platform-team
    nonpaged_impacting_bytes: 1.5 MiB
    nonpaged_allocations: 12_000
    active_code_bytes: 1048576
    warn_at: 90%
    baseline: {tolerance_percent: 5%}
totals:
  nonpaged_impacting_bytes: 24 MiB
waivers:
  - driver: acpi.sys
    metric: nonpaged_impacting_bytes
    reason: known leak in the ACPI table cache
    expires: 2025-06-30
    owner: platform-team
    issue: 1234
  - driver: storport.sys
    reason: "new queue depth, budget under review"
    expires: "2025-12-31"
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(paths: list[Path]) -> list[str]:
    with pytest.raises(BudgetError) as caught:
        load_budgets(paths, today=date(2025, 7, 1))
    return caught.value.problems


def one_problem(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, "b.yaml", text)
    found = problems([path])
    assert len(found) == 1, found
    return found[0].replace(f"{tmp_path.as_posix()}/", "")


# --- a valid file -------------------------------------------------------------------------------


def test_full_example_loads(tmp_path):
    write(tmp_path, "pooltag.txt", "Fbk1 - fabrikam.sys - Fabrikam buffers\n")
    path = write(tmp_path, "platform.yaml", FULL)
    budgets = load_budgets([path], today=date(2025, 7, 1))
    name = path.as_posix()

    assert budgets.files == (name,)
    assert budgets.window == (0.0, 30.0)
    assert budgets.aggregate == "median"
    assert budgets.warn_at == 0.8
    assert budgets.tolerance_percent == pytest.approx(0.10)
    assert budgets.tolerance_min_bytes == 65536
    assert budgets.unbudgeted == "fail"
    assert budgets.attribution.skip_modules == ("wdf01000.sys",)
    assert [(r.pattern, r.driver, r.line) for r in budgets.attribution.tag_rules] == [
        ("Fbk*", "fabrikam.sys", 12),
        ("Ab?c", "contoso.sys", 13),
    ]
    assert budgets.attribution.pooltag_paths == (tmp_path / "pooltag.txt",)

    acpi = budgets.drivers["acpi.sys"]
    assert (acpi.owner, acpi.file, acpi.line) == ("platform-team", name, 18)
    assert {m: limit.value for m, limit in acpi.limits.items()} == {
        "nonpaged_impacting_bytes": 1_572_864,
        "nonpaged_allocations": 12_000,
        "active_code_bytes": 1_048_576,
    }
    limit = acpi.limits["nonpaged_impacting_bytes"]
    assert (limit.file, limit.line, limit.column) == (name, 20, 5)
    assert acpi.warn_at == 0.9
    assert acpi.tolerance_percent == pytest.approx(0.05)
    assert acpi.tolerance_min_bytes == 65536  # not overridden: the run-wide value

    assert budgets.default is not None
    assert budgets.default.limits["nonpaged_impacting_bytes"].value == 262_144
    assert budgets.totals["nonpaged_impacting_bytes"].value == 24 * 2**20
    assert budgets.limit_for("(total)", "nonpaged_impacting_bytes").line == 26


def test_defaults_when_settings_are_left_out(tmp_path):
    path = write(tmp_path, "a.yaml", "drivers:\n  acpi.sys:\n    nonpaged_impacting_bytes: 1 MiB\n")
    budgets = load_budgets([path])
    assert budgets.window is None
    assert budgets.aggregate == "max"
    assert budgets.warn_at == 0.8
    assert (budgets.tolerance_percent, budgets.tolerance_min_bytes) == (0.10, 65536)
    assert budgets.unbudgeted == "warn"
    assert budgets.default is None
    assert budgets.drivers["acpi.sys"].warn_at == 0.8


def test_budget_for_uses_own_entry_then_default(tmp_path):
    write(tmp_path, "pooltag.txt", "")
    budgets = load_budgets([write(tmp_path, "a.yaml", FULL)])
    assert budgets.budget_for("ACPI.SYS").driver == "acpi.sys"
    assert budgets.budget_for("storport.sys").driver == "*"
    assert budgets.budget_for("storport.sys").is_default
    assert budgets.limit_for("storport.sys", "nonpaged_impacting_bytes").value == 262_144
    # An own entry replaces the default: what it leaves out is not limited.
    assert budgets.limit_for("acpi.sys", "paged_impacting_bytes") is None
    assert budgets.limit_for("storport.sys", "active_code_bytes") is None
    assert budgets.tolerance_for("acpi.sys") == (pytest.approx(0.05), 65536)
    assert budgets.warn_at_for("storport.sys") == 0.8


def test_without_default_an_unknown_driver_has_no_budget(tmp_path):
    path = write(tmp_path, "a.yaml", "drivers:\n  acpi.sys: {nonpaged_impacting_bytes: 1 MiB}\n")
    budgets = load_budgets([path])
    assert budgets.budget_for("storport.sys") is None
    assert budgets.limit_for("storport.sys", "nonpaged_impacting_bytes") is None
    assert not budgets.has_default


def test_empty_budget_set():
    budgets = BudgetSet.empty(today=date(2025, 1, 1))
    assert budgets.files == ()
    assert budgets.budget_for("acpi.sys") is None
    assert budgets.limit_for("(total)", "nonpaged_impacting_bytes") is None
    assert budgets.warn_at == 0.8
    assert load_budgets([]).drivers == {}


def test_waivers_active_and_expired(tmp_path):
    write(tmp_path, "pooltag.txt", "")
    path = write(tmp_path, "a.yaml", FULL)
    before = load_budgets([path], today=date(2025, 6, 30))
    after = load_budgets([path], today=date(2025, 7, 1))

    acpi = before.waivers[0]
    assert (acpi.driver, acpi.metric, acpi.expires) == (
        "acpi.sys",
        "nonpaged_impacting_bytes",
        date(2025, 6, 30),
    )
    assert (acpi.owner, acpi.issue, acpi.line) == ("platform-team", "1234", 28)
    assert not acpi.is_expired(date(2025, 6, 30))  # valid through its last day
    assert acpi.is_expired(date(2025, 7, 1))

    assert before.active_waiver("acpi.sys", "nonpaged_impacting_bytes") is acpi
    assert after.active_waiver("acpi.sys", "nonpaged_impacting_bytes") is None
    # Expired waivers are kept so that reports can say they waive nothing.
    assert after.waivers_for("acpi.sys", "nonpaged_impacting_bytes") == (after.waivers[0],)
    # A waiver without a metric covers every metric of its driver.
    storport = after.active_waiver("storport.sys", "active_code_bytes")
    assert storport is not None and storport.metric is None
    assert after.active_waiver("acpi.sys", "active_code_bytes") is None


def test_merge_keys_and_extension_keys(tmp_path):
    text = """\
x-storage: &storage {owner: storage-team, nonpaged_impacting_bytes: 1 MiB}
drivers:
  storport.sys: {<<: *storage, nonpaged_impacting_bytes: 2 MiB}
  stornvme.sys:
    <<: *storage
"""
    budgets = load_budgets([write(tmp_path, "a.yaml", text)])
    assert budgets.drivers["storport.sys"].owner == "storage-team"
    assert budgets.limit_for("storport.sys", "nonpaged_impacting_bytes").value == 2 * 2**20
    assert budgets.limit_for("stornvme.sys", "nonpaged_impacting_bytes").value == 2**20


def test_files_merge_and_same_settings_agree(tmp_path):
    a = write(tmp_path, "a.yaml", 'window: "0s..30s"\ndrivers:\n  a.sys: {owner: x}\n')
    b = write(tmp_path, "b.yaml", "window: 0s..30s\ndrivers:\n  b.sys: {owner: y}\n")
    waivers = write(
        tmp_path, "waivers.yaml", "waivers:\n  - {driver: a.sys, reason: r, expires: 2030-01-01}\n"
    )
    budgets = load_budgets([a, b, waivers])
    assert list(budgets.drivers) == ["a.sys", "b.sys"]
    assert budgets.window == (0.0, 30.0)
    assert len(budgets.waivers) == 1


def test_load_budgets_expands_folders(tmp_path):
    write(tmp_path, "b.yaml", "drivers:\n  b.sys: {owner: y}\n")
    write(tmp_path, "a.yml", "drivers:\n  a.sys: {owner: x}\n")
    write(tmp_path, "notes.txt", "not a budget file")
    budgets = load_budgets([tmp_path, tmp_path / "a.yml"])
    assert budgets.files == ((tmp_path / "a.yml").as_posix(), (tmp_path / "b.yaml").as_posix())


# --- one problem each ---------------------------------------------------------------------------


def test_yaml_syntax_error(tmp_path):
    text = "drivers:\n  acpi.sys:\n    nonpaged_impacting_bytes: [1 MiB\n"
    assert one_problem(tmp_path, text) == (
        "b.yaml:4:1: YAML syntax error: expected ',' or ']', but got '<stream end>'"
    )


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert problems([missing]) == [f"{missing.as_posix()}: no such file"]


def test_empty_file(tmp_path):
    assert one_problem(tmp_path, "# nothing yet\n") == (
        "b.yaml:1:1: the file is empty: expected a mapping with 'drivers'"
    )


def test_top_level_not_a_mapping(tmp_path):
    assert one_problem(tmp_path, "- acpi.sys\n") == (
        "b.yaml:1:1: the top level must be a mapping with keys such as 'drivers', found a YAML list"
    )


def test_unknown_top_level_key(tmp_path):
    assert one_problem(tmp_path, "drivers: {}\ntotal:\n  nonpaged_impacting_bytes: 1 MiB\n") == (
        "b.yaml:2:1: key 'total': unknown key; did you mean 'totals'? allowed: version, window, "
        "aggregate, warn_at, baseline, unbudgeted, attribution, symbols, drivers, totals, waivers"
    )


def test_unknown_driver_key(tmp_path):
    text = "drivers:\n  acpi.sys:\n    ownr: platform\n"
    assert one_problem(tmp_path, text) == (
        "b.yaml:3:5: key 'drivers.acpi.sys.ownr': unknown key; did you mean 'owner'? metrics: "
        "nonpaged_impacting_bytes, paged_impacting_bytes, nonpaged_transient_peak_bytes, "
        "nonpaged_peak_outstanding_bytes, nonpaged_allocated_bytes, nonpaged_allocations, "
        "active_code_bytes; other keys: owner, warn_at, baseline"
    )


def test_unknown_metric(tmp_path):
    text = "drivers:\n  acpi.sys:\n    nonpaged_bytes: 1 MiB\n"
    assert one_problem(tmp_path, text) == (
        "b.yaml:3:5: key 'drivers.acpi.sys.nonpaged_bytes': unknown metric; did you mean "
        "'nonpaged_impacting_bytes'? metrics: nonpaged_impacting_bytes, paged_impacting_bytes, "
        "nonpaged_transient_peak_bytes, nonpaged_peak_outstanding_bytes, "
        "nonpaged_allocated_bytes, nonpaged_allocations, active_code_bytes; "
        "other keys: owner, warn_at, baseline"
    )


def test_unknown_total_metric(tmp_path):
    text = "totals:\n  paged_bytes: 1 MiB\n"
    assert one_problem(tmp_path, text) == (
        "b.yaml:2:3: key 'totals.paged_bytes': unknown metric; did you mean "
        "'paged_impacting_bytes'? allowed: nonpaged_impacting_bytes, paged_impacting_bytes, "
        "nonpaged_transient_peak_bytes, nonpaged_peak_outstanding_bytes, "
        "nonpaged_allocated_bytes, nonpaged_allocations, active_code_bytes"
    )


def test_ambiguous_unit(tmp_path):
    text = "drivers:\n  acpi.sys:\n    nonpaged_impacting_bytes: 1.5 MB\n"
    assert one_problem(tmp_path, text) == (
        "b.yaml:3:5: key 'drivers.acpi.sys.nonpaged_impacting_bytes': '1.5 MB' is ambiguous "
        "(WPA's \"KB\" means 1024 bytes): write '1.5 MiB' for 1,572,864 bytes or the plain "
        "number of bytes"
    )


def test_negative_limit(tmp_path):
    text = "drivers:\n  acpi.sys:\n    active_code_bytes: -4096\n"
    assert one_problem(tmp_path, text) == (
        "b.yaml:3:5: key 'drivers.acpi.sys.active_code_bytes': '-4096' is negative: a size is "
        "0 bytes or more"
    )


def test_list_where_a_size_is_expected(tmp_path):
    text = "drivers:\n  acpi.sys:\n    paged_impacting_bytes: [1 MiB, 2 MiB]\n"
    assert one_problem(tmp_path, text) == (
        "b.yaml:3:5: key 'drivers.acpi.sys.paged_impacting_bytes': expected a size such as "
        "'512 KiB' or 4096, found a YAML list"
    )


def test_null_where_a_size_is_expected(tmp_path):
    text = "totals:\n  nonpaged_impacting_bytes:\n"
    assert one_problem(tmp_path, text) == (
        "b.yaml:2:3: key 'totals.nonpaged_impacting_bytes': expected a size such as "
        "'512 KiB' or 4096, found nothing (null)"
    )


def test_count_metric_refuses_a_size(tmp_path):
    text = "drivers:\n  acpi.sys:\n    nonpaged_allocations: 1 KiB\n"
    assert one_problem(tmp_path, text) == (
        "b.yaml:3:5: key 'drivers.acpi.sys.nonpaged_allocations': '1 KiB' is a size, but this "
        "metric is a count of allocations: write a plain integer"
    )


def test_driver_entry_must_be_a_mapping(tmp_path):
    assert one_problem(tmp_path, "drivers:\n  acpi.sys: 1 MiB\n") == (
        "b.yaml:2:3: key 'drivers.acpi.sys': expected a mapping, found '1 MiB'"
    )


def test_driver_name_with_a_path(tmp_path):
    text = "drivers:\n  'C:\\Windows\\acpi.sys': {owner: x}\n"
    assert one_problem(tmp_path, text) == (
        "b.yaml:2:3: key 'drivers.c:\\windows\\acpi.sys': write the image file name only, "
        "e.g. 'acpi.sys', not a path to it"
    )


def test_duplicate_key_in_one_mapping(tmp_path):
    text = "drivers:\n  acpi.sys: {owner: a}\n  ACPI.sys: {owner: b}\n"
    assert one_problem(tmp_path, text) == (
        "b.yaml:3:3: key 'drivers.acpi.sys': duplicate key: first defined at line 2:3"
    )


def test_settings_with_wrong_values(tmp_path):
    text = (
        "version: 2\naggregate: average\nunbudgeted: error\nwarn_at: 80\n"
        "baseline: {tolerance_percent: 5000%}\ndrivers: {}\n"
    )
    path = write(tmp_path, "b.yaml", text)
    assert [p.replace(f"{tmp_path.as_posix()}/", "") for p in problems([path])] == [
        "b.yaml:1:1: key 'version': version 2 is not known: use 1",
        "b.yaml:2:1: key 'aggregate': 'average' is not allowed: use 'max' or 'median' or 'mean' "
        "or 'min'",
        "b.yaml:3:1: key 'unbudgeted': 'error' is not allowed: use 'warn' or 'fail'",
        "b.yaml:4:1: key 'warn_at': '80' is read as a fraction (8000%), more than the allowed "
        "100%: write '80%' for a percentage",
        "b.yaml:5:12: key 'baseline.tolerance_percent': '5000%' is more than the allowed 1000%",
    ]


def test_bad_window(tmp_path):
    assert one_problem(tmp_path, "window: 30s..10s\ndrivers: {}\n") == (
        "b.yaml:1:1: key 'window': '30s..10s': the end must be later than the start"
    )


def test_waiver_without_reason(tmp_path):
    text = "drivers: {}\nwaivers:\n  - driver: acpi.sys\n    expires: 2025-06-30\n"
    assert one_problem(tmp_path, text) == (
        "b.yaml:3:5: key 'waivers[0].reason': is required: why the failure is accepted for now"
    )


def test_waiver_with_empty_reason(tmp_path):
    text = "drivers: {}\nwaivers:\n  - {driver: acpi.sys, reason: ' ', expires: 2025-06-30}\n"
    assert one_problem(tmp_path, text) == (
        "b.yaml:3:24: key 'waivers[0].reason': expected a reason saying why the waiver is "
        "needed, found an empty string"
    )


@pytest.mark.parametrize(
    ("expires", "message"),
    [
        ("2025-02-30", "'2025-02-30' is not a real date"),
        ("30.06.2025", "'30.06.2025' is not a date: write YYYY-MM-DD, e.g. 2025-06-30"),
        ("2025-06-30 12:00", "'2025-06-30 12:00' is not a date: write YYYY-MM-DD, e.g. 2025-06-30"),
    ],
)
def test_waiver_bad_expiry_date(tmp_path, expires, message):
    text = f"drivers: {{}}\nwaivers:\n  - driver: acpi.sys\n    reason: r\n    expires: {expires}\n"
    assert one_problem(tmp_path, text) == f"b.yaml:5:5: key 'waivers[0].expires': {message}"


def test_waiver_unknown_metric(tmp_path):
    text = (
        "drivers: {}\nwaivers:\n  - {driver: a.sys, metric: npp, reason: r, expires: 2025-06-30}\n"
    )
    assert one_problem(tmp_path, text).startswith(
        "b.yaml:3:21: key 'waivers[0].metric': unknown metric 'npp'; metrics: "
    )


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (
            "Fb[k]",
            "tag pattern 'Fb[k]' uses '[' and ']': only the wildcards '*' and '?' are supported",
        ),
        (
            "Fabrikam*",
            "tag pattern 'Fabrikam*' needs 8 characters but a pool tag has at most 4, "
            "so it can never match",
        ),
    ],
)
def test_bad_tag_pattern(tmp_path, pattern, message):
    text = f"drivers: {{}}\nattribution:\n  tags:\n    '{pattern}': fabrikam.sys\n"
    assert one_problem(tmp_path, text) == f"b.yaml:4:5: key 'attribution.tags.{pattern}': {message}"


def test_tag_pattern_rules():
    assert tag_pattern_is_valid("Fbk*") is None
    assert tag_pattern_is_valid("?b*") is None
    assert tag_pattern_is_valid("Ip  ") is None
    assert tag_pattern_is_valid("") == "a tag pattern is empty"
    assert tag_pattern_is_valid("a\\b") is not None
    assert tag_pattern_is_valid("Fb\tk") is not None


def test_missing_pooltag_file(tmp_path):
    text = "drivers: {}\nattribution:\n  pooltag: tags/pooltag.txt\n"
    assert one_problem(tmp_path, text) == (
        "b.yaml:3:3: key 'attribution.pooltag': no such file: tags/pooltag.txt"
    )


def test_nothing_to_check(tmp_path):
    assert one_problem(tmp_path, "warn_at: 90%\n") == (
        "b.yaml:1:1: no budget file has 'drivers' or 'totals': there is nothing to check"
    )


# --- several files ------------------------------------------------------------------------------


def test_driver_defined_in_two_files(tmp_path):
    a = write(tmp_path, "a.yaml", "window: 0s..30s\ndrivers:\n  x.sys: {}\n  acpi.sys: {}\n")
    b = write(tmp_path, "b.yaml", "drivers:\n  ACPI.sys:\n    owner: storage\n")
    assert problems([a, b]) == [
        f"{b.as_posix()}:2:3: driver 'acpi.sys' is already defined at {a.as_posix()}:4:3"
    ]


def test_window_conflicts_between_files(tmp_path):
    a = write(tmp_path, "a.yaml", 'window: "0s..30s"\ndrivers: {}\n')
    b = write(tmp_path, "b.yaml", "totals: {}\nwindow: 0s..20s\n")
    assert problems([a, b]) == [
        f"{b.as_posix()}:2:1: key 'window': '0s..20s' conflicts with '0s..30s' at "
        f"{a.as_posix()}:1:1"
    ]


def test_total_and_tag_pattern_defined_in_two_files(tmp_path):
    a = write(
        tmp_path,
        "a.yaml",
        "totals:\n  nonpaged_impacting_bytes: 8 MiB\nattribution:\n  tags: {Fbk*: a.sys}\n",
    )
    b = write(
        tmp_path,
        "b.yaml",
        "totals:\n  nonpaged_impacting_bytes: 8 MiB\nattribution:\n  tags: {Fbk*: b.sys}\n",
    )
    assert problems([a, b]) == [
        f"{b.as_posix()}:2:3: key 'totals.nonpaged_impacting_bytes': the total is already "
        f"limited at {a.as_posix()}:2:3",
        f"{b.as_posix()}:4:10: key 'attribution.tags.Fbk*': the pattern already maps to "
        f"'a.sys' at {a.as_posix()}:4:10",
    ]


def test_every_problem_of_every_file_in_one_error(tmp_path):
    a = write(
        tmp_path,
        "a.yaml",
        "drivers:\n  acpi.sys:\n    nonpaged_impacting_bytes: 1.5 MB\n    owner: [a, b]\n",
    )
    b = write(tmp_path, "b.yaml", "drivers:\n  storport.sys: {nonpaged_impacting_bytes: -1}\n")
    c = write(tmp_path, "c.yaml", "drivers: {a.sys: {\n")
    missing = tmp_path / "d.yaml"
    with pytest.raises(BudgetError) as caught:
        load_budgets([a, b, c, missing])
    found = [p.replace(f"{tmp_path.as_posix()}/", "") for p in caught.value.problems]
    assert found == [
        "a.yaml:3:5: key 'drivers.acpi.sys.nonpaged_impacting_bytes': '1.5 MB' is ambiguous "
        "(WPA's \"KB\" means 1024 bytes): write '1.5 MiB' for 1,572,864 bytes or the plain "
        "number of bytes",
        "a.yaml:4:5: key 'drivers.acpi.sys.owner': expected an owner (team or alias), found a "
        "YAML list",
        "b.yaml:2:18: key 'drivers.storport.sys.nonpaged_impacting_bytes': '-1' is negative: a "
        "size is 0 bytes or more",
        "c.yaml:2:1: YAML syntax error: expected the node content, but found '<stream end>'",
        "d.yaml: no such file",
    ]
    assert isinstance(caught.value, GateError)
    assert str(caught.value) == "\n".join(caught.value.problems)


def test_the_documented_example_loads(tmp_path):
    docs = Path(__file__).resolve().parents[2] / "docs" / "budgets.md"
    example = docs.read_text(encoding="utf-8").split("```yaml\n", 1)[1].split("```", 1)[0]
    write(tmp_path, "pooltag.txt", "")
    budgets = load_budgets([write(tmp_path, "example.yaml", example)], today=date(2025, 7, 1))
    assert set(budgets.drivers) == {"acpi.sys", "storport.sys"}
    assert budgets.active_waiver("storport.sys", "nonpaged_impacting_bytes") is not None


def test_folder_without_budget_files(tmp_path):
    folder = tmp_path / "budgets"
    folder.mkdir()
    assert problems([folder]) == [f"{folder.as_posix()}: a folder without *.yaml or *.yml files"]
