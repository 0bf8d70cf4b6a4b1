"""The compose override files dashenv generates (a derived environment's, an instance's), as
data: each is built as a dictionary and written by PyYAML, with Compose's merge tags
(``!override`` replaces what the project's files say, ``!reset`` removes it; Compose 2.24+)
represented as tags, and read back the same way (``load``), so tests compare documents.

Pure: no Docker, no files; the observe layer writes the text where Compose reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dashenv.facts import ComposeModel, ComposeService


@dataclass(frozen=True)
class Override:
    """``!override``: this value replaces the files' (a list or a mapping)."""

    value: Any


@dataclass(frozen=True)
class Reset:
    """``!reset``: the files' value is removed (written as the empty ``value``)."""

    value: Any


# what YAML 1.1 (PyYAML) or 1.2 (Compose's reader) could read as something other than a
# string: every such value is written in double quotes
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_SPECIAL = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
    pass


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    plain = _PLAIN.fullmatch(value) is not None and value.lower() not in _SPECIAL
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=None if plain else '"')


def _tagged(tag: str) -> Any:
    def represent(dumper: yaml.SafeDumper, data: Override | Reset) -> yaml.Node:
        if isinstance(data.value, dict):
            return dumper.represent_mapping(tag, data.value, flow_style=not data.value)
        return dumper.represent_sequence(tag, list(data.value), flow_style=not data.value)

    return represent


_Dumper.add_representer(str, _string)
_Dumper.add_representer(Override, _tagged("!override"))
_Dumper.add_representer(Reset, _tagged("!reset"))


def dump(document: dict[str, Any], header: list[str]) -> str:
    """The override's text: ``header`` as comments, then the document (order kept)."""
    body = str(
        yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=10**6)
    )
    return "".join(f"# {line}\n" for line in header) + body


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    pass


def _construct(kind: type[Override] | type[Reset]) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Override | Reset:
        if isinstance(node, yaml.MappingNode):
            return kind(loader.construct_mapping(node, deep=True))
        if isinstance(node, yaml.SequenceNode):
            return kind(loader.construct_sequence(node, deep=True))
        return kind(loader.construct_scalar(node))

    return construct


_Loader.add_constructor("!override", _construct(Override))
_Loader.add_constructor("!reset", _construct(Reset))


def load(text: str) -> dict[str, Any]:
    """An override's document as ``dump`` wrote it, the tags as ``Override``/``Reset``."""
    found = yaml.load(text, Loader=_Loader)  # a safe loader, with the two tags
    return found if isinstance(found, dict) else {}


def renamed(name: str, base: str, project: str) -> str:
    """A name the files fix (container, network, volume) made a project's own: the base
    project's prefix swapped for ``project``'s, else ``project``'s prefix added."""
    if name.startswith(base):
        return project + name[len(base) :]
    return f"{project}-{name}"


def tagged_image(image: str, tag: str) -> str:
    """The image a service builds, under a tag of its own (``repo:tag``): an environment's
    build never overwrites another's image."""
    repo, _, old = image.rpartition(":")
    if "/" in old or not repo:  # no tag: registry:port/name or a bare name
        repo = image
    return f"{repo}:{tag}"


def own_networks(model: ComposeModel, names: dict[str, str]) -> dict[str, Any]:
    """The top-level ``networks:`` of an override that runs a second stack of the same files:
    each name the files fix renamed (``names``: key -> its new name), and each subnet they
    pin dropped (``ipam: !reset {}``), so Compose gives this stack a free address pool
    instead of failing on "Pool overlaps with other one"."""
    found: dict[str, Any] = {key: {"name": new} for key, new in names.items()}
    for key in model.pinned_subnets:
        found.setdefault(key, {})["ipam"] = Reset({})
    return found


def service_networks(service: ComposeService, leave: Sequence[str] = ()) -> Override | None:
    """A service's ``networks:`` in such an override, where the files pin its address on one
    (the address is dropped with its pool; its other options kept) or it must leave some
    (``leave``: dev's external networks); None where nothing changes."""
    if not leave and not service.pinned_addresses:
        return None
    joined = [n for n in service.networks if n not in leave] or ["default"]
    return Override({n: dict(service.pinned_addresses.get(n, {})) for n in joined})
