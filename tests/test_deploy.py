"""The Docker files (no Docker engine here): compose, image and config agree with the code.

Also the deployment examples in deploy/ (systemd, Prometheus, Grafana) against the CLI and the
metrics the relay exports, and the constraints file against the dependencies and the three
installs that use it (`./dev setup`, CI, the image).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from relay import config as config_mod
from relay import metrics as metrics_mod
from relay.api import check_exposure
from relay.app import Relay
from relay.cli import _parser
from relay.config import Config
from relay.errors import ConfigError

from .conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
DOCKER_CONFIG = ROOT / "config" / "relay.docker.yaml"


def _relay_services() -> dict[str, Any]:
    """Every service that runs the relay image (the one service that builds it names it)."""
    [image] = {s["image"] for s in COMPOSE["services"].values() if "build" in s}
    return {n: s for n, s in COMPOSE["services"].items() if s.get("image") == image}


def test_valkey_keeps_an_aof_volume_and_has_a_healthcheck() -> None:
    valkey = COMPOSE["services"]["valkey"]
    command = " ".join(valkey["command"])
    assert "--appendonly yes" in command
    volume = valkey["volumes"][0].split(":")
    assert volume[1] == "/data" and volume[0] in COMPOSE["volumes"]
    assert "ping" in " ".join(valkey["healthcheck"]["test"])


def test_two_relay_workers_share_valkey_and_wait_for_it() -> None:
    services = _relay_services()
    assert len(services) >= 2
    for name, service in services.items():
        assert service["depends_on"]["valkey"]["condition"] == "service_healthy", name
        assert service["environment"]["REDIS_URL"].startswith("redis://valkey:")
        args = _parser().parse_args(service["command"])  # a real `relay` subcommand
        assert args.cmd == "run"
        grace = int(str(service["stop_grace_period"]).rstrip("s"))
        assert grace > 10  # longer than dispatcher.grace_seconds, so SIGTERM drains


def test_the_mounted_config_is_valid_and_its_tokens_come_from_compose() -> None:
    for service in _relay_services().values():
        env = service["environment"]
        [mount] = service["volumes"]
        host_path, container_path, _ = mount.split(":")
        assert env["RELAY_CONFIG"] == container_path
        fake_env = {k: "x" for k in env} | {"REDIS_URL": env["REDIS_URL"]}
        cfg = config_mod.load(ROOT / host_path, env=fake_env)
        assert cfg.redis.url == env["REDIS_URL"]
        assert cfg.api.host == "0.0.0.0"  # reachable from outside the container
        check_exposure(cfg)  # with the token compose passes, the relay serves
        for token_env in (cfg.telegram.token_env, cfg.discord.token_env):
            assert env[token_env] == "${" + token_env + ":-}"


def test_compose_requires_the_api_token_and_the_relay_refuses_without_it() -> None:
    # The port is published on every interface: an API without a token would let anyone who
    # reaches the host publish. Compose refuses to start without it (`:?`), and so would the
    # relay itself if it were started without.
    cfg = config_mod.load(DOCKER_CONFIG, env={}, need_tokens=False)
    assert not cfg.api.allow_unauthenticated
    for service in _relay_services().values():
        assert service["environment"][cfg.api.token_env] == (
            "${" + cfg.api.token_env + ":?set " + cfg.api.token_env + "}"
        )
    with pytest.raises(ConfigError, match=cfg.api.token_env):
        check_exposure(cfg)


def test_published_port_matches_the_api_port() -> None:
    cfg = config_mod.load(DOCKER_CONFIG, env={}, need_tokens=False)
    ports = COMPOSE["services"]["relay"]["ports"]
    assert f"{cfg.api.port}:{cfg.api.port}" in ports
    assert f"EXPOSE {cfg.api.port}" in DOCKERFILE
    # The health check asks the mounted config's port (relay.probe), never a fixed one.
    assert 'CMD ["python", "-m", "relay.probe", "readyz"]' in DOCKERFILE
    assert "8080" not in DOCKERFILE.split("HEALTHCHECK", 1)[1]


def test_dockerfile_installs_the_package_and_runs_relay() -> None:
    assert re.search(r"^FROM python:3\.1[1-9]", DOCKERFILE, re.M)
    assert "PIP_CONSTRAINT=/app/constraints.txt pip install --no-cache-dir ." in DOCKERFILE
    assert "COPY relay ./relay" in DOCKERFILE  # the core with its adapters; never ./sandbox
    assert 'ENTRYPOINT ["relay"]' in DOCKERFILE and 'CMD ["run"]' in DOCKERFILE
    assert "USER relay" in DOCKERFILE


def test_every_relay_service_checks_its_readiness_as_the_image_does() -> None:
    probe = ["CMD", "python", "-m", "relay.probe", "readyz"]
    services = [s for s in COMPOSE["services"].values()
                if s.get("build") == "." or "live-relay" in str(s.get("image", ""))]  # fmt: skip
    assert services
    for service in services:  # the image's HEALTHCHECK, unless one says the same
        assert service.get("healthcheck", {"test": probe})["test"] == probe


def test_one_image_is_built_once_and_run_by_every_worker() -> None:
    builders = [n for n, s in COMPOSE["services"].items() if "build" in s]
    assert builders == ["relay"]  # two `build: .` services would build two identical images
    assert COMPOSE["services"]["relay"]["pull_policy"] == "build"  # never pulled from a registry
    services = _relay_services()
    assert len(services) >= 2
    for name, service in services.items():
        if name not in builders:
            assert service["pull_policy"] == "never", name  # the image the relay service built
    consumers = [_parser().parse_args(s["command"]).consumer for s in services.values()]
    assert None not in consumers and len(set(consumers)) == len(consumers)  # told apart


def _mounted_config_host_path(service: dict[str, Any]) -> str:
    host_path, container_path, _ = service["volumes"][0].split(":")
    assert container_path == service["environment"]["RELAY_CONFIG"]
    return str(ROOT / host_path)


def test_every_variable_compose_passes_is_one_the_config_reads() -> None:
    for service in _relay_services().values():
        env = service["environment"]
        values = {k: f"value-of-{k}" for k in env} | {"REDIS_URL": "redis://valkey:6379/0"}
        values["RELAY_CONFIG"] = _mounted_config_host_path(service)  # where the mount points
        cfg = config_mod.load(None, env=values)  # the file found through RELAY_CONFIG
        read = {
            "RELAY_CONFIG": cfg.path,
            "REDIS_URL": cfg.redis.url,
            cfg.telegram.token_env: cfg.telegram.token,
            cfg.discord.token_env: cfg.discord.token,
            cfg.api.token_env: cfg.api.token,
        }
        assert set(env) == set(read)
        assert all(read[k] == values[k] for k in env)


def test_with_both_tokens_compose_delivers_to_both_platforms_and_not_the_console() -> None:
    tokens = {"TELEGRAM_TOKEN": "1:tg", "DISCORD_TOKEN": "dc", "RELAY_API_TOKEN": "api"}
    cfg = config_mod.load(DOCKER_CONFIG, env=tokens)
    assert cfg.telegram.enabled and cfg.telegram.token == "1:tg"
    assert cfg.discord.enabled and cfg.discord.token == "dc"
    assert not cfg.console.enabled  # production: no dry-run copies in the log
    assert all(c.destination.platform != "console" for c in cfg.channels)


@pytest.mark.parametrize("missing", ["TELEGRAM_TOKEN", "DISCORD_TOKEN"])
def test_a_missing_token_stops_the_relay_with_its_name(missing: str) -> None:
    tokens = {"TELEGRAM_TOKEN": "1:tg", "DISCORD_TOKEN": "dc", "RELAY_API_TOKEN": "api"}
    with pytest.raises(ConfigError, match=f"the environment variable {missing} to hold"):
        config_mod.load(DOCKER_CONFIG, env={k: v for k, v in tokens.items() if k != missing})


def test_a_token_for_a_platform_that_is_off_is_refused_not_ignored() -> None:
    # Before: TELEGRAM_TOKEN=… DISCORD_TOKEN=… docker compose up delivered to the console only.
    data = yaml.safe_load(DOCKER_CONFIG.read_text()) | {"discord": {"enabled": False}}
    env = {"TELEGRAM_TOKEN": "1:tg", "DISCORD_TOKEN": "dc"}
    with pytest.raises(ConfigError) as error:
        config_mod.parse(data, "relay.yaml", env)
    assert error.value.key == "discord.enabled"
    assert error.value.expected == "true, since DISCORD_TOKEN is set (or unset DISCORD_TOKEN)"
    del env["DISCORD_TOKEN"]
    assert not config_mod.parse(data, "relay.yaml", env).discord.enabled
    # Commands that only write to Redis (relay post) need no tokens and check none.
    config_mod.parse(data, "relay.yaml", {"DISCORD_TOKEN": "dc"}, need_tokens=False)


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parents = ["/".join(path.split("/")[: i + 1]) for i in range(path.count("/") + 1)]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        regex = re.escape(body).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, p) for p in parents):
            ignored = not negated
    return ignored


OUTSIDE_THE_IMAGE = [
    ".venv/bin/python", ".venv/lib/python3.11/site-packages/x.py", ".git/HEAD",
    "test-output/report.xml", ".hypothesis/examples/x", ".pytest_cache/v", ".mypy_cache/x",
    "tests/test_deploy.py", "sandbox/pyproject.toml", "relay/__pycache__/a.pyc",
    "relay/adapters/__pycache__/b.pyc", "docker-compose.yml", "config/x.yaml", ".env",
]  # fmt: skip


def test_dockerignore_keeps_the_context_to_what_the_dockerfile_copies() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [x.strip() for x in lines if x.strip() and not x.startswith("#")]
    for path in OUTSIDE_THE_IMAGE:
        assert _dockerignored(path, patterns), path
    copied = [src for line in re.findall(r"^COPY (.+)$", DOCKERFILE, re.M)
              for src in line.split()[:-1]]  # fmt: skip
    assert "constraints.txt" in copied
    for src in copied:
        files = [src] if (ROOT / src).is_file() else [
            str(f.relative_to(ROOT)) for f in (ROOT / src).rglob("*.py")
            if "__pycache__" not in f.parts
        ]  # fmt: skip
        assert files and not [f for f in files if _dockerignored(f, patterns)], src


def _requirement_name(spec: str) -> str:
    return re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower().replace("_", "-")


def test_the_constraints_pin_every_dependency_and_ci_and_the_image_use_them() -> None:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pins = dict(x.split("==") for x in lines if x and not x.startswith("#"))
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", n) and v for n, v in pins.items())
    pinned = {n.lower().replace("_", "-") for n in pins}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    sandbox = tomllib.loads((ROOT / "sandbox" / "pyproject.toml").read_text())["project"]
    wanted = {_requirement_name(r) for r in [*project["dependencies"], *sandbox["dependencies"],
              *project["optional-dependencies"]["test"]]} - {"live-relay-sandbox"}  # fmt: skip
    assert wanted - pinned == set()
    assert not pinned & {"live-relay", "live-relay-sandbox"}  # installed from this checkout
    assert 'PIP_CONSTRAINT="$PWD/constraints.txt"' in (ROOT / ".ci" / "run").read_text()
    assert "COPY pyproject.toml README.md constraints.txt ./" in DOCKERFILE


@pytest.mark.parametrize("pyproject", ["pyproject.toml", "sandbox/pyproject.toml"])
def test_the_build_backend_reads_the_license_expression(pyproject: str) -> None:
    data = tomllib.loads((ROOT / pyproject).read_text())
    assert data["project"]["license"] == "MIT"  # a PEP 639 expression: setuptools 77 or newer
    [setuptools] = data["build-system"]["requires"]
    assert setuptools == "setuptools>=77"


DEPLOY = ROOT / "deploy"


def _exported_series() -> dict[str, str]:
    """Every series name /metrics can carry → the metric it belongs to."""
    suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}
    return {
        family.name + suffix: family.name
        for family in metrics_mod.REGISTRY.collect()
        for suffix in suffixes[family.type]
    }


def test_the_systemd_unit_runs_a_real_command_with_what_the_config_reads() -> None:
    unit = (DEPLOY / "live-relay@.service").read_text()
    settings = dict(
        line.split("=", 1) for line in unit.splitlines() if re.match(r"^[A-Z]\w*=", line)
    )
    program, *argv = shlex.split(settings["ExecStart"])
    assert program.endswith("/bin/relay")
    args = _parser().parse_args(argv)
    assert args.cmd == "run" and args.consumer == "relay-%i"  # one consumer per instance
    assert settings["Environment"] == "RELAY_CONFIG=/etc/live-relay/relay.yaml"
    assert settings["KillSignal"] == "SIGTERM" and settings["Restart"] == "on-failure"
    grace = config_mod.load(DOCKER_CONFIG, env={}, need_tokens=False).dispatcher.grace_seconds
    assert int(settings["TimeoutStopSec"]) > grace  # SIGTERM drains before systemd kills
    for name in ("REDIS_URL", "TELEGRAM_TOKEN", "DISCORD_TOKEN", "RELAY_API_TOKEN"):
        assert f"#   {name}=" in unit  # what the EnvironmentFile holds, as the config names it


def test_prometheus_scrapes_every_compose_worker_with_a_worker_label() -> None:
    scrape = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    [job] = scrape["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    cfg = config_mod.load(DOCKER_CONFIG, env={}, need_tokens=False)
    targets = {t["labels"]["worker"]: t["targets"] for t in job["static_configs"]}
    consumers = {
        name: _parser().parse_args(service["command"]).consumer
        for name, service in _relay_services().items()
    }
    # One target per worker: its compose service at the API port, labelled with its consumer.
    assert targets == {consumers[n]: [f"{n}:{cfg.api.port}"] for n in consumers}


def test_the_grafana_dashboard_shows_every_metric_and_only_real_ones() -> None:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\brelay_\w+", expr)}
    series = _exported_series()
    assert used - set(series) == set()  # no panel asks for a series the relay never exports
    assert {series[name] for name in used} == set(series.values())  # every metric has a panel
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(set(ids)) == len(ids)
    assert any("by (worker" in expr for expr in exprs)  # workers told apart, as scraped


async def test_the_start_up_log_says_which_platforms_are_live(
    make_config: Callable[..., Config], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="relay.app")
    async with Relay(make_config(), console_out=io.StringIO()):
        pass
    assert "platforms live: console" in caplog.messages


def _dev_setup(tmp: Path, stamp_age: dict[str, float]) -> list[str]:
    """Run `./dev setup` on a copy of the checkout's install inputs, with `stamp_age` seconds
    of mtime per input relative to the stamp (positive: newer than it); return the pip and venv
    calls it made, each as `PIP_CONSTRAINT=… args`, from a stand-in python that records them."""
    (tmp / "sandbox").mkdir(parents=True)
    for name in ("dev", "pyproject.toml", "sandbox/pyproject.toml", "constraints.txt"):
        shutil.copy2(ROOT / name, tmp / name)
    calls = tmp / "calls"
    python = tmp / "python"
    python.write_text(f'#!/bin/sh\necho "PIP_CONSTRAINT=${{PIP_CONSTRAINT:-}} $*" >> {calls}\n')
    python.chmod(0o755)
    bin_dir = tmp / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    shutil.copy2(python, bin_dir / "python")
    (bin_dir / "relay").write_text("#!/bin/sh\n")
    (bin_dir / "relay").chmod(0o755)
    stamp, now = tmp / ".venv" / ".installed", time.time()
    stamp.touch()
    os.utime(stamp, (now, now))
    for name, age in stamp_age.items():
        os.utime(tmp / name, (now + age, now + age))
    env = {**os.environ, "PYTHON": str(python)}
    env.pop("VENV", None)
    run = subprocess.run(["sh", str(tmp / "dev"), "setup"], env=env, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stderr
    return calls.read_text().splitlines() if calls.exists() else []


def test_dev_setup_installs_with_the_constraints_and_again_when_they_change(
    tmp_path: Path,
) -> None:
    older = {"pyproject.toml": -60.0, "sandbox/pyproject.toml": -60.0}
    assert _dev_setup(tmp_path / "a", {**older, "constraints.txt": -60.0}) == []  # up to date
    calls = _dev_setup(tmp_path / "b", {**older, "constraints.txt": 60.0})  # new pins
    installs = [c for c in calls if " -m pip install " in c and "-e ./sandbox" in c]
    assert installs == [
        f"PIP_CONSTRAINT={tmp_path / 'b' / 'constraints.txt'} -m pip install --quiet "
        "-e ./sandbox -e .[test]"
    ], calls
