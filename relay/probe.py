"""`python -m relay.probe [readyz|healthz]`: a container's health check, on the config's port.

Reads the config the relay reads (`$RELAY_CONFIG`, or `--config`), asks the local relay's
`/readyz` (or `/healthz`) and exits 0 on 200, else 1 with the answer on stderr. The Dockerfile's
`HEALTHCHECK` runs it, so changing `api.port` needs no change to the image.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request

from relay import config as config_mod
from relay.errors import RelayError

WITHIN = 3.0  # seconds; the HEALTHCHECK's own timeout is a little longer


def url(cfg: config_mod.Config, path: str) -> str:
    """Where this host reaches the API: every-interface and empty hosts mean loopback."""
    host = cfg.api.host if cfg.api.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{cfg.api.port}/{path}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m relay.probe", description=__doc__)
    parser.add_argument("check", nargs="?", choices=("readyz", "healthz"), default="readyz")
    parser.add_argument("--config", help="the relay's config (default: $RELAY_CONFIG)")
    args = parser.parse_args(argv)
    try:
        cfg = config_mod.load(args.config, need_tokens=False)
    except RelayError as exc:
        print(f"probe: {exc}", file=sys.stderr)
        return 1
    try:
        with urllib.request.urlopen(url(cfg, args.check), timeout=WITHIN) as r:
            return 0 if r.status == 200 else 1
    except urllib.error.HTTPError as exc:  # a 503: say why, for `docker inspect`
        print(f"probe: {exc.code} {exc.read().decode(errors='replace')}", file=sys.stderr)
    except (OSError, ValueError) as exc:
        print(f"probe: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
