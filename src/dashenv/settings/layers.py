"""The layering machinery: a settings source that remembers where each of its values came
from, one pydantic class per model reading exactly the sources it is given, and validation
errors told one line per field, naming the file (or layer) and the key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from dashenv.errors import ConfigError

LAYERS = (
    "cli", "process env", "env file", "dashenv.toml", "compose files", "derived", "default"
)  # fmt: skip


@dataclass(frozen=True)
class Origin:
    """Where one value came from."""

    layer: str  # one of LAYERS
    key: str  # the key as written in that layer
    path: str | None = None
    line: int | None = None

    def describe(self) -> str:
        where = self.path or self.layer
        if self.path and self.line:
            where = f"{self.path}:{self.line}"
        if self.layer == "default":
            return "default"
        if self.layer == "cli":
            return f"--set {self.key}"
        return f"{where} ({self.key})"


class LayerSource(PydanticBaseSettingsSource):
    """A settings source holding plain values plus the origin of each."""

    def __init__(
        self, settings_cls: type[BaseSettings], values: dict[str, Any], origins: dict[str, Origin]
    ):
        super().__init__(settings_cls)
        self.values = values
        self.origins = origins

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


S = TypeVar("S", bound=BaseSettings)
_CURRENT: ContextVar[tuple[PydanticBaseSettingsSource, ...]] = ContextVar("dashenv_sources")
_LAYERED: dict[type[BaseSettings], type[BaseSettings]] = {}


def _current_sources(
    cls: type[BaseSettings], settings_cls: type[BaseSettings], *args: Any, **kwargs: Any
) -> tuple[PydanticBaseSettingsSource, ...]:
    return _CURRENT.get()


def layered_class(model: type[S]) -> type[S]:
    """``model`` reading exactly the sources ``from_sources`` is given. Built once per process:
    pydantic builds a class's validators when the class is made (about 10 ms each here), so
    one class per resolution cost that on every environment resolved."""
    cls = _LAYERED.get(model)
    if cls is None:
        cls = type(
            model.__name__,
            (model,),
            {"settings_customise_sources": classmethod(_current_sources)},
        )
        _LAYERED[model] = cls
    return cls  # type: ignore[return-value]


def from_sources(model: type[S], sources: Sequence[PydanticBaseSettingsSource]) -> S:
    """An instance of ``model`` from these sources only, first wins (raises ValidationError)."""
    token = _CURRENT.set(tuple(sources))
    try:
        return layered_class(model)()
    finally:
        _CURRENT.reset(token)


def validation_error(
    exc: ValidationError, provenance: Mapping[str, Origin], what: str
) -> ConfigError:
    """One line per invalid field, naming the file (or layer) and the key."""
    lines = []
    for err in exc.errors():
        key = str(err["loc"][0]) if err["loc"] else "?"
        origin = provenance.get(key)
        if origin is None or origin.layer == "default":
            where = f"{what}: {key}"
        elif origin.path:
            where = (
                f"{origin.path}:{origin.line}: {origin.key}"
                if origin.line
                else (f"{origin.path}: {origin.key}")
            )
        elif origin.layer == "cli":
            where = f"--set {origin.key}"
        else:
            where = f"{origin.layer}: {origin.key}"
        got = err.get("input")
        shown = "" if err["type"] == "missing" or isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{where}: {err['msg']}{shown}")
    first, rest = lines[0], lines[1:]
    return ConfigError(
        first if not rest else f"{len(lines)} invalid settings: {first}",
        hint="fix the value where it is set; 'dashenv config show' lists every layer",
        details="\n".join(rest) or None,
    )
