"""Text for `gate inspect`: what one trace holds, the first thing a user runs on a new trace."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gate.units import format_duration

if TYPE_CHECKING:
    from gate.etl.reader import EtlSummary

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
