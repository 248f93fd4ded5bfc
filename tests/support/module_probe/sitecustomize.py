"""Lets a test read the module list of a server process it started as a black box (``run.sh``).

Python imports ``sitecustomize`` at start-up when this folder is on ``PYTHONPATH``. With
``STRATUS_MODULE_PROBE_DIR`` set, a daemon thread answers each ``ask-N`` file that appears there
with ``modules-N.json``: the names in ``sys.modules`` at that moment. Standard library only.
"""

import json
import os
import sys
import threading
import time

_DIR = os.environ.get("STRATUS_MODULE_PROBE_DIR")


def _answer(directory: str) -> None:
    asked = 0
    while True:
        if os.path.exists(os.path.join(directory, f"ask-{asked}")):
            partial = os.path.join(directory, f".modules-{asked}.json")
            with open(partial, "w") as out:
                json.dump(sorted(sys.modules.copy()), out)  # copy: atomic under the GIL
            os.replace(partial, os.path.join(directory, f"modules-{asked}.json"))
            asked += 1
        time.sleep(0.01)


if _DIR:
    threading.Thread(target=_answer, args=(_DIR,), daemon=True, name="module-probe").start()
