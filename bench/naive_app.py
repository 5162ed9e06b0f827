"""The naive baseline's service: what a typical FastStream user writes to validate declarations, run as a process.

A FastStream ``KafkaBroker`` subscriber with the defaults (one message at a time, offsets auto-committed, the
producer's defaults), which parses and validates each message against the gateway's XSD with lxml, in the event
loop, and publishes the verdict to an output topic. Nothing of the gateway is imported: only FastStream and
lxml, as a user would. FastStream carries the input's ``correlation_id`` header over to the output, which is how
the benchmark matches them.

``python -m bench.naive_app --bootstrap-servers HOST:PORT --xsd FILE --input TOPIC --output TOPIC [--username U
--password-file F]``; prints ``ready`` once it consumes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.security import SASLScram256
from lxml import etree

__all__ = ["build", "main"]


def build(args: argparse.Namespace) -> FastStream:
    """Return the FastStream app: one subscriber that validates and publishes.

    Args:
        args: the command-line options.
    """
    security = None
    if args.username:
        security = SASLScram256(args.username, Path(args.password_file).read_text().strip())
    broker = KafkaBroker(args.bootstrap_servers, security=security)
    schema = etree.XMLSchema(etree.parse(args.xsd))
    parser = etree.XMLParser(resolve_entities=False, no_network=True)

    @broker.subscriber(args.input, group_id=args.group_id, auto_offset_reset="earliest")
    @broker.publisher(args.output)
    async def validate(body: bytes) -> bytes:
        try:
            document = etree.fromstring(body, parser)
        except etree.XMLSyntaxError as exc:
            return json.dumps({"valid": False, "errors": [str(exc)]}).encode()
        valid = schema.validate(document)
        return json.dumps({"valid": valid, "errors": [str(e) for e in schema.error_log][:10]}).encode()

    app = FastStream(broker)

    @app.after_startup
    async def say_ready() -> None:
        print("ready", flush=True)

    return app


def main(argv: list[str] | None = None) -> None:
    """Run the service until stopped.

    Args:
        argv: arguments; default ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(prog="python -m bench.naive_app")
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--xsd", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--group-id", default="naive-validator")
    parser.add_argument("--username")
    parser.add_argument("--password-file")
    asyncio.run(build(parser.parse_args(argv)).run())


if __name__ == "__main__":
    main()
