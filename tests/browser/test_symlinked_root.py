"""A server whose root is a symlink (a home folder on another disk, a shared course folder):
jupyter_server answers 500 for every file under it (jupyter_core's is_hidden compares the resolved
file with the unresolved root). The live card still plays (one transfer from the kernel), and the
saved card says why a reopened notebook cannot, and what to do.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .conftest import BROWSER_2, Lab, Notebook, serve_lab
from .test_lab import _wait_cards
from .test_saved import save_until_static

pytestmark = [pytest.mark.browser, BROWSER_2, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def lab(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with serve_lab(tmp_path_factory.mktemp("linked"), link_root=True) as server:
        yield server


def test_under_a_symlinked_root_the_card_plays_and_the_saved_card_says_why(notebook: Notebook) -> None:
    nb = notebook.open("%load_ext cogvideo_nb", "%%cogvideo\na heron over a linked pond")
    nb.run(0)
    nb.wait_ran(0)
    nb.run(1)
    _wait_cards(nb, 1, ("succeeded",), timeout=60)
    video = nb.cell(1).locator("video.cvnb-video")
    nb.page.wait_for_function("(v) => v.readyState >= 1", arg=video.element_handle(), timeout=15_000)
    assert "folder is a symlink" in nb.cell(1).inner_text()
    saved = save_until_static(nb, videos=1)
    assert "folder is a symlink" in saved["cells"][1]["outputs"][0]["data"]["text/html"]
