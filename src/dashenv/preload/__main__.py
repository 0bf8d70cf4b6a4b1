"""``python -m dashenv.preload status | stop`` (the server itself: ``dashenv.preloaded``)"""

from __future__ import annotations

import sys

from dashenv.preload.protocol import server_record, socket_path, stop_servers


def _main(args: list[str]) -> int:
    if args == ["status"]:  # read from the server's record: a probe would be a call
        path = socket_path()
        record = server_record(path)
        if record is None:
            print(f"{path} (no server)")
        else:
            print(f"{path} (listening; pid {record['pid']}, served {record['served']})")
        return 0
    if args == ["stop"]:
        stop_servers()  # each server sees its name gone and leaves
        return 0
    print("usage: python -m dashenv.preload status | stop", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
