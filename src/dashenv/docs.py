"""Reference text generated from the declarations (README's settings table)."""

from __future__ import annotations


def settings_markdown() -> str:
    from dashenv.settings.model import EnvironmentSettings

    lines = ["| setting | type | default | what it is |", "| --- | --- | --- | --- |"]
    for name, field in EnvironmentSettings.model_fields.items():
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
    print(settings_markdown())
