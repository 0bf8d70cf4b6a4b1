"""Docker and Docker Compose.

Compose actions that run to an end (``down``, ``restart``, ``build``, ``config``) go through
python-on-whales (``DockerClient.compose``), its client made from the same files, env file,
project name, profiles and context as ``ComposeInvocation.argv`` (the very line
``dashenv config compose`` prints), with dashenv's interpolation variables handed to the
docker process alone through its client call (``env K=V docker``: the process environment is
never changed). Its import (about 0.2 s) is paid once by the preload server, lazily elsewhere.

The rest goes through dashenv's runner (``_popen``), where python-on-whales gives no handle on
the process it starts: ``up`` (ended when its deadline passes or dashenv alone is
interrupted), ``logs --follow`` (likewise), an exec on the user's terminal (Ctrl-C passed on,
then a grace period), an exec with input on its stdin or whose stderr is wanted on success
(``compose.execute`` takes no input and keeps stdout only), and the engine's listings, which
the Engine API answers where it can (``adapters.engine``).

Every failure, python-on-whales' ``DockerException`` or an exit code of the runner's, goes
through one classifier, ``classify``. Docker's own JSON (``inspect``, ``compose config
--format json``) is parsed into dashenv's plain facts here; nothing else in dashenv knows
docker's formats.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from dashenv.commands import WORKER_TERMINAL
from dashenv.errors import DashenvError, ExitCode, OperationFailed, Unreachable
from dashenv.facts import (
    ComposeModel,
    ComposeService,
    Container,
    Network,
    PortBinding,
    Running,
)

if TYPE_CHECKING:
    from dashenv.adapters.engine import EngineAPI
    from dashenv.plan.compose import ComposeInvocation

T = TypeVar("T")
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
FILES_LABEL = "com.docker.compose.project.config_files"
WORKDIR_LABEL = "com.docker.compose.project.working_dir"
HASH_LABEL = "com.docker.compose.config-hash"
INSTANCE_LABEL = "dev.dashenv.instance"
CHECKOUT_LABEL = "dev.dashenv.checkout"
ENVIRONMENT_LABEL = "dev.dashenv.environment"
PROTECTED_LABEL = "dev.dashenv.protected"

# stderr of a docker command that could not reach the engine at all
_ENGINE_DOWN = (
    "cannot connect to the docker daemon",
    "is the docker daemon running",
    "error during connect",
    "context not found",
    "docker.sock: connect: no such file or directory",
    "docker.sock: connect: permission denied",
)
# stderr of an image build or pull that failed while the engine answered
_BUILD_FAILED = (
    "failed to solve",
    "failed to build",
    "failed to resolve source metadata",
    "failed to fetch",
    "returned a non-zero code",
    "pull access denied",
    "manifest unknown",
    "error pulling image",
    "dockerfile parse error",
    "unable to prepare context",
)


@dataclass(frozen=True)
class Completed:
    code: int
    stdout: str
    stderr: str


def classify(what: str, code: int, stderr: str, where: str = "") -> DashenvError:
    """The one place a failed docker command becomes a DashenvError.

    The engine unreachable is exit 4; anything else the engine said (a build, a pull, a
    bad compose file) is the operation failing, exit 1, with docker's own reason.
    """
    low = stderr.lower()
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    if any(marker in low for marker in _ENGINE_DOWN):
        first = next((ln for ln in lines if "daemon" in ln.lower() or "context" in ln.lower()), "")
        return Unreachable(
            f"cannot reach the Docker engine{where}: {first or (lines[0] if lines else '')}",
            hint="start Docker (Docker Desktop, or 'sudo systemctl start docker'), "
            "or check DOCKER_HOST / --context",
        )
    last = lines[-1] if lines else f"exit code {code}"
    details = "\n".join(lines[-10:-1]) or None
    if any(marker in low for marker in _BUILD_FAILED):
        return OperationFailed(
            f"{what} failed: the image build failed: {last}",
            hint="the Docker engine answered; check the Dockerfile and that its base images "
            "and registries are reachable ('-v' shows the whole build)",
            details=details,
        )
    return OperationFailed(f"{what} failed: {last}", details=details)


def not_installed() -> Unreachable:
    return Unreachable(
        "the docker command is not installed",
        hint="install Docker (Docker Desktop, or docker.io and the compose plugin)",
    )


class Docker:
    """A Docker engine, optionally bound to one environment's compose project."""

    def __init__(
        self,
        invocation: ComposeInvocation | None = None,
        context: str | None = None,
        verbose: bool = False,
    ):
        self.invocation = invocation
        self.context = invocation.context if invocation is not None else context
        self.verbose = verbose
        self._api: EngineAPI | None = None
        self._api_decided = False  # whether the API is to be asked here is decided once

    @property
    def where(self) -> str:
        target = f"context {self.context}" if self.context else os.environ.get("DOCKER_HOST", "")
        return f" ({target})" if target else ""

    # -- command lines (pure) ------------------------------------------------------

    def docker_argv(self, *args: str) -> list[str]:
        return ["docker", *(["--context", self.context] if self.context else []), *args]

    def compose_argv(self, *args: str) -> list[str]:
        if self.invocation is None:
            raise RuntimeError("this Docker adapter is bound to no compose project")
        return self.invocation.argv(*args)

    # -- python-on-whales ------------------------------------------------------------

    def whales(self) -> Any:
        """python-on-whales' client of this compose project (see the module's docstring)."""
        from python_on_whales import DockerClient

        inv = self.invocation
        if inv is None:
            raise RuntimeError("this Docker adapter is bound to no compose project")
        variables = [f"{k}={v}" for k, v in sorted(inv.variables.items())]
        return DockerClient(
            compose_files=list(inv.files),
            compose_env_files=[inv.env_file],
            compose_project_name=inv.project_name if inv.pass_project else None,
            compose_profiles=list(inv.profiles),
            context=inv.context,
            client_call=["env", *variables, "docker"] if variables else ["docker"],
        )

    def compose_action(self, what: str, args: list[str], action: Callable[[Any], T]) -> T:
        """Run ``action`` on the python-on-whales client; its failure becomes dashenv's
        (``classify``). ``args`` are the Compose arguments it runs, for ``-v``."""
        from python_on_whales.client_config import ClientNotFoundError
        from python_on_whales.exceptions import DockerException

        if self.verbose:
            sys.stderr.write("+ " + " ".join(self.compose_argv(*args)) + "\n")
        try:
            return action(self.whales().compose)
        except ClientNotFoundError:
            raise not_installed() from None
        except DockerException as exc:
            stderr = exc.stderr or ""
            if exc.return_code == 127 and "docker" in stderr and "No such file" in stderr:
                raise not_installed() from None  # env found no docker to run
            raise classify(what, exc.return_code, stderr, self.where) from None

    # -- the runner ----------------------------------------------------------------

    def _popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        """Every docker process starts here, with the interpolation variables passed to it."""
        env = dict(os.environ)
        if self.invocation is not None:
            env.update(self.invocation.variables)
        if self.verbose:
            sys.stderr.write("+ " + " ".join(argv) + "\n")
        try:
            return subprocess.Popen(argv, env=env, text=True, errors="replace", **kwargs)
        except FileNotFoundError:
            raise not_installed() from None

    def run(
        self, argv: list[str], what: str, *, check: bool = True, input: str | None = None
    ) -> Completed:
        """Run a command to completion, capturing its output (``input`` on its stdin); a
        failure raises (``check``)."""
        stdin = subprocess.PIPE if input is not None else None
        proc = self._popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            stdout, stderr = proc.communicate(input)
        except KeyboardInterrupt:
            proc.kill()
            proc.wait()
            raise
        done = Completed(proc.returncode, stdout, stderr)
        if check and done.code != 0:
            raise classify(what, done.code, stderr, self.where)
        return done

    def run_attached(self, argv: list[str]) -> int:
        """Run a command on the user's terminal; its exit code comes back."""
        proc = self._popen(argv)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            # a terminal's Ctrl-C reached the child too; a signal sent to dashenv alone did
            # not: pass it on, then give the child a moment to finish cleanly
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            return int(ExitCode.INTERRUPTED)

    def run_filtered(self, argv: list[str], secrets: list[str]) -> int:
        """Run a command, passing its output on line by line with secrets masked (logs)."""
        from dashenv.settings.secrets import scrub

        proc = self._popen(argv, stdout=subprocess.PIPE, bufsize=1)
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                sys.stdout.write(scrub(line.replace("\x1b[2K", ""), secrets))
                sys.stdout.flush()
            return proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait()
            return int(ExitCode.INTERRUPTED)

    def run_with_files(
        self, argv: list[str], what: str, *, stdin: Path | None = None, stdout: Path | None = None
    ) -> None:
        """Run a command with its input from a file or its output into one (pg_dump,
        pg_restore in a container); a failure raises with the command's own reason."""
        import tempfile

        with (
            open(stdin, "rb") if stdin else open(os.devnull, "rb") as fin,
            open(stdout, "wb") if stdout else open(os.devnull, "wb") as fout,
            tempfile.TemporaryFile("w+") as ferr,
        ):
            proc = self._popen(argv, stdin=fin, stdout=fout, stderr=ferr)
            code = proc.wait()
            if code != 0:
                ferr.seek(0)
                raise classify(what, code, ferr.read(), self.where)

    def start_background(self, argv: list[str], what: str) -> Background:
        proc = self._popen(
            argv,
            stdout=None if self.verbose else subprocess.DEVNULL,
            stderr=None if self.verbose else subprocess.PIPE,
        )
        return Background(proc, what, self.where)

    # -- engine --------------------------------------------------------------------

    def ping(self) -> str:
        """The engine's server version; raises Unreachable."""
        version = self._ask_api(lambda api: api.version())
        if version:
            return version
        done = self.run(
            self.docker_argv("version", "--format", "{{.Server.Version}}"), "docker", check=False
        )
        if done.code != 0 or not done.stdout.strip():
            err = classify("docker version", done.code, done.stderr, self.where)
            if isinstance(err, Unreachable):
                raise err
            raise Unreachable(f"cannot reach the Docker engine{self.where}: {err.message}")
        return done.stdout.strip()

    def compose_version(self) -> str | None:
        done = self.run(self.docker_argv("compose", "version", "--short"), "compose", check=False)
        return done.stdout.strip() if done.code == 0 and done.stdout.strip() else None

    # -- containers ----------------------------------------------------------------

    def engine_api(self) -> EngineAPI | None:
        """The engine's API, where it is to be asked (``adapters.engine``), else None."""
        from dashenv.adapters import engine

        if not self._api_decided:
            self._api_decided = True
            endpoint = engine.resolve(self.context, os.environ) if engine.wanted() else None
            self._api = engine.EngineAPI(endpoint) if endpoint is not None else None
        return self._api

    def _ask_api(self, question: Callable[[EngineAPI], T]) -> T | None:
        """The API's answer; None where it is not asked here or cannot answer (the CLI then
        does, and says what is wrong)."""
        api = self.engine_api()
        if api is None:
            return None
        try:
            return question(api)
        except Exception:  # the SDK's, requests' or a socket's: the CLI says what it is
            if self.verbose:
                sys.stderr.write(f"dashenv: the engine's API{self.where} did not answer; "
                                 "asking the docker command\n")  # fmt: skip
            self._api = None
            return None

    def containers(
        self, filters: dict[str, str] | None = None, projects: frozenset[str] | None = None
    ) -> list[Container]:
        """Containers (running or not) matching docker's filters, e.g. {"label": "..."}; with
        ``projects``, only those of these compose projects are inspected and returned."""
        documents = self._ask_api(lambda api: api.containers(filters, projects))
        if documents is not None:
            return parse_inspect(documents)
        fmt = '{{.ID}}\t{{.Label "' + PROJECT_LABEL + '"}}'
        args = ["container", "ls", "--all", "--no-trunc", "--format", fmt]
        for key, value in (filters or {}).items():
            args += ["--filter", f"{key}={value}"]
        listed = self.run(self.docker_argv(*args), "listing containers").stdout.splitlines()
        ids = [
            cid
            for cid, _, project in (line.partition("\t") for line in listed if line)
            if projects is None or project in projects
        ]
        if not ids:
            return []
        # one inspect for all of them; one removed meanwhile fails alone, the rest still print
        done = self.run(
            self.docker_argv("container", "inspect", *ids), "inspecting containers", check=False
        )
        if done.code != 0 and not done.stdout.strip().startswith("["):
            raise classify("inspecting containers", done.code, done.stderr, self.where)
        return parse_inspect(json.loads(done.stdout or "[]"))

    def project_containers(self, project: str | None = None) -> list[Container]:
        name = project or (self.invocation.project_name if self.invocation else None)
        return self.containers({"label": f"{PROJECT_LABEL}={name}"})

    def all_containers(self, projects: frozenset[str] | None = None) -> list[Container]:
        """Every container of the engine (with ``projects``, those of these projects)."""
        return self.containers(projects=projects)

    def every_container(self, inspected: frozenset[str] = frozenset()) -> list[Container]:
        """Every container of the engine: those of the compose projects ``inspected`` in
        full, the others as the engine's list gives them (name, state, labels, published
        ports, image; no health, start time, exit code or restart count), for what only needs
        to know who holds a name or a port. Through the CLI (one inspect for all) every one
        is inspected."""
        found = self._ask_api(lambda api: api.every_container(inspected))
        if found is None:
            return self.containers()
        documents, summaries = found
        return parse_inspect(documents) + parse_summaries(summaries)

    def project_volumes(self, project: str) -> list[str]:
        label = {"label": f"{PROJECT_LABEL}={project}"}
        found = self._ask_api(lambda api: api.volume_names(label))
        if found is not None:
            return found
        done = self.run(
            self.docker_argv("volume", "ls", "--quiet", "--filter",
                             f"label={PROJECT_LABEL}={project}"),
            "listing volumes",
        )  # fmt: skip
        return done.stdout.split()

    def volume_sizes(self) -> dict[str, int]:
        """Each volume's size in bytes, as 'docker system df -v' measures it."""
        done = self.run(
            self.docker_argv("system", "df", "-v", "--format", "{{json .Volumes}}"),
            "docker system df",
            check=False,
        )
        try:
            volumes = json.loads(done.stdout or "[]") or []
        except ValueError:
            return {}
        return {str(v.get("Name")): _size_bytes(str(v.get("Size", "0"))) for v in volumes}

    def networks(self, project: str, names: frozenset[str] = frozenset()) -> list[Network]:
        """The networks of compose project ``project``: those it labelled, any named as
        Compose names its networks (``<project>_<key>``), and those its files name
        (``names``), with how many containers each has attached."""
        listed = self.run(
            self.docker_argv(
                "network", "ls", "--no-trunc", "--format",
                '{{.ID}}\t{{.Name}}\t{{.Label "com.docker.compose.project"}}',
            ),
            "listing networks",
        ).stdout.splitlines()  # fmt: skip
        mine = []
        for line in listed:
            net_id, name, label = ([*line.split("\t"), "", ""])[:3]
            if label == project or name.startswith(f"{project}_") or name in names:
                mine.append((net_id, name, label or None))
        if not mine:
            return []
        done = self.run(
            self.docker_argv(
                "network", "inspect", "--format", "{{.Id}} {{len .Containers}}",
                *[net_id for net_id, _, _ in mine],
            ),
            "inspecting networks",
            check=False,
        )  # fmt: skip
        attached = dict(line.split() for line in done.stdout.splitlines() if line.strip())
        return [
            Network(net_id, name, label, int(attached.get(net_id, "0")))
            for net_id, name, label in mine
        ]

    def remove_networks(self, ids: list[str]) -> None:
        self.run(self.docker_argv("network", "rm", *ids), "network rm")

    def remove_project(
        self, project: str, *, volumes: bool, images: list[str] | None = None
    ) -> None:
        """A compose project's containers, networks and (``volumes``) volumes, found by
        Compose's project label: what 'docker compose down' removes, without its files."""
        label = f"label={PROJECT_LABEL}={project}"
        ids = self.run(
            self.docker_argv("container", "ls", "--all", "--quiet", "--filter", label),
            "listing containers",
        ).stdout.split()
        if ids:
            self.run(self.docker_argv("container", "rm", "--force", "--volumes", *ids), "rm")
        networks = self.run(
            self.docker_argv("network", "ls", "--quiet", "--filter", label), "listing networks"
        ).stdout.split()
        if networks:
            self.run(self.docker_argv("network", "rm", *networks), "network rm")
        if volumes:
            found = self.project_volumes(project)
            if found:
                self.run(self.docker_argv("volume", "rm", "--force", *found), "volume rm")
        if images:  # an image another container still uses stays
            self.run(self.docker_argv("image", "rm", *images), "image rm", check=False)

    def container_logs(self, name: str, tail: int = 20) -> str:
        done = self.run(
            self.docker_argv("logs", "--tail", str(tail), name), "docker logs", check=False
        )
        return done.stdout + done.stderr if done.code == 0 else ""

    # -- compose -------------------------------------------------------------------

    def compose_model(self, *, interpolate: bool = True) -> ComposeModel:
        """The resolved compose model (``docker compose config``), reduced to what dashenv uses.
        Without ``interpolate``, the files as written (service env files need not exist:
        python-on-whales' ``config`` has no such switch, so the runner asks)."""
        if interpolate:
            config = self.compose_action(
                "docker compose config",
                ["config", "--format", "json"],
                lambda compose: compose.config(return_json=True),
            )
        else:
            argv = self.compose_argv("config", "--no-interpolate", "--format", "json")
            config = json.loads(self.run(argv, "docker compose config").stdout)
        model = parse_compose_model(config)
        model.interpolated = interpolate
        return model

    def missing_images(self, images: list[str]) -> list[str]:
        """The images (of those named) the engine does not have."""
        if not images:
            return []
        tags = self._ask_api(lambda api: api.image_tags())
        if tags is None:
            done = self.run(
                self.docker_argv("image", "ls", "--format", "{{.Repository}}:{{.Tag}}"),
                "image ls",
            )
            tags = done.stdout.split()
        have = set(tags)
        have |= {h.removesuffix(":latest") for h in have}
        return [i for i in images if i not in have and f"{i}:latest" not in have]

    def image_ids(self, images: list[str]) -> dict[str, str]:
        """The image each name (``postgres:17``, ``redis``) stands for now (sha256:...);
        names the engine has no image for are left out."""
        if not images:
            return {}
        return image_ids_of(self._image_documents(images), images)

    def image_env(self, image: str) -> dict[str, str] | None:
        """The environment a local image sets (``PG_MAJOR``...); None where the engine has
        no image of that name."""
        for d in self._image_documents([image]):
            if image_ids_of([d], [image]):
                pairs = ((d.get("Config") or {}).get("Env")) or []
                return dict(str(p).partition("=")[::2] for p in pairs)
        return None

    def _image_documents(self, images: list[str]) -> list[dict[str, Any]]:
        names = sorted(set(images))
        documents = self._ask_api(lambda api: api.image_documents(names))
        if documents is not None:
            return documents
        done = self.run(self.docker_argv("image", "inspect", *names), "image inspect", check=False)
        if done.code != 0 and not done.stdout.strip().startswith("["):
            err = classify("docker image inspect", done.code, done.stderr, self.where)
            if isinstance(err, Unreachable):
                raise err
            return []
        return list(json.loads(done.stdout or "[]"))

    def missing_externals(self, model: ComposeModel) -> tuple[list[str], list[str]]:
        """The external networks and volumes the files name that the engine lacks."""
        missing: list[list[str]] = []
        for kind, wanted in (
            ("network", model.external_networks),
            ("volume", model.external_volumes),
        ):
            if not wanted:
                missing.append([])
                continue
            names = self._ask_api(
                (lambda api: api.network_names())
                if kind == "network"
                else (lambda api: api.volume_names())
            )
            if names is None:
                listed = self.run(
                    self.docker_argv(kind, "ls", "--format", "{{.Name}}"), f"{kind} ls"
                )
                names = listed.stdout.split()
            have = set(names)
            missing.append([n for n in wanted if n not in have])
        return missing[0], missing[1]

    def start_up(self, services: list[str], build: bool = False) -> Background:
        """Start ``docker compose up --detach`` without waiting for it (it blocks on
        dependencies' healthchecks), so the caller can report progress and keep a deadline."""
        args = ["up", "--detach", *(["--build"] if build else []), *services]
        return self.start_background(self.compose_argv(*args), "docker compose up")

    def build(self, services: list[str], no_cache: bool = False) -> None:
        """Build the images; the build's progress (steps, layers) streams to stderr as it
        comes where stderr is a terminal or with ``-v``, and not at all into a pipe."""
        args = ["build", *(["--no-cache"] if no_cache else []), *services]
        live = self.shows_progress()

        def build(compose: Any) -> None:
            chosen = services or None
            if not live:
                compose.build(chosen, cache=not no_cache, quiet=True)
                return
            for _source, line in compose.build(chosen, cache=not no_cache, stream_logs=True):
                sys.stderr.write(line.decode(errors="replace"))
                sys.stderr.flush()

        self.compose_action("docker compose build", args, build)

    def shows_progress(self) -> bool:
        """Whether Compose's own progress (a build's steps, a pull's layers) is shown: on a
        terminal, or with ``-v``; never into a pipe."""
        return self.verbose or sys.stderr.isatty()

    def pull(self, services: list[str]) -> None:
        """Pull the services' images, Compose drawing its own progress (layers, sizes) on
        stderr as it does typed by hand. python-on-whales leaves the pull's stderr to the
        terminal (so its failure reaches dashenv without the reason): the caller lets
        'docker compose up' retry it, which says why."""
        self.compose_action(
            "docker compose pull", ["pull", *services], lambda compose: compose.pull(services)
        )

    def down(self, volumes: bool = False) -> None:
        args = ["down", "--remove-orphans", *(["--volumes"] if volumes else [])]
        self.compose_action(
            "docker compose down",
            args,
            lambda compose: compose.down(remove_orphans=True, volumes=volumes, quiet=True),
        )

    def restart(self, services: list[str]) -> None:
        self.compose_action(
            "docker compose restart",
            ["restart", *services],
            lambda compose: compose.restart(services or None),
        )

    def exec_capture(
        self, service: str, command: list[str], input: str | None = None
    ) -> tuple[int, str]:
        """Run a command in a service's container (``input`` on its stdin); exit code and
        combined output."""
        argv = self.compose_argv("exec", "-T", service, *command)
        done = self.run(argv, "docker compose exec", check=False, input=input)
        if done.code != 0:
            err = classify("docker compose exec", done.code, done.stderr, self.where)
            if isinstance(err, Unreachable):
                raise err
        return done.code, done.stdout + done.stderr

    def running(self, project: str | None = None) -> dict[str, Running]:
        """The running containers of compose project ``project`` (this one's by default) by
        service, from the engine's list alone: no inspect, for what needs only which run."""
        name = project or (self.invocation.project_name if self.invocation else None)
        filters = {"label": [f"{PROJECT_LABEL}={name}"], "status": "running"}
        found = self._ask_api(lambda api: api.container_briefs(filters))
        if found is None:
            fmt = '{{.ID}}\t{{.Names}}\t{{.Label "' + SERVICE_LABEL + '"}}\t{{.CreatedAt}}'
            listed = self.run(
                self.docker_argv("container", "ls", "--no-trunc", "--filter", "status=running",
                                 "--filter", f"label={PROJECT_LABEL}={name}", "--format", fmt),
                "listing containers",
            ).stdout.splitlines()  # fmt: skip
            rows = [[*line.split("\t"), "", "", ""] for line in listed if line]
            found = [(r[0], r[1], r[2], _epoch(r[3])) for r in rows]
        out: dict[str, Running] = {}
        for cid, cname, service, created in sorted(found, key=lambda f: f[1]):
            out.setdefault(service, Running(cid, cname, service, created))
        return out

    def _running_container(self, service: str) -> str | None:
        """The id of this project's running container of ``service``, or None."""
        found = self.running().get(service)
        return found.id if found else None

    def exec_attached(
        self,
        service: str,
        command: list[str],
        environment: Mapping[str, str] | None = None,
        *,
        container: str | None = None,
    ) -> int:
        """Run a command in the running container of ``service`` on the user's terminal, its
        output streamed as it comes and its exit code passed back, without a Compose process
        (``docker compose exec -T`` costs a few hundred milliseconds before it starts): through
        the engine's API where it is asked, else ``docker exec``. Where the service has no
        running container, ``docker compose exec -T`` runs it and says why it cannot.

        On a terminal (standard input and output, this process in its foreground), the
        command gets a terminal of its own in the container (``docker exec -it``): pdb reads
        it, and Ctrl-C reaches the command through it. Elsewhere, Ctrl-C reaches the command
        as a terminal's would: SIGINT to every process it started in the container (found by
        a tag in their environment, ``RUN_TAG``), whose output still comes; a second Ctrl-C
        kills them and stops waiting. Either way the exit code is then 130. ``container``: the
        service's running container where the caller has just listed it (else it is listed)."""
        import secrets

        cid = container or self._running_container(service)
        tag = secrets.token_hex(8)
        env = {**(environment or {}), RUN_TAG: tag}
        flags = [w for k, v in env.items() for w in ("-e", f"{k}={v}")]
        if cid is None:
            return self.run_attached(self.compose_argv("exec", "-T", *flags, service, *command))
        if _on_terminal():  # a terminal of its own, as under a bare 'docker compose exec'
            return self.run_attached(self.docker_argv("exec", "-it", *flags, cid, *command))
        api = self.engine_api()
        started = None
        if api is not None:
            try:
                started = api.exec_streamed(cid, command, env)
            except Exception:  # the SDK's or a socket's: the CLI says what it is
                started = None
        if api is None or started is None:
            # its own session: a terminal's Ctrl-C reaches dashenv, which passes it on
            proc = self._popen(self.docker_argv("exec", *flags, cid, *command),
                               start_new_session=True)  # fmt: skip
            interrupted = self._until_done(proc.wait, cid, tag, service)
            if interrupted:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
                return int(ExitCode.INTERRUPTED)
            return proc.returncode
        exec_id, chunks = started
        lost: list[Exception] = []

        def pump() -> None:
            try:
                for out, err in chunks:
                    for chunk, stream in ((out, sys.stdout), (err, sys.stderr)):
                        if chunk:
                            _write(stream, chunk)
            except Exception as exc:  # the engine went away mid-run
                lost.append(exc)

        import threading

        reader = threading.Thread(target=pump, daemon=True)  # Ctrl-C comes to this thread
        reader.start()
        if self._until_done(reader.join, cid, tag, service):
            return int(ExitCode.INTERRUPTED)
        if lost:
            raise OperationFailed(
                f"lost the engine{self.where} while the command ran in {service}: {lost[0]}",
                hint="check the engine ('docker info'), then run the command again",
            )
        return api.exec_exit_code(exec_id)

    def _until_done(self, wait: Callable[[], object], cid: str, tag: str, service: str) -> bool:
        """``wait()`` for a command started with ``tag``; True when Ctrl-C came meanwhile.
        The first Ctrl-C sends SIGINT to the command's processes and waits on, the second
        SIGKILL and waits no more."""
        interrupted = False
        while True:
            try:
                wait()
                return interrupted
            except KeyboardInterrupt:
                if interrupted:
                    self._signal_tagged(cid, tag, "KILL")
                    return True
                interrupted = True
                if not self._signal_tagged(cid, tag, "INT"):
                    sys.stderr.write(f"dashenv: could not pass Ctrl-C to {service}'s "
                                     "command: it may still run there\n")  # fmt: skip
                    return True
                sys.stderr.write(f"dashenv: Ctrl-C passed to the command in {service} "
                                 "(again to kill it)\n")  # fmt: skip

    def _signal_tagged(self, cid: str, tag: str, name: str) -> bool:
        """Send SIG``name`` to the processes in the container that carry ``tag``; False where
        that could not be done (no shell in the image, the container gone)."""
        return self._exec_short(cid, ["sh", "-c", signal_script(tag, name)])[0] == 0

    def exec_quick(self, service: str, command: list[str]) -> tuple[int, str] | None:
        """Run a short command in the running container of ``service`` (this project's),
        as ``docker exec`` does, without Compose's own start (a few hundred milliseconds):
        through the engine's API where it is asked, else the docker CLI. Exit code and
        combined output; None when the service has no running container."""
        cid = self._running_container(service)
        return None if cid is None else self._exec_short(cid, command)

    def _exec_short(self, cid: str, command: list[str]) -> tuple[int, str]:
        """A short command in container ``cid``: through the engine's API where it is asked,
        else ``docker exec``; its exit code and combined output."""
        answer = self._ask_api(lambda api: api.exec(cid, command))
        if answer is not None:
            return answer
        done = self.run(self.docker_argv("exec", cid, *command), "docker exec", check=False)
        return done.code, done.stdout + done.stderr


RUN_TAG = "DASHENV_RUN"  # in the environment of a command exec_attached runs


def signal_script(tag: str, name: str) -> str:
    """A POSIX shell script that sends SIG``name`` to every process of the container whose
    environment holds ``RUN_TAG=tag`` (the command and what it started, as a terminal's
    Ctrl-C reaches its process group); it exits 0 when it signalled one."""
    return (
        "found=1; for p in /proc/[0-9]*; do "
        f"case \" $(tr '\\0' ' ' < \"$p/environ\" 2>/dev/null) \" in "
        f'*" {RUN_TAG}={tag} "*) kill -{name} "${{p#/proc/}}" 2>/dev/null && found=0;; '
        "esac; done; exit $found"
    )


def _on_terminal() -> bool:
    """Standard input and output are a terminal, and this process is in its foreground (a
    preloaded worker, in another session, is told by its client: ``WORKER_TERMINAL``)."""
    told = os.environ.get(WORKER_TERMINAL)
    if told is not None:
        return told == "1" and os.isatty(0) and os.isatty(1)
    try:
        return os.isatty(0) and os.isatty(1) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


def _epoch(created: str) -> str:
    """The CLI's ``CreatedAt`` (``2026-12-07 16:52:23 +0000 UTC``) as the API gives it: Unix
    seconds (unchanged where it does not parse)."""
    import datetime

    try:
        when = datetime.datetime.strptime(created[:25], "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return created
    return str(int(when.timestamp()))


def _write(stream: Any, chunk: bytes) -> None:
    raw = getattr(stream, "buffer", None)
    if raw is not None:
        raw.write(chunk)
    else:  # a text stream only (captured)
        stream.write(chunk.decode("utf-8", "replace"))
    stream.flush()


class Background:
    """A docker command running in the background; its stderr is drained as it comes, so
    a long build never blocks on a full pipe."""

    def __init__(self, proc: subprocess.Popen[str], what: str, where: str):
        import threading

        self.proc, self.what, self.where = proc, what, where
        self._stderr: list[str] = []
        self._reader: threading.Thread | None = None
        if proc.stderr is not None:
            self._reader = threading.Thread(target=self._drain, daemon=True)
            self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for it to end; True when it has."""
        try:
            self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self) -> None:
        if self.running():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def result(self) -> None:
        """Raise if it failed."""
        code = self.proc.wait()
        if self._reader is not None:
            self._reader.join()
        if code != 0:
            raise classify(self.what, code, "".join(self._stderr), self.where)


def parse_inspect(documents: list[dict[str, Any]]) -> list[Container]:
    """``docker container inspect`` output -> dashenv's Containers."""
    found = []
    for d in documents:
        state = d.get("State") or {}
        health = (state.get("Health") or {}).get("Status")
        ports: list[PortBinding] = []
        for container_port, bindings in (
            (d.get("NetworkSettings") or {}).get("Ports") or {}
        ).items():
            for b in bindings or []:
                if b.get("HostPort"):
                    ports.append(
                        PortBinding(b.get("HostIp") or "", int(b["HostPort"]), container_port)
                    )
        config = d.get("Config") or {}
        labels = config.get("Labels") or {}
        started = state.get("StartedAt")
        found.append(
            Container(
                id=d["Id"],
                name=str(d.get("Name", "")).lstrip("/"),
                state=str(state.get("Status", "unknown")),
                health=str(health) if health else None,
                ports=tuple(ports),
                started_at=None if not started or started.startswith("0001-") else started,
                image=str(config.get("Image") or ""),
                exit_code=int(state["ExitCode"])
                if state.get("Status") == "exited" and isinstance(state.get("ExitCode"), int)
                else None,
                image_id=str(d["Image"]) if d.get("Image") else None,
                restart_count=int(d.get("RestartCount") or 0),
                **_labelled(labels),
            )
        )
    return found


def _labelled(labels: dict[str, str]) -> dict[str, Any]:
    """What a container's labels say (Compose's and dashenv's), as Container's fields."""
    return {
        "project": labels.get(PROJECT_LABEL),
        "service": labels.get(SERVICE_LABEL),
        "config_files": labels.get(FILES_LABEL),
        "working_dir": labels.get(WORKDIR_LABEL),
        "instance": labels.get(INSTANCE_LABEL),
        "checkout": labels.get(CHECKOUT_LABEL),
        "environment": labels.get(ENVIRONMENT_LABEL),
        "protected": labels[PROTECTED_LABEL] == "true" if PROTECTED_LABEL in labels else None,
        "config_hash": labels.get(HASH_LABEL),
    }


def parse_summaries(summaries: list[dict[str, Any]]) -> list[Container]:
    """The engine's list of containers (``GET /containers/json``) -> Containers, as far as
    it tells: no health, start time, exit code or restart count."""
    found = []
    for d in summaries:
        labels = d.get("Labels") or {}
        ports = tuple(
            PortBinding(str(p.get("IP") or ""), int(p["PublicPort"]),
                        f"{p.get('PrivatePort')}/{p.get('Type') or 'tcp'}")
            for p in d.get("Ports") or []
            if p.get("PublicPort")
        )  # fmt: skip
        found.append(
            Container(
                id=str(d["Id"]),
                name=str((d.get("Names") or ["/"])[0]).lstrip("/"),
                state=str(d.get("State") or "unknown"),
                health=None,
                ports=ports,
                image=str(d.get("Image") or ""),
                image_id=str(d["ImageID"]) if d.get("ImageID") else None,
                **_labelled(labels),
            )
        )
    return found


def image_ids_of(documents: list[dict[str, Any]], names: list[str]) -> dict[str, str]:
    """``docker image inspect`` output -> the image ID each of ``names`` stands for."""
    by_tag: dict[str, str] = {}
    for d in documents:
        for tag in d.get("RepoTags") or []:
            by_tag[str(tag)] = str(d.get("Id"))
        for digest in d.get("RepoDigests") or []:
            by_tag[str(digest)] = str(d.get("Id"))
    found = {}
    for name in names:
        last = name.rsplit("/", 1)[-1]
        full = name if ":" in last or "@" in last else f"{name}:latest"
        for candidate in (name, full, full.removeprefix("docker.io/library/")):
            if candidate in by_tag:
                found[name] = by_tag[candidate]
                break
    return found


def parse_compose_model(config: dict[str, Any]) -> ComposeModel:
    """``docker compose config --format json`` -> the model as dashenv sees it."""

    def externals(kind: str) -> list[str]:
        found = []
        for key, spec in (config.get(kind) or {}).items():
            if isinstance(spec, dict) and spec.get("external"):
                found.append(str(spec.get("name") or key))
        return found

    def fixed(kind: str) -> dict[str, str]:
        """Names the files fix (not Compose's <project>_<key>), external ones aside."""
        names = {}
        for key, spec in (config.get(kind) or {}).items():
            if isinstance(spec, dict) and not spec.get("external"):
                name = str(spec.get("name") or "")
                if name and name != f"{config.get('name')}_{key}":
                    names[str(key)] = name
        return names

    return ComposeModel(
        parse_compose_config(config),
        externals("networks"),
        externals("volumes"),
        name=config.get("name"),
        fixed_networks=fixed("networks"),
        fixed_volumes=fixed("volumes"),
        external_network_keys=[
            str(k)
            for k, spec in (config.get("networks") or {}).items()
            if isinstance(spec, dict) and spec.get("external")
        ],
        pinned_subnets=[
            str(k)
            for k, spec in (config.get("networks") or {}).items()
            if isinstance(spec, dict)
            and not spec.get("external")
            and any(
                isinstance(c, dict) and (c.get("subnet") or c.get("ip_range") or c.get("gateway"))
                for c in ((spec.get("ipam") or {}).get("config") or [])
            )
        ],
    )


ADDRESS_KEYS = ("ipv4_address", "ipv6_address", "link_local_ips")


def _base_image(build: Any) -> str | None:
    """What a service's Dockerfile builds FROM (Compose resolves its context to an absolute
    path); None where it builds nothing, inline, or from a repository URL."""
    from pathlib import Path

    from dashenv.plan.compose_files import dockerfile_base

    if not isinstance(build, dict) or build.get("dockerfile_inline"):
        return None
    context = str(build.get("context") or "")
    if not context.startswith("/"):
        return None
    path = Path(context) / str(build.get("dockerfile") or "Dockerfile")
    try:
        return dockerfile_base(path.read_text(errors="replace"))
    except OSError:
        return None


def _pinned_addresses(networks: Any) -> dict[str, dict[str, Any]]:
    """A service's networks on which the files fix its address: key -> the rest of its
    options there (aliases, priority...), kept as they are."""
    if not isinstance(networks, dict):
        return {}
    return {
        str(key): {k: v for k, v in options.items() if k not in ADDRESS_KEYS}
        for key, options in networks.items()
        if isinstance(options, dict) and any(options.get(k) for k in ADDRESS_KEYS)
    }


def _size_bytes(text: str) -> int:
    """Docker's human sizes ("1.2MB", "512kB", "0B") in bytes."""
    import re

    m = re.fullmatch(r"\s*([\d.]+)\s*([kKMGT]?i?B)?\s*", text)
    if not m:
        return 0
    units = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
             "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}  # fmt: skip
    return int(float(m.group(1)) * units.get(m.group(2) or "B", 1))


def _labels(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list):  # ["key=value", ...]
        return dict(str(item).partition("=")[::2] for item in value)
    return {}


def _health_url(healthcheck: dict[str, Any]) -> str | None:
    """The URL a healthcheck's test asks (curl, wget, python's urllib...), where it asks one."""
    test = healthcheck.get("test")
    text = " ".join(str(t) for t in test) if isinstance(test, list) else str(test or "")
    m = re.search(r"https?://[^\s'\"()]+", text)
    return m.group(0) if m and not healthcheck.get("disable") else None


def parse_compose_config(config: dict[str, Any]) -> dict[str, ComposeService]:
    """``docker compose config --format json`` -> the services as dashenv sees them."""
    services = {}
    for name, svc in (config.get("services") or {}).items():
        ports = []
        for p in svc.get("ports") or []:
            if isinstance(p, dict) and str(p.get("published") or "").isdigit():
                ports.append((p.get("host_ip") or "0.0.0.0", int(p["published"]), int(p["target"])))
        healthcheck = svc.get("healthcheck") or {}
        services[name] = ComposeService(
            name=name,
            container_name=svc.get("container_name"),
            ports=ports,
            image=svc.get("image"),
            has_build="build" in svc,
            base_image=_base_image(svc.get("build")),
            has_healthcheck=bool(healthcheck) and not healthcheck.get("disable"),
            health_url=_health_url(healthcheck),
            binds=[
                str(v.get("source"))
                for v in svc.get("volumes") or []
                if isinstance(v, dict) and v.get("type") == "bind" and v.get("source")
            ],
            labels=_labels(svc.get("labels")),
            build_context=(svc.get("build") or {}).get("context")
            if isinstance(svc.get("build"), dict)
            else None,
            depends_on=sorted(svc.get("depends_on") or []),
            environment={
                str(k): "" if v is None else str(v)
                for k, v in (svc.get("environment") or {}).items()
            }
            if isinstance(svc.get("environment"), dict)
            else {},
            mounts=[
                (
                    str(v.get("type") or "volume"),
                    str(v.get("source") or ""),
                    str(v.get("target") or ""),
                    bool(v.get("read_only")),
                )
                for v in svc.get("volumes") or []
                if isinstance(v, dict)
            ]
            + [("tmpfs", "", str(t), False) for t in _as_list(svc.get("tmpfs"))],
            command=[str(c) for c in svc["command"]]
            if isinstance(svc.get("command"), list)
            else None,
            networks=sorted(svc.get("networks") or []),
            pinned_addresses=_pinned_addresses(svc.get("networks")),
            fixed_ips=[
                str(options[k])
                for options in (svc.get("networks") or {}).values()
                if isinstance(options, dict)
                for k in ("ipv4_address", "ipv6_address")
                if options.get(k)
            ]
            if isinstance(svc.get("networks"), dict)
            else [],
            profiles=[str(p) for p in svc.get("profiles") or []],
        )
    for svc in (config.get("services") or {}).values():
        depends = svc.get("depends_on")
        for dep, spec in depends.items() if isinstance(depends, dict) else []:
            completes = isinstance(spec, dict) and (
                spec.get("condition") == "service_completed_successfully"
            )
            if completes and dep in services:
                services[dep].one_shot = True
    return services


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value or []]
