"""``python -m gateway``: the same as the ``oco-gateway`` command."""

from gateway.cli import main

main()
