"""The ``dashenv`` command. Kept light: heavy libraries load inside the commands that use them."""

from __future__ import annotations

import io
import sys
from typing import Annotated, Any, ClassVar, NoReturn

import typer
from typer.core import TyperArgument, TyperGroup

from dashenv import __version__
from dashenv.cli.state import from_options
from dashenv.commands import COMMANDS, ROOT_VALUE_OPTIONS
from dashenv.errors import DashenvError, ExitCode, PassThrough, Unhealthy

CONTEXT = {"help_option_names": ["-h", "--help"]}


_ERRORS: list[Any] = []  # with -q: the stream errors still go to (everything else is quiet)


class _Dropped(io.TextIOBase):
    """Where -q sends everything but errors: written, and gone."""

    def write(self, s: str) -> int:
        return len(s)


def _print_error(err: DashenvError) -> None:
    stream = _ERRORS[-1] if _ERRORS else sys.stderr
    stream.write(f"Error: {err.message}\n")
    if err.details:
        stream.write(err.details.rstrip("\n") + "\n")
    if err.hint:
        stream.write(f"Hint: {err.hint}\n")


def _interrupted(exc: BaseException) -> bool:
    """Ctrl-C that a library turned into its own error: pydantic-core, building a model's
    validator while the settings module is first imported, reports the KeyboardInterrupt as
    a SchemaError whose text names it; elsewhere it stays in the chain."""
    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        if isinstance(seen, KeyboardInterrupt):
            return True
        if type(seen).__name__ == "SchemaError" and "KeyboardInterrupt" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class DashenvGroup(TyperGroup):
    """Turns every expected failure into one line, a hint and its exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PassThrough as exc:
            raise typer.Exit(exc.code) from None
        except Unhealthy as exc:  # the report already said why
            raise typer.Exit(int(exc.exit_code)) from None
        except DashenvError as exc:
            _print_error(exc)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            sys.stderr.write("Interrupted.\n")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except Exception as exc:
            if _interrupted(exc):
                sys.stderr.write("Interrupted.\n")
                raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
            if not _is_usage_error(exc):
                raise
            _usage_exit(exc)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """A mistyped command suggests the nearest ones ("Did you mean 'doctor'?"), from
        every command this group lists (the root's load lazily, so typer's own suggestion,
        which reads the loaded ones, finds none there)."""
        try:
            return super().resolve_command(ctx, args)
        except Exception as exc:
            message = getattr(exc, "message", "")
            if _is_usage_error(exc) and args and "Did you mean" not in message:
                from difflib import get_close_matches

                near = get_close_matches(args[0], self.list_commands(ctx))
                if near and message.startswith("No such command"):
                    suggested = ", ".join(repr(n) for n in near)
                    exc.message = f"{message.rstrip('.')}. Did you mean {suggested}?"  # type: ignore[attr-defined]
            raise

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return list(super().parse_args(ctx, args))
        except Exception as exc:
            if not _is_usage_error(exc):
                raise
            _usage_exit(exc)


# short options people type from docker compose habit, which dashenv spells out on purpose
COMPOSE_HABITS = {
    ("down", "-v"): "--volumes (it deletes the environment's data: dashenv "
    "asks for it by its whole name)"
}


def _usage_exit(exc: Exception) -> NoReturn:
    """click's usage errors, made one line and a hint like every other error."""
    where = getattr(getattr(exc, "ctx", None), "command_path", None) or "dashenv"
    message = exc.format_message()  # type: ignore[attr-defined]
    habit = COMPOSE_HABITS.get((where.rpartition(" ")[2], getattr(exc, "option_name", "")))
    hint = f"did you mean {habit}? see '{where} -h'" if habit else f"see '{where} -h'"
    _print_error(DashenvError(message, hint=hint))
    raise typer.Exit(int(ExitCode.USAGE)) from None


def _is_usage_error(exc: Exception) -> bool:
    """click's UsageError, whether typer vendors click or uses the package (but not the
    bare command's "show the help" signal, which click prints as it is)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return "UsageError" in names and "NoArgsIsHelpError" not in names


# Commands load lazily: `dashenv --help` lists them from dashenv.commands without importing
# their modules (tests/test_docs.py keeps the summaries equal to the docstrings).


class LazyGroup(DashenvGroup):
    """The root group: a command's module is imported only when that command is used."""

    _loaded: ClassVar[dict[str, Any]] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, name: str) -> Any:
        if name not in COMMANDS:
            return super().get_command(ctx, name)
        module_name = COMMANDS[name].module
        if module_name not in self._loaded:
            import importlib

            module = importlib.import_module(f"dashenv.cli.{module_name}")
            holder = new_app()
            module.register(holder)
            self._loaded[module_name] = conventional(typer.main.get_command(holder))
        return self._loaded[module_name].commands.get(name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, c.summary) for name, c in COMMANDS.items()])


class ConventionalArgument(TyperArgument):
    """An argument shown as Compose, gh and uv show theirs: ``ENV``, ``[SERVICE]...``, never
    a Python type (``ENV <str>``) or braces (``{ENV}``)."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _rich_display_name(self) -> str:
        return self.display_name_raw + ("..." if self.nargs != 1 else "")

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")


def conventional(command: Any, path: str = "") -> Any:
    """``command`` and every command under it (``path``: its words), their arguments made
    conventional and their examples (``dashenv.commands.EXAMPLES``) ending their help."""
    from dashenv.commands import EXAMPLES

    for param in getattr(command, "params", []):
        if isinstance(param, TyperArgument):
            param.__class__ = ConventionalArgument
    examples = EXAMPLES.get(path)
    if examples:
        command.epilog = "\b\nExamples:\n" + "\n".join(f"  {e}" for e in examples)
    for name, sub in (getattr(command, "commands", None) or {}).items():
        conventional(sub, f"{path} {name}".strip())
    return command


def new_app(
    name: str | None = None,
    help: str | None = None,
    *,
    root: bool = False,
    cls: type[DashenvGroup] | None = None,
) -> typer.Typer:
    return typer.Typer(
        name=name,
        help=help,
        cls=cls or (LazyGroup if root else DashenvGroup),
        context_settings=CONTEXT,
        no_args_is_help=True,
        add_completion=root,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


app = new_app(root=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dashenv {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    project_dir: Annotated[
        str | None,
        typer.Option(
            *ROOT_VALUE_OPTIONS["project_dir"],
            help="Project directory (default: nearest upward holding dashenv.toml or compose/).",
            metavar="DIR",
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            *ROOT_VALUE_OPTIONS["set_"],
            help="Override a setting for this run, highest layer: --set app_port=8010.",
            metavar="KEY=VALUE",
        ),
    ] = None,
    context: Annotated[
        str | None,
        typer.Option(
            *ROOT_VALUE_OPTIONS["context"],
            help="Docker context to use (a remote engine, for example).",
            metavar="NAME",
        ),
    ] = None,
    instance: Annotated[
        str | None,
        typer.Option(
            *ROOT_VALUE_OPTIONS["instance"],
            envvar="DASHENV_INSTANCE",
            help="Run as this named instance (own project, names and ports). Default: none "
            "where this checkout owns the environment, else one named from its directory.",
            metavar="NAME",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show the underlying commands and their output.")
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Print errors only (the exit code says the rest)."),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """dashenv: development, test and CI environments for a FastAPI + PostgreSQL + Redis app
    on Docker Compose, side by side and never hurting each other."""
    ctx.obj = from_options(project_dir, set_ or [], context, verbose, instance)
    if quiet:
        saved = sys.stdout, sys.stderr
        _ERRORS.append(sys.stderr)

        def restore() -> None:
            sys.stdout, sys.stderr = saved
            _ERRORS.pop()

        ctx.call_on_close(restore)
        sys.stdout = sys.stderr = _Dropped()  # errors only


_ROOT: list[Any] = []  # the root click command, built once per process (a preload server's
# workers inherit it built, with every command's module under it: see ``build_all``)


def root_command() -> Any:
    """The click command typer makes of ``app`` (what ``app()`` builds on every call)."""
    if not _ROOT:
        _ROOT.append(typer.main.get_command(app))
    return _ROOT[0]


def build_all() -> None:
    """Build the root command and every command under it, for a preload server: each of
    its workers then parses its arguments without building them again."""
    root = root_command()
    modules: dict[str, str] = {}
    for name, command in COMMANDS.items():
        modules.setdefault(command.module, name)
    for name in modules.values():
        root.get_command(None, name)


def main() -> None:
    from dashenv.commands import hoist

    # as ``app()`` does, with typer's exception hook (a traceback as Python prints it:
    # pretty exceptions are off) left out
    root_command()(args=hoist(sys.argv[1:]), prog_name="dashenv")
