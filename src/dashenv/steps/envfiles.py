"""An environment's env file made from its example: secrets generated, placeholders filled,
written private (``dashenv init``, and ``up`` where the file is missing)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dashenv.errors import ConfigError

if TYPE_CHECKING:
    from dashenv.settings.sources import ResolvedEnvironment


@dataclass
class InitResult:
    environment: str
    env_file: str
    action: str  # created | updated | unchanged | no-example
    added: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)
    source: str = ""  # what it was made from: its example, or the compose files


def can_create(env: ResolvedEnvironment) -> bool:
    """Whether a missing env file can be made: from its example, or from the compose files
    that name it."""
    return env.path(env.settings.example_file).is_file() or _from_compose_files(env) is not None


def init_environment(env: ResolvedEnvironment) -> InitResult:
    """Create or complete the env file from its example, generating secrets.

    Never overwrites a value that is set; a second run changes nothing.
    """
    from dashenv.settings.envfile import complete_from_example, read_env_file, write_private

    s = env.settings
    target, example = env.path(s.env_file), env.path(s.example_file)
    result = InitResult(env.name, s.env_file, "unchanged")
    if not example.is_file():
        if target.is_file() or target == Path(os.devnull):  # no env file: all in environment:
            return result
        template = _from_compose_files(env)
        if template is None:
            raise ConfigError(
                f"cannot create {s.env_file}: its example {s.example_file} does not exist",
                hint="commit an example env file, or set env_example in dashenv.toml",
            )
        done = complete_from_example(template, "the compose files", None, {})
        write_private(target, done.text or "")
        result.action, result.added, result.generated = "created", done.added, done.generated
        result.source = "what the compose files reference (no example)"
        return result
    exists = target.exists()
    done = complete_from_example(
        example.read_text(encoding="utf-8"),
        s.example_file,
        target.read_text(encoding="utf-8") if exists else None,
        read_env_file(target, s.env_file, env_name=env.name) if exists else {},
    )
    if done.text is None:
        return result
    write_private(target, done.text)
    result.action = "updated" if exists else "created"
    result.source = s.example_file
    result.added, result.generated = done.added, done.generated
    return result


def _from_compose_files(env: ResolvedEnvironment) -> str | None:
    """The env file the compose files need (they name it in ``env_file:``), made from what
    they reference where it has no example (``plan.compose_files.env_template``); None where
    no compose file names it."""
    from dashenv.plan.compose_files import env_files_named, env_template

    s = env.settings
    texts = env.compose_texts()
    target = env.path(s.env_file).resolve()
    named = any(
        (env.path(relative).parent / n).resolve() == target
        for relative, text in texts.items()
        for n in env_files_named(text)
    )
    return env_template(texts, s.env_file)[0] if named else None


@dataclass
class EnvCheck:
    """An env file's keys against its example's, both ways (``dashenv env check``)."""

    environment: str
    env_file: str
    example_file: str
    state: str  # ok | drift | fixed | no-example | derived | missing
    missing: list[str] = field(default_factory=list)  # in the example, not in the file
    unknown: list[str] = field(default_factory=list)  # in the file, not in the example
    added: list[str] = field(default_factory=list)  # what --fix added
    generated: list[str] = field(default_factory=list)  # ... with a generated secret

    @property
    def failed(self) -> bool:
        """Drift (a missing env file is not: it is made from the example when first used)."""
        return self.state == "drift" or bool(self.unknown)


def check_env_file(env: ResolvedEnvironment, *, fix: bool = False) -> EnvCheck:
    """``env``'s env file against its example, read without the engine; with ``fix``, the
    missing keys added from the example, secrets generated (``init_environment``). Keys the
    example lacks are named, never removed."""
    from dashenv.settings.envfile import compare_with_example

    s = env.settings
    check = EnvCheck(env.name, s.env_file, s.example_file, "ok")
    if env.layout is not None and env.layout.generates_env_file:
        check.state = "derived"  # generated on every run from its source's
        return check
    target, example = env.path(s.env_file), env.path(s.example_file)
    found = compare_with_example(target, s.env_file, example, s.example_file, env_name=env.name)
    if found is None:
        check.state = "no-example"
        return check
    check.missing, check.unknown = found
    if not target.is_file():
        check.state = "missing"
    elif check.missing:
        check.state = "drift"
    if fix and check.state in ("missing", "drift"):
        done = init_environment(env)
        check.added, check.generated = done.added, done.generated
        check.missing, check.state = [], "fixed"
    return check
