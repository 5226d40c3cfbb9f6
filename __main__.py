"""Pulumi entry point (`pulumi preview`/`pulumi up`, and `gpucluster preview` offline)."""

from components.program import main

main()
