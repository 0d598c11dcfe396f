"""The book at the widths readers use: nothing on a page runs past its column at 800 or 1400 px.

Each rendered page is opened in headless Chromium (skipped where none is installed) with a probe that
waits for MathJax, unfolds every dropdown and hidden code cell, and reports, inside the page's article:

- an element whose right edge lies past the window;
- a box that must be scrolled sideways to be read (``overflow-x: auto`` or ``scroll`` with content
  wider than the box);
- displayed math wider than the column (MathJax draws it in a scrolling box).

Inline math is drawn in boxes that clip a few pixels of padding by design; those are not reported.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from test_book_pages import _pages

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
WIDTHS = (800, 1400)
PROBE = """<script>
window.addEventListener('load', async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  document.querySelectorAll('details').forEach(d => { d.open = true; });  // what a reader unfolds counts too
  await new Promise(done => setTimeout(done, 500));
  const width = document.documentElement.clientWidth, found = [];
  const say = (what, el) => found.push(what + ': <' + el.tagName.toLowerCase() + '> '
                                       + (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60));
  const article = document.querySelector('article') || document.body;
  for (const el of article.querySelectorAll('*')) {
    if (el.closest('mjx-assistive-mml')) continue;
    const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    if (box.width === 0 || box.height === 0 || style.visibility === 'hidden') continue;
    if (box.right > width + 1) say('past the right edge (' + Math.round(box.right) + ' px)', el);
    if (/(auto|scroll)/.test(style.overflowX) && el.scrollWidth > el.clientWidth + 2)
      say('scrolls sideways (' + el.scrollWidth + ' > ' + el.clientWidth + ' px)', el);
    if (el.tagName === 'MJX-CONTAINER' && el.getAttribute('display') === 'true') {
      const mml = el.querySelector('mjx-assistive-mml');
      if (mml && mml.scrollWidth > el.clientWidth + 2)
        say('displayed math wider than the column (' + mml.scrollWidth + ' > ' + el.clientWidth + ' px)', el);
    }
  }
  const out = document.createElement('pre');
  out.id = 'layout-probe';
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
});
</script>"""
REPORT = re.compile(r'<pre id="layout-probe"[^>]*>(.*?)</pre>', re.S)  # the theme's script may add tabindex


def layout_problems(page: Path, width: int) -> list[str]:
    """What runs past the column of ``page`` in a ``width`` px window (empty when nothing does). The
    probe goes into a copy beside the page, so that its relative links resolve, and the copy is removed."""
    copy = page.with_name(f"_layout_probe_{page.name}")
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    try:
        for _ in range(3):  # a busy machine can end Chromium's time budget before the page has loaded
            proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                   f"--window-size={width},1200", "--virtual-time-budget=30000", "--dump-dom",
                                   copy.as_uri()], capture_output=True, text=True, timeout=180)
            found = REPORT.search(proc.stdout)
            if found:
                break
    finally:
        copy.unlink()
    assert found, f"the layout probe did not report on {page.name}: {proc.stderr[-500:]}"
    return json.loads(html.unescape(found.group(1)))


needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium to lay the pages out")


@needs_chromium
def test_no_page_runs_past_its_column(html_root: Path) -> None:
    pages = [p for p in _pages(html_root) if "<article" in p.read_text(encoding="utf-8")]  # not the redirect
    assert pages, f"no pages with an article under {html_root}"
    report = [f"{page.relative_to(html_root)} at {width} px: {problem}"
              for page in pages for width in WIDTHS for problem in layout_problems(page, width)]
    assert not report, f"{len(report)} layout defects:\n" + "\n".join(report[:60])


@needs_chromium
def test_the_layout_probe_finds_wide_content(tmp_path: Path) -> None:
    page = tmp_path / "wide.html"
    page.write_text("""<html><body><article>
      <p>fits</p>
      <div style="overflow-x: auto"><pre>""" + "x" * 400 + """</pre></div>
      <div style="width: 2000px">too wide</div>
    </article></body></html>""", encoding="utf-8")
    found = "\n".join(layout_problems(page, 800))
    assert "scrolls sideways" in found and "past the right edge" in found and "fits" not in found
    assert not list(tmp_path.glob("_layout_probe_*")), "the probe's copy is left behind"


def test_the_probe_report_is_read_whatever_attributes_the_theme_adds():
    # the theme makes wide <pre> blocks keyboard-scrollable by adding tabindex, sometimes before the dump
    for dumped in ('<pre id="layout-probe">[]</pre>', '<pre id="layout-probe" tabindex="-1">["x"]</pre>'):
        assert json.loads(html.unescape(REPORT.search(dumped).group(1))) in ([], ["x"])
