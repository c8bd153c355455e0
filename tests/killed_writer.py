"""Child processes that stop in the middle of writing, for tests that kill them there.

Each child prints one line when it has reached the point to be killed at and then waits; the
test reads that line (no sleeps, no timing) and sends the signal it is about. With
`pid_namespace=True` the child runs as PID 1 of a new PID namespace (`unshare`), the way a
container or a Flatpak sandbox starts it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# save_image stops after its temp file is fully written, before the rename (fsync is the hook).
STALLED_SAVE = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np
    from editor.core import imageio

    def stall(fd):
        print("writing", flush=True)
        time.sleep(600)

    os.fsync = stall
    imageio.save_image(sys.argv[1], np.full((64, 64, 3), 7, np.uint8))
    """
)

# One autosave is written completely (image, mask, JSON), then the writer keeps its slot open.
AUTOSAVE_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import numpy as np
    from editor.ui.autosave import Snapshot, SlotWriter

    image = np.zeros((24, 32, 3), np.uint8)
    image[:, :16] = (250, 20, 20)
    mask = np.zeros((24, 32), np.uint8)
    mask[4:9, 5:12] = 255
    writer = SlotWriter(Path(sys.argv[1]), sys.argv[2])
    writer.write(Snapshot(image, mask, {"time": 1.0, "source": None, "pid": os.getpid()}))
    print("saved", os.getpid(), flush=True)
    time.sleep(600)
    """
)


def unshare_available() -> bool:
    """Whether this machine lets us start a child in its own PID namespace."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True
    )
    return probe.returncode == 0


class Child:
    """A running child script and the pid to signal (the script's own, also in a namespace)."""

    def __init__(self, script: str, args: list[str], *, pid_namespace: bool = False) -> None:
        command = [sys.executable, "-c", script, *args]
        if pid_namespace:
            command = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", *command]
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
        )
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.first_line = self.proc.stdout.readline().strip()
        if not self.first_line:
            self.proc.wait(timeout=60)
            raise AssertionError(f"child ended early: {self.proc.stderr.read()}")
        self.pid = self._script_pid() if pid_namespace else self.proc.pid

    def _script_pid(self) -> int:
        """The script's pid as seen from here (inside its namespace it is 1)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return int(children.split()[0])

    def kill(self, signum: int = signal.SIGKILL) -> int:
        """Send `signum` to the script and wait until it (and unshare around it) has ended."""
        os.kill(self.pid, signum)
        return self.proc.wait(timeout=60)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(timeout=60)
        self.proc.stdout.close()
        self.proc.stderr.close()
