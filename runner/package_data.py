"""The package's data files (``runner/data/*``), read as the package is installed."""

from __future__ import annotations

from pathlib import Path

__all__ = ["read_text"]


def read_text(name: str) -> str:
    """The text of ``runner/data/NAME``; raises FileNotFoundError when the file is missing.

    It is read beside this module, as a package is installed (a folder). Only where that
    fails, in a package imported from a zip file, is it read through importlib.resources,
    imported then: at every start it would import zipfile, tempfile and more (about 7 ms).
    """
    try:
        return (Path(__file__).parent / "data" / name).read_text(encoding="utf-8")
    except OSError:
        from importlib import resources

        data = resources.files("runner").joinpath("data")
        return data.joinpath(name).read_text(encoding="utf-8")
