"""National connectors: each sub-package turns a validated declaration into one national system's format.

Adapters import only ``gateway.sdk`` and register through the ``oco_gateway.adapters`` entry-point
group; the core never imports this package.
"""
