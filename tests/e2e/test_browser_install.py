"""Adding the chat to a home screen, in Debian's chromium against a real `pairchat up`:
the page links a web app manifest that chromium fetches and parses without an error, whose
icons load at the sizes it declares, and nothing but the test's own incognito profile keeps
chromium from offering to install it; the theme colour is the page's own, light and dark."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from .browser_people import OpenPage, assert_clean

pytestmark = pytest.mark.browser

# Why chromium would not install the page, that says nothing about the page: Playwright's
# browser contexts are incognito profiles.
PROFILE_ONLY = {"in-incognito"}

FETCH_MANIFEST = """async () => {
  const link = document.querySelector('link[rel="manifest"]');
  const answer = await fetch(link.href);
  const manifest = await answer.json();
  const load = async (href) => {
    const got = await fetch(href);
    const image = new Image();
    image.src = href;
    await image.decode();
    return {
      status: got.status,
      type: got.headers.get('content-type'),
      size: `${image.naturalWidth}x${image.naturalHeight}`,
    };
  };
  const icons = {};
  for (const icon of manifest.icons) {
    icons[icon.src] = await load(new URL(icon.src, link.href).href);
  }
  const apple = document.querySelector('link[rel="apple-touch-icon"]').href;
  return {
    href: link.href,
    status: answer.status,
    type: answer.headers.get('content-type'),
    manifest,
    icons,
    apple: await load(apple),
  };
}"""

# The theme colour the page declares for the scheme it is shown in, and the colour of the
# client's surfaces (its top bar) in that scheme, both as the browser computes them.
THEME_COLOURS = """() => {
  const computed = (value) => {
    const probe = document.createElement('div');
    probe.style.color = value;
    document.body.append(probe);
    const colour = getComputedStyle(probe).color;
    probe.remove();
    return colour;
  };
  const metas = [...document.querySelectorAll('meta[name="theme-color"]')];
  return {
    declared: metas.filter((m) => matchMedia(m.media).matches).map((m) => computed(m.content)),
    surface: computed('var(--surface)'),
  };
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_chat_is_installable(open_page: OpenPage, scheme: Literal["light", "dark"]) -> None:
    page, problems = open_page(color_scheme=scheme)
    fetched: dict[str, Any] = page.evaluate(FETCH_MANIFEST)
    assert fetched["href"].endswith("/manifest.webmanifest")
    assert (fetched["status"], fetched["type"]) == (200, "application/manifest+json")
    manifest = fetched["manifest"]
    assert (manifest["start_url"], manifest["display"]) == ("/", "standalone")
    for icon in manifest["icons"]:
        loaded = fetched["icons"][icon["src"]]
        assert (loaded["status"], loaded["type"].split(";")[0]) == (200, icon["type"]), icon
        if icon["sizes"] != "any":
            assert loaded["size"] == icon["sizes"], icon
    assert fetched["apple"] == {"status": 200, "type": "image/png", "size": "180x180"}

    cdp = page.context.new_cdp_session(page)
    parsed = cdp.send("Page.getAppManifest")
    assert parsed["url"] == fetched["href"]
    assert parsed["errors"] == [], parsed["errors"]
    refusals = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert {refusal["errorId"] for refusal in refusals} <= PROFILE_ONLY, refusals

    colours = page.evaluate(THEME_COLOURS)
    assert colours["declared"] == [colours["surface"]], colours
    assert_clean(problems)
