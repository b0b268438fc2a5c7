"""Text for `gate inspect`: what one trace holds, the first thing a user runs on a new trace."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gate.units import format_duration

if TYPE_CHECKING:
    from gate.tables.inspect import EtlSummary

MAX_DRIVERS = 40


def render_inspect(s: EtlSummary) -> str:
    yes_no = {True: "yes", False: "no"}
    lines = [
        f"{s.path}",
        f"  sha256           {s.sha256}",
        f"  logger           {s.logger_name or '-'}"
        + ("  (synthetic: written by the gate's trace writer)" if s.synthetic else ""),
        f"  OS               Windows {s.os_version or '?'} build {s.os_build or '?'}",
        f"  pointer size     {s.pointer_size_bytes * 8}-bit",
        f"  started          {s.start_utc.isoformat() if s.start_utc else '-'}",
        f"  duration         {format_duration(s.duration_s)}",
        f"  CPUs             {s.cpu_count}",
        f"  compressed       {yes_no[s.compressed]}",
        f"  records          {s.records_total:,} ({s.records_unknown:,} not decoded, "
        f"{s.records_malformed:,} malformed)",
        f"  lost             {s.events_lost:,} event(s), {s.buffers_lost:,} buffer(s)",
        f"  pool events      {s.pool_events:,}"
        + ("" if s.pool_events else "  <- no pool data: record with the WPR Pool usage profile"),
        f"  stacks           {yes_no[s.stacks_present]} ({s.stack_walks:,} stack walks, "
        f"{s.stack_key_references:,} cached-stack references, "
        f"{s.stack_key_definitions:,} definitions)",
        f"  image identities {s.image_ids:,} (PDB names for symbols)",
        f"  resident set     {_resident_line(s)}",
        *_plausibility_lines(s),
        "",
        "  events by kind",
    ]
    width = max((len(k) for k in s.events), default=0)
    lines += [f"    {kind:<{width}}  {count:>12,}" for kind, count in s.events.items()]
    shown = s.drivers[:MAX_DRIVERS]
    lines += ["", f"  kernel images ({len(s.drivers)})"]
    for i in range(0, len(shown), 4):
        lines.append("    " + "  ".join(f"{d:<22}" for d in shown[i : i + 4]).rstrip())
    if len(s.drivers) > len(shown):
        lines.append(f"    ... and {len(s.drivers) - len(shown)} more")
    lines += [f"  note: {n}" for n in s.notes]
    return "\n".join(lines) + "\n"


def _resident_line(s: EtlSummary) -> str:
    if s.has_resident_set:
        return (
            f"yes ({s.resident_pages:,} pages of {s.page_size_bytes:,} bytes in the last full "
            f"snapshot at {format_duration(s.resident_time_s)}, "
            f"{s.resident_snapshots} snapshot(s))"
        )
    if s.resident_rejected:
        return (
            f"REJECTED: {100 * s.resident_failed_any:.1f} % of {s.resident_pages:,} pages fail "
            "the plausibility checks; active_code_bytes is not evaluated"
        )
    if s.page_records:
        return f"no ({s.page_records:,} page records, no full snapshot)"
    return "no  <- active_code_bytes needs the WPR Resident Set profile"


def _plausibility_lines(s: EtlSummary) -> list[str]:
    if not s.resident_failed:
        return []
    shares = ", ".join(f"{k} {100 * v:.1f} %" for k, v in s.resident_failed.items())
    return [
        f"  page checks      failed: {shares}; {100 * s.resident_failed_any:.1f} % in all "
        f"(limit {100 * s.resident_check_limit:.0f} %)"
    ]
