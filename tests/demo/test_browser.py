"""The demo page in headless Chromium: post, edit and delete from the editors' desk in its frame,
as an editor would, and watch every Telegram chat and Discord channel follow. Screenshots go to
test-output/demo/."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from relay_sandbox.demo.run import Demo
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.demo.browser import chromium

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "demo"
WITHIN = 10.0  # seconds for a change to reach the page (it takes well under one)

HEADLINE = "Lighthouse keeper guides two kayakers back to the beach"
EDITED = "Lighthouse keeper guides two kayakers and their dog back to the beach"
BODY = (
    "The rescue took **forty minutes**, said _the harbour master_.\n\n"
    "> We saw their lights from the lantern room and kept the beam on them.\n\n"
    "Read: [The keeper's own account](https://example.org/kessel/keeper)\n\n"
    "Tide times: https://example.org/kessel/tides_2026"
)


def wait(driver: webdriver.Chrome, what: str, check: Callable[[], Any]) -> Any:
    """Poll `check` until it returns something true; fail naming `what` otherwise."""
    # A message redrawn while it is read (an edit, a pin) is stale: read it again.
    return WebDriverWait(
        driver, WITHIN, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException]
    ).until(lambda _: check(), message=f"the page never showed {what} within {WITHIN:g}s")


def pane(driver: webdriver.Chrome, key: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, f'[data-pane="{key}"]')


def message_with(driver: webdriver.Chrome, key: str, text: str) -> WebElement | None:
    """The message of a pane whose text contains `text` (None when there is none)."""
    for m in pane(driver, key).find_elements(By.CSS_SELECTOR, ".msg"):
        if text in m.text:
            return m
    return None


def fill(driver: webdriver.Chrome, field: str, value: str) -> None:
    box = driver.find_element(By.ID, field)
    box.clear()
    box.send_keys(value)


def check_telegram_copy(m: WebElement, photo: bool = True) -> None:
    assert m.find_element(By.CSS_SELECTOR, ".tg-text b").text == HEADLINE
    bold = [b.text for b in m.find_elements(By.CSS_SELECTOR, ".tg-text b")]
    assert "forty minutes" in bold
    italics = [i.text for i in m.find_elements(By.CSS_SELECTOR, ".tg-text i")]
    assert "the harbour master" in italics
    assert "Photo: Kessel Coastguard" in italics  # the credit line
    quote = m.find_element(By.CSS_SELECTOR, ".tg-text blockquote").text
    assert quote == "We saw their lights from the lantern room and kept the beam on them."
    links = {a.text: a.get_attribute("href") for a in m.find_elements(By.CSS_SELECTOR, "a")}
    assert links["The keeper's own account"] == "https://example.org/kessel/keeper"
    assert links["Read more"] == "https://example.org/kessel/rescue"
    src = m.find_element(By.CSS_SELECTOR, "img.tg-photo").get_attribute("src") or ""
    assert src.endswith("/demo/images/harbour.png")


def check_discord_copy(m: WebElement) -> None:
    embed = m.find_element(By.CSS_SELECTOR, ".dc-embed")
    # Storm Halvard's colour bar, #1f6feb.
    assert embed.value_of_css_property("border-left-color") == "rgba(31, 111, 235, 1)"
    assert embed.find_element(By.CSS_SELECTOR, ".dc-embed-author").text == "Storm Halvard"
    title = embed.find_element(By.CSS_SELECTOR, ".dc-embed-title")
    assert title.text == HEADLINE
    assert title.get_attribute("href") == "https://example.org/kessel/rescue"
    description = embed.find_element(By.CSS_SELECTOR, ".dc-embed-description")
    assert description.find_element(By.CSS_SELECTOR, "strong").text == "forty minutes"
    assert description.find_element(By.CSS_SELECTOR, "em").text == "the harbour master"
    quote = description.find_element(By.CSS_SELECTOR, ".dc-quote").text
    assert quote == "We saw their lights from the lantern room and kept the beam on them."
    links = {
        a.text: a.get_attribute("href") for a in description.find_elements(By.CSS_SELECTOR, "a")
    }
    assert links["The keeper's own account"] == "https://example.org/kessel/keeper"
    # A bare URL is a link, whole (the underscore is no italics), as in Discord.
    assert links["https://example.org/kessel/tides_2026"] == "https://example.org/kessel/tides_2026"
    src = embed.find_element(By.CSS_SELECTOR, ".dc-embed-image").get_attribute("src") or ""
    assert src.endswith("/demo/images/harbour.png")
    footer = embed.find_element(By.CSS_SELECTOR, ".dc-embed-footer").text
    assert re.fullmatch(
        r"By Demo editor · Keepers' cottage at dusk · Photo: Kessel Coastguard · #Halvard"
        r" • Today at \d\d:\d\d",
        footer,
    ), footer


def in_desk(driver: webdriver.Chrome) -> None:
    driver.switch_to.default_content()
    driver.switch_to.frame("desk")


def in_page(driver: webdriver.Chrome) -> None:
    driver.switch_to.default_content()


def row(driver: webdriver.Chrome, update_id: str) -> WebElement:
    """The desk's list item of an update."""
    return driver.find_element(By.CSS_SELECTOR, f'#updates [data-update="{update_id}"]')


def scenario(driver: webdriver.Chrome, demo: Demo) -> None:
    tg = demo.world.telegram
    dc = demo.world.discord
    assert dc is not None
    storm = [f"telegram:{tg.channel_id}", f"telegram:{tg.group_id}", f"telegram:{tg.reader_id}"]
    discord_storm = f"discord:{dc.live_id}"
    hall = f"discord:{dc.hall_id}"
    SHOTS.mkdir(parents=True, exist_ok=True)

    driver.get(demo.url)
    wait(
        driver, "five panes", lambda: len(driver.find_elements(By.CSS_SELECTOR, "[data-pane]")) == 5
    )
    wait(driver, "the live badge", lambda: driver.find_element(By.ID, "connection").text == "live")
    # The sample blog is there already: the breaking update pinned in the channel.
    pinbar = pane(driver, storm[0]).find_element(By.CSS_SELECTOR, ".tg-pinbar")
    wait(driver, "the pinned breaking update", lambda: "Evacuation ordered" in pinbar.text)
    wait(driver, "every photo drawn", lambda: driver.execute_script(
        "const imgs = Array.from(document.images);"
        "return imgs.length >= 8 && imgs.every((i) => i.complete && i.naturalWidth === 480);"
    ))  # fmt: skip

    # The editor is the desk, signed in as the demo's editor, listing the sample blog.
    in_desk(driver)
    body = driver.find_element(By.TAG_NAME, "body")
    wait(driver, "the desk", lambda: body.get_attribute("data-ready") == "yes")
    assert driver.find_element(By.ID, "editor").text == "Signed in as Demo editor"
    # One column in the frame, nothing wider than it (no sideways scrolling, Sign out in
    # view), in a frame narrower too (a browser that shows scrollbars takes ~15 px of it).
    overflow = "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    for width in ("360px", ""):  # then back as the page has it
        in_page(driver)
        driver.execute_script(f"document.getElementById('desk').style.width = '{width}'")
        in_desk(driver)
        wait(driver, f"the desk within a frame {width or 'as laid out'} wide",
             lambda: driver.execute_script(overflow) == 0)  # fmt: skip
    wait(driver, "the sample blog listed",
         lambda: len(driver.find_elements(By.CSS_SELECTOR, "#updates li.update")) == 7)  # fmt: skip
    # The photos of recent updates are offered again; the sample blog's harbour photo is one.
    harbour = f"{demo.url}/demo/images/harbour.png"
    offered = [o.get_attribute("value") for o in driver.find_elements(
        By.CSS_SELECTOR, "#photo-list option")]  # fmt: skip
    assert harbour in offered, offered
    in_page(driver)
    driver.save_screenshot(str(SHOTS / "1-loaded.png"))

    in_desk(driver)
    Select(driver.find_element(By.ID, "f-topic")).select_by_value("storm")
    fill(driver, "f-headline", HEADLINE)
    fill(driver, "f-body", BODY)
    fill(driver, "f-link", "https://example.org/kessel/rescue")
    fill(driver, "f-image", harbour)
    fill(driver, "f-caption", "Keepers' cottage at dusk")
    fill(driver, "f-credit", "Kessel Coastguard")
    wait(driver, "the Telegram preview with the credit", lambda: "Photo: Kessel Coastguard" in
         driver.find_element(By.ID, "preview-telegram").text)  # fmt: skip
    wait(driver, "the Discord preview", lambda: "Keepers' cottage" in
         driver.find_element(By.ID, "preview-discord").text)  # fmt: skip
    check_telegram_copy(driver.find_element(By.CSS_SELECTOR, "#preview-telegram .msg"))
    check_discord_copy(driver.find_element(By.CSS_SELECTOR, "#preview-discord .msg"))
    in_page(driver)
    for key in (*storm, discord_storm):  # a preview publishes nothing
        assert message_with(driver, key, HEADLINE) is None
    driver.save_screenshot(str(SHOTS / "2-preview.png"))

    in_desk(driver)
    driver.find_element(By.ID, "btn-publish").click()
    status = driver.find_element(By.ID, "composer-status")
    wait(driver, "the published id", lambda: status.text.startswith("Published "))
    update_id = re.fullmatch(r"Published (\S+) \(revision 1\)\.", status.text).group(1)  # type: ignore[union-attr]
    wait(driver, "the delivery progress",
         lambda: "delivered 4 / 4 · 0 failed (done)" in row(driver, update_id).text)  # fmt: skip
    assert "by Demo editor" in row(driver, update_id).text
    in_page(driver)
    for key in storm:
        check_telegram_copy(
            wait(driver, f"the copy in {key}", lambda k=key: message_with(driver, k, HEADLINE))
        )
    check_discord_copy(
        wait(driver, "the Discord copy", lambda: message_with(driver, discord_storm, HEADLINE))
    )
    assert message_with(driver, hall, HEADLINE) is None  # city-hall does not take the storm topic
    driver.save_screenshot(str(SHOTS / "3-published.png"))

    in_desk(driver)
    row(driver, update_id).find_element(By.CSS_SELECTOR, ".btn-edit").click()
    assert driver.find_element(By.ID, "f-headline").get_attribute("value") == HEADLINE
    fill(driver, "f-headline", EDITED)
    driver.find_element(By.ID, "btn-publish").click()
    wait(driver, "revision 2 delivered", lambda: "revision 2" in row(driver, update_id).text
         and row(driver, update_id).get_attribute("data-done") == "yes")  # fmt: skip
    in_page(driver)
    for key in storm:
        copy = wait(driver, f"the edit in {key}", lambda k=key: message_with(driver, k, EDITED))
        assert copy.find_element(By.CSS_SELECTOR, ".tg-text b").text == EDITED
        assert copy.find_element(By.CSS_SELECTOR, ".tg-meta .edited").text == "edited"
        assert "forty minutes" in copy.text  # the rest of the copy is unchanged
    copy = wait(driver, "the Discord edit", lambda: message_with(driver, discord_storm, EDITED))
    assert copy.find_element(By.CSS_SELECTOR, ".dc-embed-title").text == EDITED
    assert copy.find_element(By.CSS_SELECTOR, ".dc-edited").text == "(edited)"
    for key in (*storm, discord_storm):  # no copy shows the old headline any more
        assert message_with(driver, key, HEADLINE) is None
    driver.save_screenshot(str(SHOTS / "4-edited.png"))

    in_desk(driver)
    row(driver, update_id).find_element(By.CSS_SELECTOR, ".btn-delete").click()
    WebDriverWait(driver, WITHIN).until(expected_conditions.alert_is_present()).accept()
    wait(driver, "the deletion in the desk's list",
         lambda: "(deleted)" in row(driver, update_id).text)  # fmt: skip
    in_page(driver)
    for key in (*storm, discord_storm):
        wait(
            driver,
            f"the copy gone from {key}",
            lambda k=key: message_with(driver, k, EDITED) is None,
        )
    driver.save_screenshot(str(SHOTS / "5-deleted.png"))

    # Editor text is text: markup typed into a headline is shown, never run or rendered.
    literal = "Ferry <b>late</b> & *again* <img src=x onerror=alert(1)>"
    driver.execute_script(
        "fetch('/v1/updates', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({topic: 'transit', headline: arguments[0]})});",
        literal,
    )
    for key in (f"telegram:{tg.channel_id}", discord_storm, hall):
        copy = wait(
            driver, f"the literal headline in {key}", lambda k=key: message_with(driver, k, literal)
        )
        assert copy.find_elements(By.CSS_SELECTOR, "img[src=x]") == []
        assert "late" not in [b.text for b in copy.find_elements(By.CSS_SELECTOR, "b, strong, em")]
    # One stream from start to end: every change above came live, none from a reload.
    assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-loads") == "1"


async def test_post_edit_and_delete_from_the_page_reach_every_pane(tmp_path: Path) -> None:
    async with Demo(port=0, pace=0, fast=True) as demo:
        await demo.play()
        driver = await asyncio.to_thread(chromium, tmp_path / "profile")
        try:
            await asyncio.to_thread(scenario, driver, demo)
        finally:
            await asyncio.to_thread(driver.quit)
