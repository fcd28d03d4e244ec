"""Who may write an output folder of ``synthesize``, and which of its files this tool wrote.

**One run at a time.** A run claims the folder before it reads or writes any state: it writes a
claim file (``OUT/.synthesize/claim-*.json``: run, host, process id and start, command) while
holding an advisory lock on ``OUT/.synthesize/lock``, after checking that no other run holds a
live claim. The claim is removed on any exit (normal, error, KeyboardInterrupt); a claim left by
a process that is gone (killed, crashed) is recognised as stale and removed. The processes of
one ``torchrun`` launch share a run identity, so they work side by side; any other run is refused.

**Records.** Before an output is written its path is recorded with the digest of the settings
it is made with; once written, again with the SHA-256 of the file
(``OUT/.synthesize/written-R-of-N.jsonl``, one per process of a run, appended and synced). An
output counts as finished only when a record of the current settings holds its present
SHA-256, so a file this tool did not write, an empty or damaged file and one made with other
settings are never taken for a finished output.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shlex
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from senmvae.atomic import write_text_atomic
from senmvae.errors import UserError

STATE_DIR = ".synthesize"
LOCK_FILE = "lock"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def settings_digest(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def run_identity(world_size: int) -> str:
    """One name for every process of a run: the torchrun launch (its run id and rendezvous
    address, which two live launches cannot share) or, for a single process, a fresh one."""
    if world_size > 1:
        keys = ("TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT")
        return "torchrun " + " ".join(f"{key}={os.environ.get(key, '')}" for key in keys)
    return uuid.uuid4().hex


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), so that a new process
    that was given the number of a dead one is told apart; None where /proc is not there."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the command name before it may hold spaces


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    now = _process_start(pid)
    return started is None or now is None or now == started


@dataclass(frozen=True)
class Claim:
    run: str
    host: str
    pid: int
    process_start: str | None
    started: str
    command: str

    def is_stale(self) -> bool:
        """The claiming process is gone (known only for claims made on this host)."""
        return self.host == socket.gethostname() and not _alive(self.pid, self.process_start)

    def describe(self) -> str:
        return f"process {self.pid} on {self.host}, started {self.started}: {self.command}"


def _read_claim(file: Path) -> Claim | None:
    try:
        return Claim(**json.loads(file.read_text()))
    except FileNotFoundError:  # released meanwhile
        return None
    except (OSError, ValueError, TypeError):  # not written by this module (claims are written atomically)
        return None


@contextmanager
def owning(output_dir: Path, run: str) -> Iterator[None]:
    """Hold ``output_dir`` for the run ``run`` while inside; refuse (UserError) when another
    live run holds it."""
    state = output_dir / STATE_DIR
    mine = _claim(state, run)
    try:
        yield
    finally:
        mine.unlink(missing_ok=True)


def _claim(state: Path, run: str) -> Path:
    state.mkdir(parents=True, exist_ok=True)
    host, pid = socket.gethostname(), os.getpid()
    with open(state / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed, or the process ends
        for file in sorted(state.glob("claim-*.json")):
            other = _read_claim(file)
            if other is None or other.is_stale():
                file.unlink(missing_ok=True)
            elif other.run != run:
                raise UserError(_busy_message(state.parent, other, file))
        claim = Claim(
            run=run,
            host=host,
            pid=pid,
            process_start=_process_start(pid),
            started=time.strftime("%Y-%m-%d %H:%M:%S"),
            command=shlex.join(["senmvae", *sys.argv[1:]]),
        )
        file = state / f"claim-{re.sub(r'[^A-Za-z0-9.-]', '_', host)}-{pid}-{uuid.uuid4().hex[:8]}.json"
        write_text_atomic(file, json.dumps(asdict(claim)) + "\n")
    return file


def _busy_message(output_dir: Path, other: Claim, file: Path) -> str:
    gone = (
        f"if that process is no longer running (its host went down), delete {file}"
        if other.host != socket.gethostname()
        else "wait for it to finish"
    )
    return (
        f"{output_dir} is being written by another synthesize run ({other.describe()}); two runs in one "
        f"folder would mix their outputs and settings. Use another --output, or {gone}"
    )


class Records:
    """The record of the outputs this run writes, and of those written before, in ``state``."""

    def __init__(self, state: Path, rank: int, world_size: int):
        self.state = state
        self.file = state / f"written-{rank}-of-{world_size}.jsonl"

    def read(self) -> dict[str, set[tuple[str, str | None]]]:
        """Per output (its path in the folder), the (settings digest, SHA-256 or None) recorded."""
        found: dict[str, set[tuple[str, str | None]]] = {}
        for file in sorted(self.state.glob("written-*.jsonl")):
            for line in file.read_text(errors="replace").splitlines():
                try:
                    record = json.loads(line)
                    found.setdefault(record["output"], set()).add((record["settings"], record.get("sha256")))
                except (ValueError, KeyError, TypeError):  # a line cut short by a kill: its output was never written
                    continue
        return found

    def add(self, output: str, digest: str, sha256: str | None = None) -> None:
        """Record ``output`` as about to be written (``sha256`` None) or as written."""
        entry = {"output": output, "settings": digest} | ({"sha256": sha256} if sha256 else {})
        self.state.mkdir(parents=True, exist_ok=True)
        with open(self.file, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
