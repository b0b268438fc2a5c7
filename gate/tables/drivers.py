"""How the gate names drivers, and which images are the kernel itself.

A driver is named by the lower-case file name of its image
(`\\SystemRoot\\System32\\drivers\\ACPI.sys` → `acpi.sys`), whatever the input format.
"""

from __future__ import annotations

# The kernel's own images: a stack walk looks past them to find the allocating driver.
KERNEL_IMAGES = ("ntoskrnl.exe", "ntkrnlmp.exe", "ntkrnlpa.exe", "ntkrpamp.exe", "ntkrla57.exe")
DEFAULT_SKIP_MODULES = (*KERNEL_IMAGES, "hal.dll")


def driver_name(path: str) -> str:
    """The gate's driver name for an image path: its lower-case file name."""
    return path.replace("/", "\\").rsplit("\\", 1)[-1].lower()
