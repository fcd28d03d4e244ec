"""Links inside dataset folders: followed once, never in a loop, never counting a file twice."""

from __future__ import annotations

import os

from senmvae.data.collection import Action
from senmvae.data.io import write_image
from senmvae.data.layouts.folders import scan
from tests.data import builders


def test_links_are_followed_once_and_loops_are_reported(tmp_path):
    root = tmp_path / "set" / "clean"
    for name in ("a", "sub/b"):
        write_image(root / f"{name}.png", builders.image(0))
    write_image(tmp_path / "elsewhere" / "e.png", builders.image(1))
    os.symlink("..", root / "loop")  # the folder above: holds the link itself
    os.symlink(".", root / "self")
    os.symlink("sub", root / "alias")  # the same images under another name
    os.symlink("a.png", root / "z.png")
    os.symlink(tmp_path / "elsewhere", root / "linked")  # images kept outside: followed

    images, problems = scan(root)

    assert [p.relative_to(root).as_posix() for p in images] == ["a.png", "linked/e.png", "sub/b.png"]
    by_link = {os.path.basename(p.location): p for p in problems}
    assert set(by_link) == {"loop", "self", "alias", "z.png"}
    assert all(p.action is Action.SKIP for p in problems)
    assert "would loop forever" in by_link["loop"].message and "Remove the link" in by_link["loop"].message
    assert "would loop forever" in by_link["self"].message
    assert "listed already" in by_link["alias"].message and "listed already" in by_link["z.png"].message
