"""What an upscale needs (output size, memory, temporary disk), estimated and checked up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from editor.engine.upscale_needs import (
    SPILL_RESIDENT_BYTES,
    UpscaleTooLarge,
    check_upscale_fits,
    estimate_needs,
)

GB = 1 << 30


def test_small_upscale_stays_in_memory():
    needs = estimate_needs(100, 80, 3, 1, 2)
    out = 200 * 160
    assert (needs.output_width, needs.output_height) == (200, 160)
    assert not needs.spilled and needs.temp_bytes == 0
    # the float32 blender (3 colours + 1 weight) and the uint8 result are both in RAM
    assert needs.memory_bytes >= out * 4 * 4 + out * 3


def test_huge_upscale_spills_its_blend_buffers_and_result_to_disk():
    needs = estimate_needs(14142, 14142, 3, 1, 2)
    out = 28284 * 28284
    assert needs.spilled
    assert needs.temp_bytes == out * 4 * 4 + out * 3  # blend*.bin files + the result file
    # resident: bounded spill pages, not the blender; the result is held once when saved
    assert out * 3 < needs.memory_bytes < out * 3 + SPILL_RESIDENT_BYTES + 2 * GB


def test_sixteen_bit_rgba_counts_its_bytes():
    eight = estimate_needs(1000, 1000, 4, 1, 4, max_memory_mb=0)
    sixteen = estimate_needs(1000, 1000, 4, 2, 4, max_memory_mb=0)
    assert sixteen.temp_bytes - eight.temp_bytes == 4000 * 4000 * 4


def test_output_over_the_megapixel_limit_is_refused_with_the_sizes():
    with pytest.raises(UpscaleTooLarge) as info:
        check_upscale_fits(14142, 14142, 3, 1, 2, temp_folder=Path("/tmp"), max_pixels=200_000_000)
    assert str(info.value) == (
        "upscaling 14142×14142 ×2 gives 28284×28284 (800 MP), over the 200 MP limit "
        "(SEMEDIT_MAX_MEGAPIXELS)"
    )


def test_not_enough_temporary_space_is_refused():
    with pytest.raises(UpscaleTooLarge, match="of temporary space in /scratch, 3.1 GB free"):
        check_upscale_fits(
            8000,
            6000,
            3,
            1,
            2,
            temp_folder=Path("/scratch"),
            max_pixels=10**9,
            memory=lambda: 64 * GB,
            disk=lambda folder: int(3.1 * GB),
        )


def test_not_enough_memory_is_refused():
    with pytest.raises(UpscaleTooLarge, match=r"needs \d+\.\d GB of memory, 1\.0 GB available"):
        check_upscale_fits(
            4000,
            3000,
            3,
            1,
            2,
            temp_folder=Path("/tmp"),
            max_pixels=10**9,
            memory=lambda: GB,
            disk=lambda folder: 1000 * GB,
        )


def test_enough_of_everything_returns_the_estimate():
    needs = check_upscale_fits(
        640,
        480,
        3,
        1,
        4,
        temp_folder=Path("/tmp"),
        max_pixels=10**9,
        memory=lambda: 64 * GB,
        disk=lambda folder: None,  # unknown: not a reason to refuse
    )
    assert needs == estimate_needs(640, 480, 3, 1, 4)
