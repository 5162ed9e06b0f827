"""The stage chain: a list built in one place, run in order by one loop (as structlog's processors).

Data flows one way: parse → identify → validate → extract → authorize → recognise, then ``plan_outputs``
turns the result into records. Trusted-trader status events are read by the first three stages too
(``build_reading_stages``).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import structlog

from gateway.config import GatewaySettings, LimitsSettings
from gateway.errors import Rejection, StageFailed
from gateway.pipeline.authorize import Authorizer
from gateway.pipeline.context import SourceRef, Stage, Submission
from gateway.pipeline.extract import extract_routing
from gateway.pipeline.identify import ProfileSelector, version_plan
from gateway.pipeline.parse import SafeParser
from gateway.pipeline.recognise import Recogniser
from gateway.pipeline.route import Output, plan_outputs
from gateway.pipeline.validate import schema_validator, validate_schema
from gateway.profiles._issues import DEFAULT_MAX_ERRORS

if TYPE_CHECKING:
    from gateway.aeo.recognition import RecognitionPolicy
    from gateway.aeo.status import TraderStatus
    from gateway.profiles import ProfileRegistry

__all__ = ["Pipeline", "StageObserver", "build_reading_stages", "build_stages", "stage_label", "tracking_id_for"]

log = structlog.get_logger(__name__)

StageObserver = Callable[[str, float], None]
"""Told (stage label, seconds) after each stage a submission went through: for metrics (gateway.ops)."""

_TRACKING_NAMESPACE = uuid.UUID("6f1c2a9e-8a51-4d8e-9a43-0c0c0a0f0c0e")
_TRACKING_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")  # safe in headers, XML and logs


def build_reading_stages(settings: GatewaySettings, registry: ProfileRegistry) -> list[Stage]:
    """Return the stages that read any document safely: parse, identify its profile, validate it.

    Args:
        settings: validated configuration (limits, profile versions).
        registry: the loaded schema profiles.

    Raises:
        ProfileError: the configured profile versions leave some participant undecided (``version_plan``).
    """
    limits = settings.gateway
    return [
        SafeParser(limits.max_message_bytes, max_depth=limits.max_depth),
        ProfileSelector(registry, version_plan(settings, registry)),
        validate_schema if limits.max_schema_errors == DEFAULT_MAX_ERRORS else schema_validator(limits.max_schema_errors),
    ]


def build_stages(settings: GatewaySettings, registry: ProfileRegistry, *,
                 aeo_lookup: Callable[[str], TraderStatus | None] | None = None,
                 recognition: RecognitionPolicy | None = None) -> list[Stage]:
    """Return the stages every submission goes through, in order.

    Args:
        settings: validated configuration (limits, members).
        registry: the loaded schema profiles.
        aeo_lookup: the trusted-trader registry's ``get``; with ``recognition``, adds the recognise stage.
        recognition: the mutual recognition configuration.
    """
    stages = [*build_reading_stages(settings, registry), extract_routing, Authorizer(settings)]
    if aeo_lookup is not None and recognition is not None:
        stages.append(Recogniser(aeo_lookup, recognition))
    return stages


def stage_label(stage: Stage) -> str:
    """Return a stage's short name for metrics: its module's under ``gateway/pipeline/`` (one module per stage).

    ``SafeParser`` is ``parse``, ``validate_schema`` is ``validate``...; a stage from elsewhere keeps its own name.

    Args:
        stage: a stage as :func:`build_stages` lists them.
    """
    module = getattr(stage, "__module__", None) or type(stage).__module__
    if module.startswith("gateway.pipeline."):
        return module.rsplit(".", 1)[1]
    return getattr(stage, "__name__", type(stage).__name__)


def tracking_id_for(source: SourceRef, given: str | None) -> str:
    """Return the tracking id for a message: the submitter's own when sane, else derived from its offset.

    Derived ids are stable, so a message processed twice (after a crash) carries the same id both times.

    Args:
        source: where the message was read.
        given: the ``oco-tracking-id`` header, if any.
    """
    if given and _TRACKING_ID.fullmatch(given):
        return given
    return str(uuid.uuid5(_TRACKING_NAMESPACE, f"{source.topic}/{source.partition}/{source.offset}"))


class Pipeline:
    """Runs the stages over one submission and plans its outputs; never raises for bad input.

    Args:
        stages: the stages, as from :func:`build_stages`.
        limits: ``gateway`` settings; every output is planned to fit ``limits.max_record_bytes``.
        observe: told how long each stage took (its :func:`stage_label`), and planning the outputs (``route``),
            whether the stage passed the submission on, refused it or raised.
    """

    def __init__(self, stages: Sequence[Stage], limits: LimitsSettings | None = None, *,
                 observe: StageObserver | None = None) -> None:
        self._stages = [(getattr(s, "__name__", type(s).__name__), s) for s in stages]
        self._labels = [stage_label(s) for s in stages]
        self._observe = observe
        self.limits = limits or LimitsSettings()
        self._record_limit = self.limits.max_record_bytes

    def __call__(self, submission: Submission) -> tuple[list[Output], Rejection | None]:
        """Process one submission.

        Args:
            submission: the incoming message.

        Returns:
            The records to publish, and the rejection (None when accepted).
        """
        rejection: Rejection | None = None
        observe = self._observe
        for (name, stage), label in zip(self._stages, self._labels, strict=True):
            started = time.perf_counter()
            try:
                submission = stage(submission)
            except Rejection as exc:
                rejection = exc
                rejection.stage = rejection.stage or name
            except Exception as exc:  # noqa: BLE001 - a bug in one stage must not lose the message
                log.exception("stage_failed", stage=name, tracking_id=submission.tracking_id)
                rejection = StageFailed(name, exc)
            if observe is not None:
                observe(label, time.perf_counter() - started)
            if rejection is not None:
                break
        if rejection is not None and submission.routing is None and submission.profile is not None:
            submission = _echo_routing(submission)
        if observe is None:
            return self.conclude(submission, rejection)
        started = time.perf_counter()
        try:
            return self.conclude(submission, rejection)
        finally:
            observe("route", time.perf_counter() - started)

    def conclude(self, submission: Submission, rejection: Rejection | None) -> tuple[list[Output], Rejection | None]:
        """Plan the outputs of a submission the stages are done with (or that was given up: a timeout).

        Args:
            submission: the submission.
            rejection: why it is refused, or None.
        """
        try:
            return plan_outputs(submission, rejection, record_limit=self._record_limit), rejection
        except Exception as exc:  # noqa: BLE001 - a poison message must not block its partition
            log.exception("route_failed", tracking_id=submission.tracking_id)
            submission.routing = None  # answer without echoing anything from the document
            submission.profile = None
            failed = StageFailed("route", exc)
            return plan_outputs(submission, failed, record_limit=self._record_limit), failed


def _echo_routing(submission: Submission) -> Submission:
    """Best effort: find the LRN of a rejected declaration, so the reply names it and the key orders it."""
    try:
        return extract_routing(submission)
    except Exception:  # noqa: BLE001 - only an echo: the rejection already says what is wrong
        return submission
