"""Env files (``KEY=VALUE`` lines), in one module: read with the line each key came from,
compared with their example, completed from it, quoted and written.

Parsing is python-dotenv's (the same parser pydantic-settings uses); this module
adds what dashenv needs on top: line numbers for provenance, and a clear error
for a malformed line instead of dotenv's silent skip.
"""

from __future__ import annotations

import io
import os
import re
import secrets as _secrets
from dataclasses import dataclass, field
from pathlib import Path

from dashenv.errors import ConfigError

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class EnvEntry:
    key: str
    value: str
    line: int


def parse_env_text(text: str, path: str) -> dict[str, EnvEntry]:
    """Parse env-file text. Later assignments of a key win, as in Compose."""
    from dotenv.parser import parse_stream

    entries: dict[str, EnvEntry] = {}
    for binding in parse_stream(io.StringIO(text)):
        raw = binding.original.string
        # dotenv counts from where the binding's text starts, blank lines before it included
        line = binding.original.line + raw[: len(raw) - len(raw.lstrip())].count("\n")
        if binding.error:
            raise ConfigError(
                f"{path}:{line}: malformed line, expected KEY=VALUE",
                hint="fix or remove that line (comments start with #)",
            )
        if binding.key is None:  # blank line or comment
            continue
        if not _KEY.match(binding.key):
            raise ConfigError(
                f"{path}:{line}: invalid key {binding.key!r}",
                hint="keys are letters, digits and underscores, not starting with a digit",
            )
        if binding.value is None:
            raise ConfigError(
                f"{path}:{line}: {binding.key} has no value, expected {binding.key}=VALUE",
                hint=f"write {binding.key}= for an empty value",
            )
        entries[binding.key] = EnvEntry(binding.key, binding.value, line)
    if any("${" in e.value for e in entries.values()):
        # ${VAR} from the file's earlier keys, then the environment, as Compose and dotenv
        # read the file (a password referenced inside a URL)
        from dotenv.main import resolve_variables

        resolved = resolve_variables(((k, e.value) for k, e in entries.items()), override=True)
        entries = {
            k: EnvEntry(k, resolved.get(k) or "", e.line) if "${" in e.value else e
            for k, e in entries.items()
        }
    return entries


def read_env_file(path: Path, shown: str, *, env_name: str | None = None) -> dict[str, EnvEntry]:
    """Read an env file; ``shown`` is the path as the user should see it."""
    if not path.exists():
        hint = (
            f"run 'dashenv init {env_name}' to create it from its example"
            if env_name
            else "create it, or point env_file at an existing file"
        )
        raise ConfigError(f"env file {shown} does not exist", hint=hint)
    if path.is_dir():
        raise ConfigError(
            f"env file {shown} is a directory, not a file",
            hint="remove the directory (Docker creates one when it mounts a missing file)",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"env file {shown} is not UTF-8 text (byte {exc.start})",
            hint="save it as UTF-8",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read env file {shown}: {exc.strerror}") from None
    return parse_env_text(text, shown)


_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_./:@%+,=-]*")


def quote_value(value: str) -> str:
    """``value`` as an env file line writes it (dashenv init, a derived env file): bare where
    nothing in it means anything to Compose or a shell, else single-quoted (nothing
    interpolated), else double-quoted with its backslashes and quotes escaped. A value
    holding two backslashes in a row is double-quoted too: python-dotenv unescapes them
    inside single quotes where Compose does not, and both read the double-quoted escape."""
    if _PLAIN_VALUE.fullmatch(value):
        return value
    if "'" not in value and "\\\\" not in value:
        return f"'{value}'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def drift(example_keys: list[str], file_keys: list[str]) -> tuple[list[str], list[str]]:
    """The example's keys the file lacks, and the file's keys the example lacks."""
    have, want = set(file_keys), set(example_keys)
    return [k for k in example_keys if k not in have], [k for k in file_keys if k not in want]


def compare_with_example(
    path: Path, shown: str, example: Path, example_shown: str, *, env_name: str | None = None
) -> tuple[list[str], list[str]] | None:
    """An env file against its example, both ways (``drift``): None where there is no
    example; a missing env file lacks every key. A malformed line in either is exit 2."""
    if not example.is_file():
        return None
    example_keys = list(read_env_file(example, example_shown))
    file_keys = list(read_env_file(path, shown, env_name=env_name)) if path.is_file() else []
    return drift(example_keys, file_keys)


@dataclass
class Completion:
    """An env file completed from its example: its new text (None: nothing to write), the
    keys it gained and those given a generated secret."""

    text: str | None
    added: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)


def complete_from_example(
    example_text: str,
    example_shown: str,
    current_text: str | None,
    current: dict[str, EnvEntry],
) -> Completion:
    """The env file made from its example (``current_text`` None: it does not exist), or the
    keys it lacks appended: every placeholder (``change-me``...) a generated secret, the same
    placeholder the same secret, one the file already answered keeping that answer. A value
    that is set is never changed."""
    from dashenv.settings.secrets import PLACEHOLDER

    example_entries = parse_env_text(example_text, example_shown)
    replacements: dict[str, str] = {}

    def fill(value: str) -> str:
        def sub(match: re.Match[str]) -> str:
            token = match.group(0)
            if token not in replacements:
                replacements[token] = _secrets.token_urlsafe(24)
            return replacements[token]

        return PLACEHOLDER.sub(sub, value)

    if current_text is None:
        lines = [
            line if line.lstrip().startswith("#") else fill(line)
            for line in example_text.splitlines()
        ]
        generated = [k for k, e in example_entries.items() if PLACEHOLDER.search(e.value)]
        return Completion("\n".join(lines) + "\n", list(example_entries), generated)
    for key, entry in example_entries.items():
        if PLACEHOLDER.fullmatch(entry.value) and key in current and current[key].value:
            replacements[entry.value] = current[key].value
    missing = [k for k in example_entries if k not in current]
    if not missing:
        return Completion(None)
    text = current_text
    if text and not text.endswith("\n"):
        text += "\n"
    text += "# added by dashenv init from " + example_shown + "\n"
    done = Completion(text, missing)
    for key in missing:
        value = example_entries[key].value
        filled = fill(value)
        if filled != value:
            done.generated.append(key)
        text += f"{key}={quote_value(filled)}\n"
    done.text = text
    return done


def write_private(path: Path, text: str) -> None:
    """Write an env file readable by its owner only (0600), replacing it whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".dashenv-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
