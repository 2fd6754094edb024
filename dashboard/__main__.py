"""`python -m dashboard ...` is the `tillsync` command."""

from dashboard.console import main

main()
