"""The Docker files (no Docker engine here): compose, image and config agree with the code."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from relay import config as config_mod
from relay.api import check_exposure
from relay.cli import _parser
from relay.errors import ConfigError

from .conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _relay_services() -> dict[str, Any]:
    return {n: s for n, s in COMPOSE["services"].items() if s.get("build") == "."}


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
    cfg = config_mod.load(ROOT / "config" / "relay.docker.yaml", env={})
    assert not cfg.api.allow_unauthenticated
    for service in _relay_services().values():
        assert service["environment"][cfg.api.token_env] == (
            "${" + cfg.api.token_env + ":?set " + cfg.api.token_env + "}"
        )
    with pytest.raises(ConfigError, match=cfg.api.token_env):
        check_exposure(cfg)


def test_published_port_matches_the_api_port() -> None:
    cfg = config_mod.load(ROOT / "config" / "relay.docker.yaml", env={})
    ports = COMPOSE["services"]["relay"]["ports"]
    assert f"{cfg.api.port}:{cfg.api.port}" in ports
    assert f"EXPOSE {cfg.api.port}" in DOCKERFILE
    # The health check asks the mounted config's port (relay.probe), never a fixed one.
    assert 'CMD ["python", "-m", "relay.probe", "readyz"]' in DOCKERFILE
    assert "8080" not in DOCKERFILE.split("HEALTHCHECK", 1)[1]


def test_dockerfile_installs_the_package_and_runs_relay() -> None:
    assert re.search(r"^FROM python:3\.1[1-9]", DOCKERFILE, re.M)
    assert "pip install --no-cache-dir ." in DOCKERFILE
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
