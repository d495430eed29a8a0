"""`make serve`'s registration: the work pool if it is missing, then prefect.yaml's deployments.

Usage: deploy.py POOL [OPTION...] (OPTIONs go to `work-pool create`, e.g. `--type process`), with
PREFECT_API_URL set, from the project folder (where prefect.yaml is).
The same `prefect` commands scripts/serve.sh ran one after another (`work-pool inspect`, and
`work-pool create` when the pool is missing, then `--no-prompt deploy --all`), run in turn in
one process: each cold `prefect` imported Prefect again (2-3 CPU-s, seconds of wall apiece).
"""

from __future__ import annotations

import contextlib
import io
import sys


def prefect(*args: str, quiet: bool = False) -> int:
    """Run one `prefect` command in this process; return its exit status."""
    from prefect.cli import app

    sys.argv = ["prefect", *args]
    shown = io.StringIO() if quiet else None
    with (
        contextlib.redirect_stdout(shown) if shown else contextlib.nullcontext(),
        contextlib.redirect_stderr(shown) if shown else contextlib.nullcontext(),
    ):
        try:
            app()
        except SystemExit as exc:
            code = exc.code
            return code if isinstance(code, int) else int(code is not None)
    return 0


def main(pool: str, *create_options: str) -> int:
    """Create the work pool unless it exists, then register every deployment."""
    if prefect("work-pool", "inspect", pool, quiet=True) != 0:
        status = prefect("work-pool", "create", pool, *create_options)
        if status != 0:
            return status
    return prefect("--no-prompt", "deploy", "--all")


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
