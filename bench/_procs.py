"""Child processes for the bench: start pinned, handshake with a timeout, always stop.

Servers, the emulator and the load generator each run in their own process so that no process
measures another one's work: a server process holds only uvicorn and the app under test.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["REPO", "Child", "Pinning", "plan_pinning"]

#: The repository root: children run ``python -m bench.<module>`` from here.
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Pinning:
    """Which CPU the server and the load generator get, and how that is enforced.

    With two cores, a server and a load generator left to the scheduler keep migrating and
    sharing a core; pinning them apart makes the server's core its own, so requests/s measure the
    server and not the scheduler.
    """

    server_cpu: int | None
    load_cpu: int | None
    method: str

    def describe(self) -> str:
        if self.server_cpu is None:
            return f"not pinned ({self.method})"
        return (f"server on cpu{self.server_cpu}, load generator on cpu{self.load_cpu} "
                f"({self.method})")

    def wrap(self, command: Sequence[str], cpu: int | None) -> tuple[list[str], Any]:
        """The command line and ``preexec_fn`` that run ``command`` on ``cpu``."""
        if cpu is None:
            return list(command), None
        if self.method == "taskset":
            return ["taskset", "-c", str(cpu), *command], None

        def pin() -> None:
            os.sched_setaffinity(0, {cpu})

        return list(command), pin

    def pin_self(self, cpu: int | None) -> None:
        """Keep the orchestrating process off the server's core while servers are measured."""
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {cpu})


def plan_pinning() -> Pinning:
    """Server on the first allowed CPU, load generator on the second, if there are two."""
    if not hasattr(os, "sched_getaffinity"):
        return Pinning(None, None, "no CPU affinity on this platform")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return Pinning(None, None, "fewer than 2 CPUs available")
    method = "taskset" if shutil.which("taskset") else "sched_setaffinity, taskset not found"
    return Pinning(cpus[0], cpus[1], method)


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far, from /proc; None where unavailable.

    Read around a measurement, it says whether the server was saturated (about one CPU-second
    per second) or the load generator could not keep it busy.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the ")" closing the command name: state is field 3, utime 14 and stime 15 (man 5 proc).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_env() -> dict[str, str]:
    """The bench package is not installed: children find it through PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Child:
    """A ``python -m bench.<module>`` child that prints one JSON line once it is ready.

    Closing its stdin asks it to stop (the emulator); :meth:`stop` also terminates and, after a
    bounded wait, kills. stderr goes to a temporary file so a full pipe can never stall a child,
    and a failed start shows what the child said.
    """

    def __init__(self, name: str, module: str, args: Sequence[str], *, cpu: int | None,
                 pinning: Pinning) -> None:
        self.name = name
        command, preexec = pinning.wrap([sys.executable, "-m", module, *args], cpu)
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=REPO, env=child_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, preexec_fn=preexec,
        )

    def handshake(self, timeout: float) -> dict[str, Any]:
        """The child's ready line (a JSON object), or an error naming what went wrong."""
        stdout = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([stdout], [], [], 0.2)
            if ready:
                line = stdout.readline()
                if not line:
                    break
                data: dict[str, Any] = json.loads(line)
                return data
            if self.process.poll() is not None:
                break
        said = self.errors()  # before stop() closes the file it is kept in
        self.stop()
        raise RuntimeError(f"{self.name} did not start within {timeout:.0f} s:\n{said}")

    def errors(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-4000:]

    def stop(self, timeout: float = 5.0) -> None:
        process = self.process
        if process.poll() is None:
            try:
                if process.stdin is not None:
                    process.stdin.close()
            except OSError:
                pass
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        for stream in (process.stdout, process.stdin):
            if stream is not None and not stream.closed:
                stream.close()
        self._stderr.close()


def run_json(command: Sequence[str], *, stdin: bytes, timeout: float,
             preexec: Callable[[], None] | None) -> dict[str, Any]:
    """Run a short-lived child that prints one JSON object; bounded by ``timeout``."""
    result = subprocess.run(
        list(command), cwd=REPO, env=child_env(), input=stdin, capture_output=True,
        timeout=timeout, preexec_fn=preexec,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({result.returncode}):\n"
                           f"{result.stderr.decode('utf-8', 'replace')[-4000:]}")
    data: dict[str, Any] = json.loads(result.stdout)
    return data
