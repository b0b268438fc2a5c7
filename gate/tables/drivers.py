"""How the gate names drivers, which images are the kernel itself, and the names it reserves.

A driver is named by the lower-case file name of its image
(`\\SystemRoot\\System32\\drivers\\ACPI.sys` → `acpi.sys`), whatever the input format. The
model adds three names of its own: `(total)` for the figures over all drivers, and
`(kernel)` / `(unattributed)` for allocations no driver can be given (metrics.md). SQL files
spell these names as literals; a test holds them to the constants here.
"""

from __future__ import annotations

# The kernel's own images: a stack walk looks past them to find the allocating driver.
KERNEL_IMAGES = ("ntoskrnl.exe", "ntkrnlmp.exe", "ntkrnlpa.exe", "ntkrpamp.exe", "ntkrla57.exe")
DEFAULT_SKIP_MODULES = (*KERNEL_IMAGES, "hal.dll")

TOTAL = "(total)"  # the figures over all drivers
KERNEL = "(kernel)"  # allocations whose stack has only skipped modules
UNATTRIBUTED = "(unattributed)"  # allocations with no stack and no tag match
# Attribution buckets: they hold figures like drivers, but only their own budget entry applies.
PSEUDO_DRIVERS = (KERNEL, UNATTRIBUTED)
RESERVED_NAMES = (TOTAL, *PSEUDO_DRIVERS)
# The budgets' key for "any driver without its own entry".
DEFAULT_ENTRY = "*"
# A file that happens to be named like one of the gate's own names keeps this prefix, so that
# it can never pass for a total, an attribution bucket or the budgets' default entry.
FILE_PREFIX = "file:"


def driver_name(path: str) -> str:
    """The gate's driver name for an image path: its lower-case file name, never one of the
    names the gate reserves (`RESERVED_NAMES`, `*`)."""
    return module_name(path.replace("/", "\\").rsplit("\\", 1)[-1])


def module_name(name: str) -> str:
    """A module's name as the gate keeps it: lower case, a reserved name prefixed."""
    low = name.lower()
    if low in RESERVED_NAMES or low == DEFAULT_ENTRY:
        return FILE_PREFIX + low
    return low
