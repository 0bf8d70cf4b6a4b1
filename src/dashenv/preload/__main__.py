"""``python -m dashenv.preload serve PATH | status | stop``"""

from __future__ import annotations

import sys
from pathlib import Path

from dashenv.preload.protocol import server_record, socket_dir, socket_path


def _main(args: list[str]) -> int:
    if args[:1] == ["serve"] and len(args) == 2:
        from dashenv.preload.server import serve

        serve(Path(args[1]))
        return 0
    if args == ["status"]:  # read from the server's record: a probe would be a call
        path = socket_path()
        record = server_record(path)
        if record is None:
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
