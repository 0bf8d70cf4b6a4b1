"""Docker and Docker Compose, through python-on-whales.

The only module importing python_on_whales. It hands the rest of dashenv plain
dataclasses (``Container``), and turns the library's failures into DashenvErrors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dashenv.errors import OperationFailed, Unreachable
from dashenv.facts import ComposeService, Container, PortBinding

if TYPE_CHECKING:
    from python_on_whales import DockerClient

    from dashenv.plan import ComposeInvocation

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
FILES_LABEL = "com.docker.compose.project.config_files"
_ENV_LOCK = threading.Lock()


def _failure(exc: Any, what: str) -> OperationFailed:
    stderr = (getattr(exc, "stderr", None) or "").strip()
    last = stderr.splitlines()[-1] if stderr else f"exit code {getattr(exc, 'return_code', '?')}"
    return OperationFailed(f"{what} failed: {last}", details=stderr if stderr else None)


class Docker:
    """A Docker engine, optionally bound to one environment's compose project."""

    def __init__(
        self,
        invocation: ComposeInvocation | None = None,
        context: str | None = None,
        verbose: bool = False,
    ):
        self.invocation = invocation
        self.context = context
        self.verbose = verbose
        self._client: DockerClient | None = None

    @property
    def client(self) -> DockerClient:
        if self._client is None:
            from python_on_whales import DockerClient

            inv = self.invocation
            kwargs: dict[str, Any] = {"context": self.context}
            if inv is not None:
                kwargs.update(
                    compose_files=list(inv.files),
                    compose_env_files=[inv.env_file],
                    compose_project_name=inv.project_name,
                    compose_profiles=list(inv.profiles),
                )
            self._client = DockerClient(**kwargs)
        return self._client

    # -- plumbing ----------------------------------------------------------------

    @contextmanager
    def _interpolation(self) -> Iterator[None]:
        """Compose reads interpolation variables from the process environment."""
        variables = self.invocation.variables if self.invocation else {}
        with _ENV_LOCK:
            saved = {k: os.environ.get(k) for k in variables}
            os.environ.update(variables)
            try:
                yield
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        from python_on_whales.client_config import ClientNotFoundError
        from python_on_whales.exceptions import DockerException

        try:
            yield
        except ClientNotFoundError:
            raise _not_installed() from None
        except DockerException as exc:
            stderr = exc.stderr or ""
            if _engine_down(stderr):
                raise self._unreachable(stderr) from None
            raise _failure(exc, what) from None

    def _unreachable(self, stderr: str) -> Unreachable:
        line = next((ln for ln in stderr.splitlines() if ln.strip()), "no answer")
        target = f"context {self.context}" if self.context else os.environ.get("DOCKER_HOST", "")
        where = f" ({target})" if target else ""
        return Unreachable(
            f"cannot reach the Docker engine{where}: {line.strip()}",
            hint="start Docker (Docker Desktop, or 'sudo systemctl start docker'), "
            "or check DOCKER_HOST / --context",
        )

    def compose_command(self, *args: str) -> list[str]:
        """The full compose command line (for commands run with the user's terminal)."""
        return [str(a) for a in self.client.client_config.docker_compose_cmd] + list(args)

    def _popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        """Start a docker command with the interpolation variables set (and shown, -v)."""
        env = dict(os.environ)
        if self.invocation:
            env.update(self.invocation.variables)
        if self.verbose:
            sys.stderr.write("+ " + " ".join(argv) + "\n")
        try:
            return subprocess.Popen(argv, env=env, text=True, **kwargs)
        except FileNotFoundError:
            raise _not_installed() from None

    def run_attached(self, argv: list[str]) -> int:
        """Run a compose/docker command on the user's terminal; its exit code comes back."""
        proc = self._popen(argv)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            # a terminal's Ctrl-C reached the child too; a signal sent to dashenv alone did
            # not: pass it on, then give the child a moment to finish cleanly
            import signal

            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            return 130

    def run_filtered(self, argv: list[str], secrets: list[str]) -> int:
        """Run a command, passing its output on line by line with secrets masked (logs)."""
        from dashenv.settings.secrets import scrub

        proc = self._popen(argv, stdout=subprocess.PIPE, errors="replace", bufsize=1)
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                sys.stdout.write(scrub(line.replace("\x1b[2K", ""), secrets))
                sys.stdout.flush()
            return proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait()
            return 130

    # -- engine ------------------------------------------------------------------

    def ping(self) -> str:
        """The engine's server version; raises Unreachable."""
        from python_on_whales.client_config import ClientNotFoundError
        from python_on_whales.exceptions import DockerException

        try:
            return str(self.client.version().server.version)  # type: ignore[union-attr]
        except ClientNotFoundError:
            raise _not_installed() from None
        except DockerException as exc:
            raise self._unreachable(exc.stderr or str(exc)) from None

    def compose_version(self) -> str | None:
        from python_on_whales.exceptions import DockerException

        try:
            return str(self.client.compose.version())
        except DockerException:
            return None

    # -- containers --------------------------------------------------------------

    def containers(self, filters: dict[str, str] | None = None) -> list[Container]:
        """Containers (running or not) matching docker's filters, e.g. {"label": "..."}."""
        from python_on_whales.utils import run

        base = [str(a) for a in self.client.client_config.docker_cmd]
        args = ["container", "ls", "--all", "--quiet", "--no-trunc"]
        for key, value in (filters or {}).items():
            args += ["--filter", f"{key}={value}"]
        with self._errors("listing containers"):
            ids = str(run(base + args)).split()
            if not ids:
                return []
            # one inspect for all of them; parsed here, from docker's own JSON
            return parse_inspect(json.loads(str(run([*base, "container", "inspect", *ids]))))

    def project_containers(self, project: str | None = None) -> list[Container]:
        name = project or (self.invocation.project_name if self.invocation else None)
        return self.containers({"label": f"{PROJECT_LABEL}={name}"})

    def all_containers(self) -> list[Container]:
        return self.containers()

    def container_logs(self, name: str, tail: int = 20) -> str:
        from python_on_whales.exceptions import DockerException

        try:
            return str(self.client.container.logs(name, tail=tail))
        except DockerException:
            return ""

    # -- compose -----------------------------------------------------------------

    def compose_services(self) -> dict[str, ComposeService]:
        """The resolved compose model (``docker compose config``), reduced to what dashenv uses."""
        with self._interpolation(), self._errors("docker compose config"):
            config = self.client.compose.config(return_json=True)
        return parse_compose_config(config)

    def start_up(self, services: list[str], build: bool = False) -> Background:
        """Start ``docker compose up --detach`` without waiting for it (it blocks on
        dependencies' healthchecks), so the caller can report progress and keep a deadline."""
        args = ["up", "--detach", *(["--build"] if build else []), *services]
        return self.start_background(self.compose_command(*args), "docker compose up")

    def start_background(self, argv: list[str], what: str) -> Background:
        proc = self._popen(
            argv,
            stdout=None if self.verbose else subprocess.DEVNULL,
            stderr=None if self.verbose else subprocess.PIPE,
        )
        return Background(proc, what, self)

    def build(self, services: list[str], no_cache: bool = False) -> None:
        with self._interpolation(), self._errors("docker compose build"):
            self.client.compose.build(services or None, cache=not no_cache, quiet=not self.verbose)

    def down(self, volumes: bool = False) -> None:
        with self._interpolation(), self._errors("docker compose down"):
            self.client.compose.down(remove_orphans=True, volumes=volumes, quiet=not self.verbose)

    def restart(self, services: list[str]) -> None:
        with self._interpolation(), self._errors("docker compose restart"):
            self.client.compose.restart(services or None)

    def exec_capture(self, service: str, command: list[str]) -> tuple[int, str]:
        """Run a command in a service's container; exit code and combined output."""
        from python_on_whales.exceptions import DockerException

        try:
            with self._interpolation():
                out = self.client.compose.execute(service, command, tty=False)
            return 0, str(out or "")
        except DockerException as exc:
            if _engine_down(exc.stderr or ""):
                raise self._unreachable(exc.stderr or "") from None
            return exc.return_code, (exc.stdout or "") + (exc.stderr or "")


class Background:
    """A docker command running in the background."""

    def __init__(self, proc: subprocess.Popen[str], what: str, docker: Docker):
        self.proc, self.what, self.docker = proc, what, docker
        self._stderr: str = ""

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
        if self.proc.stderr is not None and not self._stderr:
            self._stderr = self.proc.stderr.read()
        code = self.proc.wait()
        if code != 0:
            if _engine_down(self._stderr):
                raise self.docker._unreachable(self._stderr)
            lines = [ln for ln in self._stderr.splitlines() if ln.strip()]
            last = lines[-1].strip() if lines else f"exit code {code}"
            raise OperationFailed(
                f"{self.what} failed: {last}", details="\n".join(lines[-10:-1]) or None
            )


def _not_installed() -> Unreachable:
    return Unreachable(
        "the docker command is not installed",
        hint="install Docker (Docker Desktop, or docker.io and the compose plugin)",
    )


def _engine_down(stderr: str) -> bool:
    markers = (
        "Cannot connect to the Docker daemon",
        "Is the docker daemon running",
        "error during connect",
        "connection refused",
        "no such host",
        "context not found",
    )
    return any(m.lower() in stderr.lower() for m in markers)


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
                project=labels.get(PROJECT_LABEL),
                service=labels.get(SERVICE_LABEL),
                state=str(state.get("Status", "unknown")),
                health=str(health) if health else None,
                ports=tuple(ports),
                started_at=None if not started or started.startswith("0001-") else started,
                config_files=labels.get(FILES_LABEL),
                image=str(config.get("Image") or ""),
            )
        )
    return found


def parse_compose_config(config: dict[str, Any]) -> dict[str, ComposeService]:
    """``docker compose config --format json`` -> the services as dashenv sees them."""
    services = {}
    for name, svc in (config.get("services") or {}).items():
        ports = []
        for p in svc.get("ports") or []:
            if isinstance(p, dict) and p.get("published"):
                ports.append((p.get("host_ip") or "0.0.0.0", int(p["published"]), int(p["target"])))
        healthcheck = svc.get("healthcheck") or {}
        services[name] = ComposeService(
            name=name,
            container_name=svc.get("container_name"),
            ports=ports,
            image=svc.get("image"),
            has_build="build" in svc,
            has_healthcheck=bool(healthcheck) and not healthcheck.get("disable"),
        )
    return services
