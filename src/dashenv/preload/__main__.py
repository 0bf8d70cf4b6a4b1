"""``python -m dashenv.preload serve PATH | status | stop``"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from dashenv.preload.protocol import socket_dir, socket_path


def _main(args: list[str]) -> int:
    if args[:1] == ["serve"] and len(args) == 2:
        from dashenv.preload.server import serve

        serve(Path(args[1]))
        return 0
    if args == ["status"]:  # read from the server's record: a probe would be a call
        path = socket_path()
        try:
            record = json.loads(path.with_suffix(".json").read_text())
            os.kill(int(record["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            record = None
        if record is None or not path.exists():
            print(f"{path} (no server)")
        else:
            print(f"{path} (listening; pid {record['pid']}, served {record['served']})")
        return 0
    if args == ["stop"]:
        for sock in socket_dir().glob("preload-*.sock"):
            sock.unlink(missing_ok=True)  # each server sees its name gone and leaves
            sock.with_suffix(".json").unlink(missing_ok=True)
        return 0
    print("usage: python -m dashenv.preload status | stop", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
