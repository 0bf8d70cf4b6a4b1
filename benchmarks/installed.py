"""dashenv as a user's install has it: its modules' bytecode compiled.

pip compiles a wheel's modules when it installs them; an editable install compiles them on
first import, unless PYTHONDONTWRITEBYTECODE is set (as on some CI and sandbox machines),
and then every fresh process compiles dashenv's modules again (about 120 ms of a fresh
'dashenv status' on a 2-core machine). The benchmarks measure the installed case: they call
``compile_dashenv()`` first."""

from __future__ import annotations


def compile_dashenv() -> None:
    import compileall
    from pathlib import Path

    import dashenv

    compileall.compile_dir(Path(dashenv.__file__).parent, quiet=1)
