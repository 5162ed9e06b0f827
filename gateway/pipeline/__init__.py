"""The pipeline: stages that each take a ``Submission`` and return it filled in, or raise a ``Rejection``.

``chain.py`` lists them in order and runs them (as structlog runs its processors); ``route.py`` turns the
result into the records to publish. The package itself imports nothing, so ``context`` can be imported
from anywhere without cycles.
"""
