"""Every output is replaced whole (lamp_core.atomic_write): old or new version, never a part, never lost."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lamp_core.atomic_write import (
    partial_path,
    previous_path,
    recover_interrupted_replace,
    replacing,
    write_text,
    write_text_if_changed,
)
from lamp_core.errors import LampError


def test_a_file_is_replaced_only_when_its_block_ends_without_error(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "table.csv"
    write_text(target, "first\n")
    with pytest.raises(RuntimeError), replacing(target) as partial:
        partial.write_text("half")
        assert target.read_text() == "first\n"  # readers still see the old version
        raise RuntimeError("writer failed")
    assert target.read_text() == "first\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.csv"]
    with replacing(target) as partial:
        partial.write_text("second\n")
    assert target.read_text() == "second\n"


def test_a_folder_keeps_earlier_results_on_failure_and_is_swapped_whole_on_success(tmp_path: Path) -> None:
    final = tmp_path / "samples"
    with replacing(final, folder=True) as staging:
        (staging / "a.txt").write_text("first")
        (staging / "b.txt").write_text("first")
    with pytest.raises(RuntimeError), replacing(final, folder=True) as staging:
        (staging / "a.txt").write_text("second")
        raise RuntimeError("sampling failed")
    assert sorted(p.name for p in final.iterdir()) == ["a.txt", "b.txt"]
    assert (final / "a.txt").read_text() == "first"
    with replacing(final, folder=True, durable=True) as staging:
        (staging / "a.txt").write_text("third")
    assert [p.name for p in final.iterdir()] == ["a.txt"]  # the new version whole, nothing of the old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples"]


def test_a_kill_between_the_two_renames_of_a_folder_gets_the_earlier_version_back(tmp_path: Path) -> None:
    final = tmp_path / "motion"
    with replacing(final, folder=True) as staging:
        (staging / "weights").write_bytes(b"good")
    partial_path(final).mkdir()
    (partial_path(final) / "weights").write_bytes(b"half-written")
    os.replace(final, previous_path(final))  # what a kill after the first rename leaves
    recover_interrupted_replace(final)
    assert (final / "weights").read_bytes() == b"good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["motion"]


def test_write_text_names_the_file_it_cannot_write_and_skips_unchanged_text(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.raises(LampError, match=r"not_a_folder/out\.json: cannot write"):
        write_text(blocker / "out.json", "{}")
    target = write_text(tmp_path / "state.json", "{}\n")
    os.utime(target, (1, 1))
    write_text_if_changed(target, "{}\n")
    assert target.stat().st_mtime == 1
    write_text_if_changed(target, "{ }\n")
    assert target.read_text() == "{ }\n"
