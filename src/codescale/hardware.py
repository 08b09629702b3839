"""The accelerators the planner and the trainer know: one table (issue 14).

`codescale plan --card NAME` takes a card's peak and memory from it; the trainer matches the CUDA
device name it runs on against it to report MFU. Peaks are dense bf16 tensor-core FLOP/s without
sparsity, from the vendors' datasheets; the H800 is an H100 SXM with reduced NVLink bandwidth (the
same compute peak).
"""

from __future__ import annotations

from typing import NamedTuple


class Card(NamedTuple):
    peak_tflops: float  # dense bf16, TFLOP/s
    memory_gb: float


# Matched by substring of the device name in this order (the first that matches wins), so the
# PCIe and NVL variants come before the plain H100.
CARDS: dict[str, Card] = {
    "H100 PCIe": Card(756.0, 80.0),
    "H100 NVL": Card(835.0, 94.0),
    "H800": Card(989.0, 80.0),
    "H100": Card(989.0, 80.0),
    "H200": Card(989.0, 141.0),
    "A800": Card(312.0, 80.0),
    "A100": Card(312.0, 80.0),
}


def card_of(device_name: str) -> Card | None:
    """The card of a CUDA device name (e.g. "NVIDIA H100 80GB HBM3"), None when unknown."""
    return next((card for key, card in CARDS.items() if key in device_name), None)


def peak_flops(device_name: str) -> float | None:
    """Dense bf16 peak of a CUDA device in FLOP/s, None when unknown."""
    card = card_of(device_name)
    return None if card is None else card.peak_tflops * 1e12
