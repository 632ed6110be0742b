"""The editors' desk in headless Chromium, served by `relay run` (a subprocess) with the Telegram
and Discord emulators: a wrong password, sign-in, a post with a photo and its live preview,
progress to done, an edit, a delete, a photo uploaded from the computer, an update scheduled,
changed and cancelled, and an expired session. Screenshots go to the test's tmp dir; with
RELAY_DESK_SCREENSHOT=1 the composer's also to docs/img/desk.png (the README's)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import yaml
from aiohttp import web
from relay_sandbox.demo import images
from relay_sandbox.discord.server import DiscordSandbox
from relay_sandbox.serve import SandboxInfo, provision
from relay_sandbox.telegram.server import TelegramSandbox
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from relay import passwords
from relay.backend import EmbeddedValkey
from relay.keys import Keys
from relay.media import MEDIA_URL, media_id

from .conftest import BASE_CONFIG, ROOT
from .demo.browser import chromium
from .helpers import free_port, start_relay, stop_relay

WITHIN = 20.0  # seconds for a change to reach the page (it takes well under one)
PASSWORD = "harbour-lights-at-dusk"
HEADLINE = "Lighthouse keeper guides two kayakers back to the beach"
EDITED = "Lighthouse keeper guides two kayakers and their dog back to the beach"
BODY = (
    "The rescue took **forty minutes**, said _the harbour master_.\n\n"
    "> We saw their lights from the lantern room and kept the beam on them."
)


def wait(driver: webdriver.Chrome, what: str, check: Callable[[], Any]) -> Any:
    """Poll `check` until it returns something true; fail naming `what` otherwise. An element
    redrawn (the list's progress) or a page changing while it is read is read again."""
    ignored = [StaleElementReferenceException, NoSuchElementException]
    return WebDriverWait(driver, WITHIN, poll_frequency=0.1, ignored_exceptions=ignored).until(
        lambda _: check(), message=f"the page never showed {what} within {WITHIN:g}s"
    )


def click(driver: webdriver.Chrome, what: str, find: Callable[[], Any]) -> None:
    """Click the element `find` returns, found again if it was redrawn meanwhile."""
    wait(driver, what, lambda: find().click() or True)


def fill(driver: webdriver.Chrome, field: str, value: str) -> None:
    box = driver.find_element(By.ID, field)
    box.clear()
    box.send_keys(value)


def text_of(driver: webdriver.Chrome, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def item(driver: webdriver.Chrome) -> Any:
    """The first (newest) update in the desk's list."""
    return driver.find_element(By.CSS_SELECTOR, "#updates li.update")


def sign_in(driver: webdriver.Chrome, password: str) -> None:
    fill(driver, "s-name", "Eda Editor")
    fill(driver, "s-password", password)
    driver.find_element(By.ID, "btn-signin").click()


def scenario(
    driver: webdriver.Chrome, base: str, photo: str, info: SandboxInfo, tg: TelegramSandbox,
    dc: DiscordSandbox, redis_url: str, shots: Path,
) -> None:  # fmt: skip
    def shot(name: str) -> None:
        driver.save_screenshot(str(shots / f"{name}.png"))

    # Signed out, the desk sends to its sign-in page; a wrong password is refused there.
    driver.get(f"{base}/desk/")
    wait(driver, "the sign-in form", lambda: driver.current_url.endswith("/desk/signin"))
    sign_in(driver, "not-her-password")
    wait(driver, "the refusal", lambda: text_of(driver, "signin-message") != "")
    assert text_of(driver, "signin-message") == "Wrong name or password."
    assert driver.get_cookie("relay_desk") is None
    shot("1-wrong-password")

    sign_in(driver, PASSWORD)
    wait(driver, "the composer", lambda: driver.find_element(By.TAG_NAME, "body")
         .get_attribute("data-ready") == "yes")  # fmt: skip
    assert text_of(driver, "editor") == "Signed in as Eda Editor"
    cookie = driver.get_cookie("relay_desk")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert driver.execute_script("return document.cookie") == ""  # no script can read it

    # Compose: the preview follows as she types, rendered by the relay's adapters.
    Select(driver.find_element(By.ID, "f-topic")).select_by_value("ukraine")
    fill(driver, "f-headline", HEADLINE)
    fill(driver, "f-body", BODY)
    # Bad input is refused as the API refuses it, naming the field; nothing is sent.
    fill(driver, "f-link", "ftp://example.org/rescue")
    driver.find_element(By.ID, "btn-publish").click()
    wait(driver, "the refusal", lambda: "link:" in text_of(driver, "composer-status"))
    assert text_of(driver, "composer-status").startswith("Nothing was changed: link: ")
    wait(driver, "the preview's refusal", lambda: "link:" in text_of(driver, "preview-status"))
    fill(driver, "f-link", "https://example.org/kessel/rescue")
    fill(driver, "f-image", photo)
    fill(driver, "f-caption", "Keepers' cottage at dusk")
    fill(driver, "f-credit", "Kessel Coastguard")
    tg_preview = driver.find_element(By.ID, "preview-telegram")
    dc_preview = driver.find_element(By.ID, "preview-discord")
    wait(driver, "the Telegram preview with the credit",
         lambda: "Photo: Kessel Coastguard" in tg_preview.text)  # fmt: skip
    wait(driver, "the Discord preview", lambda: HEADLINE in dc_preview.text)
    assert tg_preview.find_element(By.CSS_SELECTOR, ".tg-text b").text == HEADLINE
    assert tg_preview.find_element(By.CSS_SELECTOR, "img.tg-photo").get_attribute("src") == photo
    embed = dc_preview.find_element(By.CSS_SELECTOR, ".dc-embed")
    assert embed.find_element(By.CSS_SELECTOR, ".dc-embed-title").text == HEADLINE
    assert embed.find_element(By.CSS_SELECTOR, ".dc-embed-image").get_attribute("src") == photo
    assert "forty minutes" in [s.text for s in embed.find_elements(By.CSS_SELECTOR, "strong")]
    wait(driver, "the photo drawn", lambda: driver.execute_script(
        "return Array.from(document.images).every((i) => i.complete && i.naturalWidth > 0);"
    ))  # fmt: skip
    assert tg.control.transcript(info.telegram_channel_id) == ()  # a preview sends nothing
    assert text_of(driver, "preview-status") == ""
    shot("2-preview")

    driver.find_element(By.ID, "btn-publish").click()
    wait(driver, "the update listed", lambda: HEADLINE in item(driver).text)
    wait(driver, "delivery done", lambda: item(driver).get_attribute("data-done") == "yes")
    shown = wait(driver, "the list", lambda: item(driver).text)
    assert "delivered 2 / 2 · 0 failed (done)" in shown and "by Eda Editor" in shown
    update_id = wait(driver, "the id", lambda: item(driver).get_attribute("data-update"))
    [tg_copy] = tg.control.transcript(info.telegram_channel_id)
    assert tg_copy.photo_url == photo and HEADLINE in (tg_copy.caption or "")
    [dc_copy] = dc.control.transcript(info.discord_channel_id)
    assert dc_copy.embeds[0]["title"] == HEADLINE
    # The composer is ready for the next update; compose one for the README's picture.
    fill(driver, "f-headline", "Harbour wall closed to walkers until the tide turns")
    fill(driver, "f-body", "Waves are breaking over the **east pier**. Keep clear of the edge.")
    fill(driver, "f-image", photo)
    fill(driver, "f-credit", "Kessel Coastguard")
    wait(driver, "the next preview", lambda: "Harbour wall" in dc_preview.text)
    wait(driver, "the photo drawn", lambda: driver.execute_script(
        "return Array.from(document.images).every((i) => i.complete && i.naturalWidth > 0);"
    ))  # fmt: skip
    shot("3-published")
    if os.environ.get("RELAY_DESK_SCREENSHOT") == "1":
        shutil.copy(shots / "3-published.png", ROOT / "docs" / "img" / "desk.png")
    driver.find_element(By.ID, "composer").find_element(By.ID, "f-headline").clear()

    # Edit: the composer takes the update; saving edits every copy.
    click(driver, "Edit", lambda: item(driver).find_element(By.CSS_SELECTOR, ".btn-edit"))
    assert driver.find_element(By.ID, "f-headline").get_attribute("value") == HEADLINE
    assert driver.find_element(By.ID, "f-image").get_attribute("value") == photo
    fill(driver, "f-headline", EDITED)
    driver.find_element(By.ID, "btn-publish").click()
    wait(driver, "revision 2", lambda: "revision 2" in item(driver).text)
    wait(driver, "the edit delivered", lambda: item(driver).get_attribute("data-done") == "yes")
    wait(driver, "the Telegram copy edited", lambda: EDITED in (
        tg.control.transcript(info.telegram_channel_id)[0].caption or ""))  # fmt: skip
    assert dc.control.transcript(info.discord_channel_id)[0].embeds[0]["title"] == EDITED
    shot("4-edited")

    # Delete: confirmed, then every copy goes.
    click(driver, "Delete", lambda: item(driver).find_element(By.CSS_SELECTOR, ".btn-delete"))
    WebDriverWait(driver, WITHIN).until(expected_conditions.alert_is_present()).accept()
    wait(driver, "the deletion", lambda: "(deleted)" in item(driver).text)
    wait(driver, "the deletion done", lambda: item(driver).get_attribute("data-done") == "yes")
    wait(driver, "no Telegram copy", lambda: tg.control.transcript(info.telegram_channel_id) == ())
    assert [m.deleted for m in dc.control.transcript(info.discord_channel_id)] == [True]
    assert wait(driver, "the id", lambda: item(driver).get_attribute("data-update")) == update_id
    assert wait(driver, "no Edit button", lambda: not item(driver).find_elements(
        By.CSS_SELECTOR, ".btn-edit"))  # fmt: skip
    shot("5-deleted")

    # A photo from her computer: kept in the relay's media store (it has no public URL), drawn in
    # the preview from the desk, sent to Telegram as a file and to Discord as an attachment.
    picture = shots.parent / "lifeboat.png"
    picture.write_bytes(images.image("rain"))
    stored = MEDIA_URL + media_id(picture.read_bytes())
    fill(driver, "f-headline", "Lifeboat crew back in harbour after the night search")
    driver.find_element(By.ID, "f-upload").send_keys(str(picture))
    wait(driver, "the upload", lambda: text_of(driver, "composer-status").startswith(
        "Uploaded lifeboat.png"))  # fmt: skip
    assert driver.find_element(By.ID, "f-image").get_attribute("value") == stored
    local = f"{base}/desk/media/{media_id(picture.read_bytes())}"
    wait(driver, "the stored photo in both previews", lambda: [
        i.get_attribute("src") for i in driver.find_elements(
            By.CSS_SELECTOR, "#preview-telegram img.tg-photo, #preview-discord .dc-embed-image")
    ] == [local, local])  # fmt: skip
    wait(driver, "the photo drawn", lambda: driver.execute_script(
        "return Array.from(document.images).every((i) => i.complete && i.naturalWidth > 0);"
    ))  # fmt: skip
    shot("6-uploaded")
    driver.find_element(By.ID, "btn-publish").click()
    wait(driver, "the photo update listed", lambda: "Lifeboat" in item(driver).text)
    wait(driver, "its delivery done", lambda: item(driver).get_attribute("data-done") == "yes")
    [tg_copy] = tg.control.transcript(info.telegram_channel_id)
    assert tg_copy.photo_url is None and tg_copy.photo is not None  # uploaded, not by URL
    assert tg.engine.world.files[str(tg_copy.photo)] == picture.read_bytes()
    dc_copy = dc.control.transcript(info.discord_channel_id)[-1]
    assert dc_copy.attachments == (f"{media_id(picture.read_bytes())}.jpg",)
    assert dc_copy.embeds[0]["image"]["url"] == f"attachment://{dc_copy.attachments[0]}"

    # Scheduled two hours ahead: listed as waiting and sent nowhere; reworded; then cancelled.
    fill(driver, "f-headline", "Night ferry to run again from Friday")
    driver.execute_script(
        "const at = document.getElementById('f-at');"
        "at.value = localInput(new Date(Date.now() + 2 * 3600e3).toISOString());"
        "at.dispatchEvent(new Event('input', {bubbles: true}));"
    )
    assert driver.find_element(By.ID, "btn-publish").text == "Schedule"
    driver.find_element(By.ID, "btn-publish").click()
    wait(
        driver, "the schedule", lambda: text_of(driver, "composer-status").startswith("Scheduled ")
    )
    wait(driver, "the waiting update listed",
         lambda: item(driver).get_attribute("data-scheduled") == "yes")  # fmt: skip
    assert "scheduled for " in item(driver).text and "Night ferry" in item(driver).text
    waiting = item(driver).get_attribute("data-update")
    click(driver, "Edit", lambda: item(driver).find_element(By.CSS_SELECTOR, ".btn-edit"))
    assert driver.find_element(By.ID, "f-at").get_attribute("value") != ""
    fill(driver, "f-headline", "Night ferry to run again from Saturday")
    driver.find_element(By.ID, "btn-publish").click()
    wait(driver, "the change", lambda: text_of(driver, "composer-status").startswith("Changed "))
    wait(driver, "the new headline", lambda: "Saturday" in item(driver).text)
    shot("7-scheduled")
    click(driver, "Cancel", lambda: item(driver).find_element(By.CSS_SELECTOR, ".btn-delete"))
    WebDriverWait(driver, WITHIN).until(expected_conditions.alert_is_present()).accept()
    wait(driver, "the cancellation", lambda: text_of(driver, "composer-status").startswith(
        f"Cancelled {waiting}"))  # fmt: skip
    wait(
        driver,
        "it gone from the list",
        lambda: item(driver).get_attribute("data-update") != waiting,
    )
    shown = [m.caption for m in tg.control.transcript(info.telegram_channel_id)]
    assert shown == [tg_copy.caption]  # only the photo update went out

    # The session expires (as after session_minutes): the page's next call (the list's, within
    # a second) sends her to sign in.
    client = redis.Redis.from_url(redis_url)
    try:
        [key] = client.keys(Keys().desk_session("*"))
        client.pexpire(key, 1)
    finally:
        client.close()
    wait(driver, "the sign-in page", lambda: "/desk/signin" in driver.current_url)
    assert text_of(driver, "signin-message") == "Your session expired: sign in again."
    shot("8-expired")

    # Signed in again, she signs out: the desk is closed to this browser until the next sign-in.
    sign_in(driver, PASSWORD)
    wait(driver, "the composer again", lambda: driver.find_element(By.TAG_NAME, "body")
         .get_attribute("data-ready") == "yes")  # fmt: skip
    driver.find_element(By.ID, "btn-signout").click()
    wait(driver, "the sign-in page", lambda: driver.current_url.endswith("/desk/signin"))
    driver.get(f"{base}/desk/")
    wait(driver, "the sign-in page", lambda: driver.current_url.endswith("/desk/signin"))


async def test_sign_in_post_follow_edit_delete_and_expire_in_chromium(
    tmp_path: Path, valkey: EmbeddedValkey
) -> None:
    redis.Redis.from_url(valkey.url).flushall()

    async def harbour(request: web.Request) -> web.Response:
        return web.Response(body=images.image("harbour"), content_type="image/png")

    photos = web.Application()
    photos.router.add_get("/harbour.png", harbour)
    runner = web.AppRunner(photos)
    await runner.setup()
    photo_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", photo_port).start()
    photo = f"http://127.0.0.1:{photo_port}/harbour.png"
    port = free_port()
    async with TelegramSandbox() as tg, DiscordSandbox() as dc:
        info = provision(tg, dc)
        data = {
            **BASE_CONFIG,
            "redis": {"url": valkey.url},
            "console": {"enabled": False},
            "api": {"enabled": True, "port": port},
            "telegram": {"enabled": True, "api_url": info.telegram_api_url},
            "discord": {"enabled": True, "api_url": info.discord_api_url,
                        "gateway_url": info.discord_gateway_url},
            "channels": [
                {"destination": f"telegram:{info.telegram_channel_id}", "topics": ["ukraine"]},
                {"destination": f"discord:{info.discord_channel_id}", "topics": ["ukraine"]},
            ],
            "desk": {"enabled": True, "editors": [
                {"name": "Eda Editor", "password_hash": passwords.hash_password(PASSWORD)}]},
        }  # fmt: skip
        cfg = tmp_path / "relay.yaml"
        cfg.write_text(yaml.safe_dump(data))
        env = {**os.environ, "TELEGRAM_TOKEN": info.telegram_token,
               "DISCORD_TOKEN": info.discord_token}  # fmt: skip
        log = tmp_path / "relay.log"
        proc, driver = None, None
        try:
            proc = await start_relay(cfg, env, port, log, "--verbose")
            driver = await asyncio.to_thread(chromium, tmp_path / "profile")
            shots = tmp_path / "shots"
            shots.mkdir()
            await asyncio.to_thread(
                scenario, driver, f"http://127.0.0.1:{port}", photo, info, tg, dc, valkey.url, shots
            )
        finally:
            if driver is not None:
                await asyncio.to_thread(driver.quit)
            await stop_relay(proc)
            await runner.cleanup()
    text = log.read_text()
    assert "desk: Eda Editor signed in" in text and "desk: wrong name or password" in text
    assert PASSWORD not in text and "scrypt$" not in text  # --verbose logs included
