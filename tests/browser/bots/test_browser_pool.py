from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bots.browser_pool import BrowserPool, clean_stray_browser_dirs
from fleet.settings import get_settings

pytestmark = pytest.mark.browser


def test_stray_dirs_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = tmp_path / "browser-999999999"
    alive = tmp_path / f"browser-{os.getppid()}"
    mine = tmp_path / f"browser-{os.getpid()}"
    for d in (dead, alive, mine):
        (d / "downloads").mkdir(parents=True)
    removed = clean_stray_browser_dirs(tmp_path)
    assert dead in removed
    assert not dead.exists()
    assert alive.exists()
    assert mine.exists()


async def test_one_browser_many_contexts_under_a_ceiling(tmp_path: Path) -> None:
    settings = get_settings(data_dir=tmp_path)
    peak = 0
    async with BrowserPool(settings.browser_options(), data_dir=tmp_path, max_contexts=2) as pool:

        async def job(i: int) -> str:
            nonlocal peak
            async with pool.context() as ctx:
                peak = max(peak, pool.open_contexts)
                page = await ctx.new_page()
                await page.set_content(f"<h1>job {i}</h1>")
                return await page.get_by_role("heading").inner_text()

        results = await asyncio.gather(*(job(i) for i in range(5)))
        assert results == [f"job {i}" for i in range(5)]
        assert peak == 2
        assert pool.contexts_created == 5
        assert pool.open_contexts == 0
        assert pool.downloads_dir.is_dir()
    assert not pool.downloads_dir.exists()


async def test_context_is_closed_even_when_the_job_fails(tmp_path: Path) -> None:
    options = get_settings(data_dir=tmp_path).browser_options()
    async with BrowserPool(options, data_dir=tmp_path, max_contexts=1) as pool:
        seen = []

        async def failing_job() -> None:
            async with pool.context() as ctx:
                seen.append(ctx)
                await ctx.new_page()
                raise RuntimeError("job failed")

        with pytest.raises(RuntimeError):
            await failing_job()
        (ctx,) = seen
        assert pool.open_contexts == 0
        assert ctx.pages == []


def _environ_of_processes_naming(text: str) -> dict[str, bytes]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
                if b"chrom" in cmd and text.encode() in cmd:
                    found[entry.name] = (entry / "environ").read_bytes()
            except OSError:
                continue
    return found


async def test_chromium_never_sees_the_keyring_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "keyring-password-for-env-test-0451"
    monkeypatch.setenv("FLEET_KEYRING_PASSWORD", password)
    settings = get_settings(data_dir=tmp_path)
    async with (
        BrowserPool(settings.browser_options(), data_dir=tmp_path) as pool,
        pool.context() as ctx,
    ):
        await (await ctx.new_page()).set_content("<h1>hello</h1>")
        environs = await asyncio.to_thread(_environ_of_processes_naming, str(tmp_path))
    assert environs, "no Chromium process of this pool was seen"
    assert not [pid for pid, env in environs.items() if password.encode() in env]
