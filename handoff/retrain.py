"""Publishing the knowledge base: write the edits into the bot's data, retrain, gate, load.

One run, on whichever hub process holds the retrain lease (``store.knowledge.acquire``):

1. writing  – every response's newest version goes into the YAML files (``handoff.kbdata``);
2. training – ``rasa train`` in the background (``nice``), in the bot's folder, so Rasa's training
   cache is the one ``make train`` filled there (``.rasa/cache``: Rasa records its entries
   relative to the working directory) or ``RASA_CACHE_DIRECTORY``; only the components the
   change reaches are trained again. A model whose data hash already exists in ``models/``
   (a rollback) is reused;
3. gating   – ``python -m handoff.kbgate`` plays the conversation tests against the new model on
   a throw-away Rasa server;
4. loading  – ``PUT /model`` on every Rasa server of ``RASA_URL``, one after the other.

The old model answers customers until step 4. A failure at any step leaves it serving, puts
the data files back to what the live model was trained on, and records why (shown in the
console). Stage, elapsed time and the log's tail are stored on the run's row every second, so
every hub process's console can show the progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from handoff import kbdata
from handoff.rasa_client import parse_rasa_urls
from handoff.settings import Settings
from handoff.store import Store

log = logging.getLogger("handoff.retrain")

LEASE_SECONDS = 60.0
BEAT_SECONDS = 2.0
SWEEP_SECONDS = 30.0
LOG_TAIL_LINES = 14
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def log_tail(raw: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a training log as a person would read them: progress bars redraw a line
    with ``\\r``, so only each line's last state is kept; colour codes are dropped."""
    out = []
    for line in _ANSI.sub("", raw).split("\n"):
        last = line.split("\r")[-1].rstrip() or next((p.rstrip() for p in reversed(line.split("\r")) if p.strip()), "")
        if last.strip():
            out.append(last[:300])
    return "\n".join(out[-lines:])


class RetrainError(Exception):
    """A step failed; the message is shown to the supervisor."""


class Retrainer:
    """Starts runs when there is something to publish; at most one at a time across hubs."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store
        self.root = Path(settings.kb_root)
        self.holder = f"{socket.gethostname()[:40]}:{os.getpid()}"
        self.enabled = settings.kb_retrain
        self._task: asyncio.Task | None = None
        self._sweeper: asyncio.Task | None = None

    async def start(self) -> None:
        if self.enabled:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def stop(self) -> None:
        for task in (self._sweeper, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def kick(self, agent_id: int | None = None, force: bool = False) -> None:
        """Publish what is pending, in the background (a no-op while this process runs one)."""
        if self.enabled and not self.busy:
            self._task = asyncio.get_running_loop().create_task(self._run(agent_id, force))

    async def _sweep(self) -> None:
        """Picks up edits whose hub died before publishing them."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            with contextlib.suppress(Exception):
                self.kick()

    async def _run(self, agent_id: int | None, force: bool) -> None:
        kb = self.store.knowledge
        if not await kb.acquire(self.holder, LEASE_SECONDS):
            return
        try:
            await kb.abandon_running(time.time() - LEASE_SECONDS)
            while True:
                newest = await kb.newest_id()
                if not force and newest <= await kb.last_attempt_up_to():
                    break
                ok = await self._publish(newest, agent_id)
                force = False
                if not ok:
                    break
        except Exception:
            log.exception("knowledge retrain crashed")
        finally:
            with contextlib.suppress(Exception):
                await kb.release(self.holder)
        # An edit saved while the lease was held may have found it taken: look once more.
        with contextlib.suppress(Exception):
            if await kb.newest_id() > await kb.last_attempt_up_to():
                self._task = None
                self.kick()

    # -- one run -------------------------------------------------------------------------

    async def _texts(self, up_to: int) -> tuple[dict[str, str], dict[str, str]]:
        """(every versioned response's text in this run, its text in the live model)."""
        kb = self.store.knowledge
        target = {k: v["after_text"] for k, v in (await kb.newest_per_key(up_to)).items()}
        live_versions = await kb.newest_per_key(await kb.live_up_to())
        originals = await kb.first_per_key()
        live = {k: live_versions[k]["after_text"] if k in live_versions else originals.get(k, target[k]) for k in target}
        return target, live

    async def _publish(self, up_to: int, agent_id: int | None) -> bool:
        kb = self.store.knowledge
        target, live = await self._texts(up_to)
        changes = {k: {"before": live[k], "after": target[k]} for k in target if target[k] != live[k]}
        run_id = await kb.start_training(up_to, sorted(changes), agent_id, self.holder)
        folder = Path(tempfile.mkdtemp(prefix="kefu-kb-"))
        log_path = folder / "retrain.log"
        log_path.write_text("", encoding="utf-8")
        beat = asyncio.get_running_loop().create_task(self._beat(run_id, log_path))
        written = False
        try:
            await asyncio.to_thread(kbdata.write_texts, self.root, target)
            written = True
            model, train_seconds = await self._train(run_id, log_path)
            await kb.update_training(run_id, stage="gating", train_seconds=train_seconds, model=model.name)
            gate, gate_seconds = await self._gate(model, changes, folder, log_path)
            await kb.update_training(run_id, gate=gate, gate_seconds=gate_seconds)
            if gate.get("failures") or gate.get("domain_problems") or gate.get("error"):
                raise RetrainError(_gate_message(gate))
            await kb.update_training(run_id, stage="loading")
            await self._load(model, log_path)
            await kb.update_training(run_id, state="done", stage="done", finished_at=time.time(),
                                     log_tail=log_tail(log_path.read_text(encoding="utf-8", errors="replace")))
            self._prune(model)
            return True
        except asyncio.CancelledError:  # the hub is stopping: its files must not keep untested texts
            if written:
                with contextlib.suppress(Exception):
                    kbdata.write_texts(self.root, live)
            with contextlib.suppress(Exception):
                await asyncio.shield(kb.update_training(run_id, state="failed", finished_at=time.time(),
                                                        error="中断：服务进程停止 (the hub stopped)"))
            raise
        except Exception as exc:
            message = str(exc) if isinstance(exc, (RetrainError, kbdata.DataError)) else f"{type(exc).__name__}: {exc}"
            log.warning("knowledge retrain %s failed: %s", run_id, message)
            if written:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(kbdata.write_texts, self.root, live)
            await kb.update_training(run_id, state="failed", finished_at=time.time(), error=message[:4000],
                                     log_tail=log_tail(log_path.read_text(encoding="utf-8", errors="replace")))
            return False
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _beat(self, run_id: int, log_path: Path) -> None:
        """Keeps the lease and shows progress: the log's tail every couple of seconds."""
        kb = self.store.knowledge
        while True:
            await asyncio.sleep(BEAT_SECONDS)
            with contextlib.suppress(Exception):
                await kb.renew(self.holder, LEASE_SECONDS)
                raw = await asyncio.to_thread(_read_end, log_path)
                await kb.update_training(run_id, log_tail=log_tail(raw))

    def _env(self) -> dict[str, str]:
        from bot.runtime import training_env

        env = training_env()
        # the bot's folder first (its own bot/ if it has one), then this checkout (handoff, bench, bot)
        here = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.root), here, env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONWARNINGS"] = "ignore"  # library deprecation notices would push the progress out of the tail
        return env

    async def _train(self, run_id: int, log_path: Path) -> tuple[Path, float]:
        from bot.runtime import model_path

        model = await asyncio.to_thread(model_path, self.root)
        await self.store.knowledge.update_training(run_id, stage="training")
        started = time.monotonic()
        if model.exists():  # e.g. a rollback to data a model was trained on before
            with open(log_path, "a", encoding="utf-8") as handle:
                handle.write(f"[train] {model.name} exists for this data: reused, nothing to train\n")
            return model, 0.0
        model.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=model.parent, prefix="kb-train-"))
        rasa = str(Path(sys.executable).parent / "rasa")
        cmd = ["nice", "-n", "10", rasa, "train", "--config", "config.yml", "--domain", "domain.yml",
               "--data", "data", "--out", str(tmp), "--fixed-model-name", "model"]
        try:
            code = await _run_logged(cmd, self.root, self._env(), log_path)
            if code != 0 or not (tmp / "model.tar.gz").exists():
                raise RetrainError(f"训练失败 (rasa train exited with {code}); see the log")
            os.replace(tmp / "model.tar.gz", model)
        finally:
            for leftover in tmp.glob("*"):
                leftover.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                tmp.rmdir()
        return model, round(time.monotonic() - started, 1)

    async def _gate(self, model: Path, changes: dict[str, dict[str, str]], folder: Path,
                    log_path: Path) -> tuple[dict[str, Any], float]:
        started = time.monotonic()
        (folder / "changes.json").write_text(json.dumps(changes, ensure_ascii=False), encoding="utf-8")
        out = folder / "gate.json"
        cmd = ["nice", "-n", "10", sys.executable, "-m", "handoff.kbgate", "--model", str(model),
               "--changes", str(folder / "changes.json"), "--out", str(out),
               "--mode", self.settings.kb_gate, "--smoke", str(self.settings.kb_gate_smoke)]
        code = await _run_logged(cmd, self.root, self._env(), log_path)
        seconds = round(time.monotonic() - started, 1)
        if not out.exists():
            return {"error": f"gate exited with {code} before reporting"}, seconds
        return json.loads(out.read_text(encoding="utf-8")), seconds

    async def _load(self, model: Path, log_path: Path) -> None:
        """``PUT /model`` on each Rasa server in turn, so the others answer while one loads; if
        one refuses, the servers already switched go back to their previous model."""
        urls = parse_rasa_urls(self.settings.rasa_url)
        timeout = aiohttp.ClientTimeout(total=600)
        switched: list[tuple[str, str | None]] = []
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for url in urls:
                previous = None
                with contextlib.suppress(Exception):
                    async with session.get(f"{url}/status") as resp:
                        previous = (await resp.json()).get("model_file")
                _append(log_path, f"[load] {url}: loading {model.name}\n")
                try:
                    async with session.put(f"{url}/model", json={"model_file": str(model.resolve())}) as resp:
                        if resp.status != 204:
                            raise RetrainError(f"上线失败：{url} answered {resp.status}: {(await resp.text())[:300]}")
                except aiohttp.ClientError as exc:
                    raise RetrainError(f"上线失败：{url} unreachable ({type(exc).__name__})") from exc
                except RetrainError:
                    await _restore(session, switched, log_path)
                    raise
                switched.append((url, previous))
                _append(log_path, f"[load] {url}: serving {model.name}\n")

    def _prune(self, keep: Path) -> None:
        from bot.runtime import prune_models

        with contextlib.suppress(OSError):
            prune_models(keep.parent, keep=keep, spare=2)


async def _restore(session: aiohttp.ClientSession, switched: list[tuple[str, str | None]], log_path: Path) -> None:
    for url, previous in switched:
        if previous:
            with contextlib.suppress(Exception):
                async with session.put(f"{url}/model", json={"model_file": previous}) as resp:
                    _append(log_path, f"[load] {url}: back to {Path(previous).name} ({resp.status})\n")


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def _read_end(path: Path, size: int = 16384) -> str:
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - size))
        return handle.read().decode("utf-8", errors="replace")


async def _run_logged(cmd: list[str], cwd: Path, env: dict[str, str], log_path: Path) -> int:
    """Run a child with its output appended to the run's log; killed (its whole session) if the
    run is cancelled, so a stopping hub leaves no training behind."""
    with open(log_path, "ab") as handle:
        proc = await asyncio.create_subprocess_exec(*cmd, cwd=cwd, env=env, stdout=handle,
                                                    stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    try:
        return await proc.wait()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        raise


def _gate_message(gate: dict[str, Any]) -> str:
    if gate.get("error"):
        return f"对话测试未能运行：{gate['error']}"
    parts = [f"对话测试未通过：{gate.get('passed', 0)} / {gate.get('selected', 0)} 通过"]
    parts += [f"{p}" for p in gate.get("domain_problems") or []]
    for failure in (gate.get("failures") or [])[:5]:
        parts.append(f"{failure['name']} — {'; '.join(failure['problems'])}")
    return "\n".join(parts)
