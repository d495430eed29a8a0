"""`python -m kpi.cli`: the same as the `kpi` command."""

from kpi.cli import main

main()
