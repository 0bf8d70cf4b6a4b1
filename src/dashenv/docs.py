"""Reference text generated from the declarations (README's settings table)."""

from __future__ import annotations

from typing import Any


def settings_markdown() -> str:
    """The per-environment settings."""
    from dashenv.settings.model import EnvironmentSettings

    return _table(EnvironmentSettings, "setting")


def project_options_markdown() -> str:
    """The project-wide keys at the top of dashenv.toml."""
    from dashenv.settings.model import ProjectOptions

    return _table(ProjectOptions, "key")


def _table(model: Any, what: str) -> str:
    lines = [f"| {what} | type | default | what it is |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        annotation = str(field.annotation).replace("typing.", "").replace("NoneType", "None")
        annotation = annotation.replace("<class '", "").replace("'>", "")
        annotation = annotation.replace(" | ", " or ")
        if field.is_required():
            default = "required"
        elif field.default_factory is not None:
            default = "`[]`"
        else:
            default = f"`{field.default}`" if field.default is not None else "none"
        lines.append(f"| `{name}` | {annotation} | {default} | {field.description} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(project_options_markdown())
    print()
    print(settings_markdown())
