"""``python -m bench``: parse the options, run the benchmark, print the table and save it as JSON."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from pathlib import Path

from bench import BenchError
from bench.corpus import SizeSummary
from bench.report import Report, render, write_json
from bench.runner import PHASES, Options, machine, run, say
from gateway.errors import GatewayError
from gateway.ops.logging import configure_logging

_QUICK_COUNT = 200
_QUICK_SECONDS = 3.0
_MEMBER_COUNT, _QUICK_MEMBER_COUNT = 150, 20
_ROUNDS, _QUICK_ROUNDS = 3, 1
_WARM_UP, _QUICK_WARM_UP = 5, 3
_LANE_BACKLOG, _QUICK_LANE_BACKLOG = 2000, 300
_LANE_SAMPLES, _QUICK_LANE_SAMPLES = 10, 3
_AEO_TRADERS, _QUICK_AEO_TRADERS = 100_000, 3000
_AEO_SAMPLES, _QUICK_AEO_SAMPLES = 50, 10
_CONCURRENCY, _QUICK_CONCURRENCY = "1,8,32", "1,8"
_CONCURRENCY_SECONDS, _QUICK_CONCURRENCY_SECONDS = 5.0, 2.0
_SCALE_ROUNDS, _QUICK_SCALE_ROUNDS = 2, 1
_SCALE_BACKLOG, _QUICK_SCALE_BACKLOG = 8000, 1000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line options.

    Args:
        argv: arguments; default ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(prog="python -m bench", description=(
        "End-to-end throughput and latency of the OCO gateway through a real Kafka broker, beside two "
        "baselines: consume-only (aiokafka, no processing) and parse+validate (no Kafka)."))
    parser.add_argument("--count", type=int, help="declarations in the corpus (default 2000; 200 with --quick)")
    parser.add_argument("--rate", type=float, help="latency phase rate in decl/s (default: half the measured "
                                                    "end-to-end throughput, at most 500)")
    parser.add_argument("--latency-seconds", type=float,
                        help="length of the latency phase (default 10; 3 with --quick)")
    parser.add_argument("--member-count", type=int,
                        help="per-member delivery phase: declarations per fast member and run (default 150; 20 "
                             "with --quick; 0 skips the phase)")
    parser.add_argument("--rounds", type=int,
                        help="per-member delivery phase: runs with the slow member busy, each between two without "
                             "(default 3; 1 with --quick)")
    parser.add_argument("--slow-delay", type=float, default=0.2,
                        help="per-member delivery phase: seconds the slow member (TO) takes per answer (default 0.2)")
    parser.add_argument("--lane-backlog", type=int,
                        help="priority-lane phase: ordinary declarations queued ahead of the priority ones (default "
                             "2000; 300 with --quick; 0 skips the phase)")
    parser.add_argument("--lane-samples", type=int,
                        help="priority-lane phase: declarations timed one at a time per lane, idle and behind the "
                             "backlog (default 10; 3 with --quick)")
    parser.add_argument("--lane-delay", type=float, default=0.005,
                        help="priority-lane phase: seconds the fake national system takes per answer (default 0.005)")
    parser.add_argument("--aeo-traders", type=int,
                        help="trusted-trader phase: traders in the registry that is loaded and weighed (default "
                             f"{_AEO_TRADERS}; {_QUICK_AEO_TRADERS} with --quick; 0 skips the phase)")
    parser.add_argument("--aeo-samples", type=int,
                        help="trusted-trader phase: statuses timed from issue to every registry (default "
                             f"{_AEO_SAMPLES}; {_QUICK_AEO_SAMPLES} with --quick)")
    parser.add_argument("--concurrency", help="latency-bound delivery phase: the concurrencies to run, comma-separated "
                                              f"(default {_CONCURRENCY}; {_QUICK_CONCURRENCY} with --quick; 0 skips "
                                              "the phase)")
    parser.add_argument("--concurrency-latency", type=float, default=0.2,
                        help="latency-bound delivery phase: seconds the national systems take per answer (default 0.2)")
    parser.add_argument("--concurrency-seconds", type=float,
                        help="latency-bound delivery phase: how long each run lasts at its bound; sizes the backlog "
                             f"(default {_CONCURRENCY_SECONDS:g}; {_QUICK_CONCURRENCY_SECONDS:g} with --quick)")
    parser.add_argument("--scale-rounds", type=int,
                        help="scale-out phase: runs with two gateway processes in one group, each between two with one "
                             f"(default {_SCALE_ROUNDS}; {_QUICK_SCALE_ROUNDS} with --quick; 0 skips the phase)")
    parser.add_argument("--scale-backlog", type=int,
                        help="scale-out phase: declarations in the backlog each run drains, the corpus cycled under "
                             f"new LRNs (default {_SCALE_BACKLOG}; {_QUICK_SCALE_BACKLOG} with --quick)")
    parser.add_argument("--only", choices=PHASES, action="append",
                        help="run just this phase (repeatable): gateway (baselines, end-to-end), scaleout (one gateway "
                             "process against two), members (per-member delivery), concurrency (latency-bound "
                             "delivery), lanes (priority lane), aeo (trusted-trader registry and propagation); all by "
                             "default")
    parser.add_argument("--quick", action="store_true", help="smoke run: small corpus, short latency phase")
    parser.add_argument("--seed", type=int, default=2026, help="corpus seed (default 2026)")
    parser.add_argument("--max-kb", type=float, default=50.0, help="largest declaration in KB (default 50)")
    parser.add_argument("--json", type=Path, default=Path(".state/bench/latest.json"),
                        help="where to save the results (default .state/bench/latest.json)")
    args = parser.parse_args(argv)
    args.count = args.count or (_QUICK_COUNT if args.quick else 2000)
    args.latency_seconds = args.latency_seconds or (_QUICK_SECONDS if args.quick else 10.0)
    if args.member_count is None:
        args.member_count = _QUICK_MEMBER_COUNT if args.quick else _MEMBER_COUNT
    if args.rounds is None:
        args.rounds = _QUICK_ROUNDS if args.quick else _ROUNDS
    args.warm_up = _QUICK_WARM_UP if args.quick else _WARM_UP
    if args.lane_backlog is None:
        args.lane_backlog = _QUICK_LANE_BACKLOG if args.quick else _LANE_BACKLOG
    if args.lane_samples is None:
        args.lane_samples = _QUICK_LANE_SAMPLES if args.quick else _LANE_SAMPLES
    if args.aeo_traders is None:
        args.aeo_traders = _QUICK_AEO_TRADERS if args.quick else _AEO_TRADERS
    if args.aeo_samples is None:
        args.aeo_samples = _QUICK_AEO_SAMPLES if args.quick else _AEO_SAMPLES
    if args.aeo_traders < 0 or args.aeo_samples < 1:
        parser.error("--aeo-traders must not be negative, --aeo-samples must be positive")
    try:
        levels = [int(x) for x in (args.concurrency or (_QUICK_CONCURRENCY if args.quick else _CONCURRENCY)).split(",")]
    except ValueError:
        parser.error("--concurrency takes whole numbers separated by commas, e.g. 1,8,32")
    if any(c < 0 for c in levels) or args.concurrency_latency <= 0:
        parser.error("--concurrency levels must not be negative, --concurrency-latency must be positive")
    args.concurrency = tuple(c for c in levels if c > 0)
    if args.concurrency_seconds is None:
        args.concurrency_seconds = _QUICK_CONCURRENCY_SECONDS if args.quick else _CONCURRENCY_SECONDS
    if args.concurrency_seconds <= 0:
        parser.error("--concurrency-seconds must be positive")
    if args.scale_rounds is None:
        args.scale_rounds = _QUICK_SCALE_ROUNDS if args.quick else _SCALE_ROUNDS
    args.scale_backlog = args.scale_backlog or (_QUICK_SCALE_BACKLOG if args.quick else _SCALE_BACKLOG)
    if args.scale_rounds < 0 or args.scale_backlog < 1:
        parser.error("--scale-rounds must not be negative, --scale-backlog must be positive")
    args.only = tuple(args.only) if args.only else PHASES
    if args.count < 1 or args.latency_seconds <= 0 or (args.rate is not None and args.rate <= 0):
        parser.error("--count, --latency-seconds and --rate must be positive")
    if args.member_count < 0 or args.slow_delay < 0 or args.rounds < 1:
        parser.error("--member-count and --slow-delay must not be negative, --rounds must be positive")
    if args.lane_backlog < 0 or args.lane_samples < 1 or args.lane_delay < 0:
        parser.error("--lane-backlog and --lane-delay must not be negative, --lane-samples must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit code (1 when a phase failed: the partial table is still printed).

    Args:
        argv: arguments; default ``sys.argv[1:]``.
    """
    args = parse_args(argv)
    # The gateway's helpers log through structlog; here only warnings matter, on stderr, not in the table.
    configure_logging("console", "WARNING")
    # SIGTERM unwinds like Ctrl-C, so the gateway and the broker are always stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    command = ("python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)).strip()
    report = Report(command, machine(), SizeSummary(0, 0, 0, 0, 0, 0, 0))
    options = Options(count=args.count, seed=args.seed, max_kb=args.max_kb, rate=args.rate,
                      latency_seconds=args.latency_seconds, state_dir=args.json.parent,
                      member_count=args.member_count, slow_delay=args.slow_delay, warm_up=args.warm_up,
                      rounds=args.rounds, lane_backlog=args.lane_backlog, lane_samples=args.lane_samples,
                      lane_delay=args.lane_delay, only=args.only, aeo_traders=args.aeo_traders,
                      aeo_samples=args.aeo_samples, concurrency_levels=args.concurrency,
                      concurrency_latency=args.concurrency_latency, concurrency_seconds=args.concurrency_seconds,
                      scale_rounds=args.scale_rounds, scale_backlog=args.scale_backlog)
    failure = None
    try:
        run(options, report)
    except (BenchError, GatewayError) as exc:
        failure = exc
    except KeyboardInterrupt:
        say("interrupted: the gateway and the broker were stopped")
        return 130
    print(render(report))
    path = write_json(report, args.json)
    logs = (["the gateway's log is in " + str(options.state_dir / "gateway.log")] if "gateway" in options.only else [])
    if options.scale_rounds and "scaleout" in options.only:
        logs.append("the scale-out phase's logs (scaleout-gateway-1.log, -2.log) in " + str(options.state_dir))
    if options.member_count and "members" in options.only:
        logs.append("the per-member phase's logs (members-gateway.log, deliver.log, asycuda-*.log) in "
                    + str(options.state_dir))
    if options.concurrency_levels and "concurrency" in options.only:
        logs.append("the latency-bound phase's logs (concurrency-*.log) in " + str(options.state_dir))
    print(f"\nsaved to {path}" + ("; " + ", ".join(logs) if logs else ""))
    if failure is not None:
        print(f"\nBENCHMARK FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
