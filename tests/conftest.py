"""Fixtures shared by the whole suite."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def demo_show(tmp_path: Path) -> Path:
    """A private copy of the demo show (podcast.yaml, assets/, episodes/); returns its config."""
    for name in ("assets", "episodes"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copy(REPO / "podcast.yaml", tmp_path / "podcast.yaml")
    return tmp_path / "podcast.yaml"
