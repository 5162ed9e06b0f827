"""``AsycudaAdapter``: delivers OCO declarations to a member's ASYCUDA World and reads its answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.asycuda.config import AsycudaSettings
from adapters.asycuda.hotfolder import HotFolderTransport
from adapters.asycuda.layout import load_layout
from adapters.asycuda.limits import check_limits
from adapters.asycuda.mapping import AsycudaMapping, MappingError
from adapters.asycuda.result import read_reply
from adapters.asycuda.transport import AsycudaTransport, HttpTransport
from gateway.sdk import Adapter, AdapterProtocolError, Declaration, NationalAnswer, parse_settings

__all__ = ["AsycudaAdapter"]

_NO_CURRENCY = "XXX"  # ISO 4217 "no currency": neither the settings nor the declaration name one


class AsycudaAdapter(Adapter):
    """The connector to UNCTAD's ASYCUDA World, over HTTP or through hot folders.

    Settings (``members.<CODE>.adapter.settings``): ``url`` (required in http mode), ``timeout`` (seconds,
    default 10), ``mode`` (``http`` or ``hotfolder``), ``hotfolder`` (``inbox``, ``outbox``,
    ``poll_interval``), ``currency`` (the national currency; default: that of the declaration's customs
    values), ``layout`` (the member's installation layout: :mod:`adapters.asycuda.layout`). See
    :class:`adapters.asycuda.config.AsycudaSettings`.

    Args:
        member: the member code served.
        settings: the member's adapter settings.

    Raises:
        ConfigError: the settings are wrong; the message names the key.
    """

    NAME = "asycuda"

    def __init__(self, member: str, settings: Mapping[str, Any]) -> None:
        super().__init__(member, settings)
        self.config = parse_settings(AsycudaSettings, settings, member=member, adapter=self.NAME)
        self._mapping = AsycudaMapping()
        self._layout = load_layout(self.config.layout) if self.config.layout else None
        self._transport: AsycudaTransport
        if self.config.hotfolder is not None:
            self._transport = HotFolderTransport(self.config.hotfolder, timeout=self.config.timeout, member=member)
        else:
            assert self.config.url is not None  # AsycudaSettings requires it in http mode
            self._transport = HttpTransport(self.config.url, timeout=self.config.timeout, member=member)

    async def deliver(self, declaration: Declaration) -> NationalAnswer:
        """Map the declaration to ASYCUDA XML, deliver it, and read the registration and assessment.

        A declaration ASYCUDA cannot take (:mod:`adapters.asycuda.limits`) is rejected without calling it.

        Args:
            declaration: the validated declaration.

        Raises:
            AdapterUnavailable: ASYCUDA World is down, too slow or said "try later".
            AdapterProtocolError: the declaration cannot be mapped, or the answer cannot be read.
        """
        try:
            mapped = self._mapping(declaration.payload)
        except MappingError as exc:
            raise AdapterProtocolError(f"declaration {declaration.lrn} for {self.member} cannot be mapped to "
                                       f"ASYCUDA World XML: {exc}", member=self.member, adapter=self.NAME) from exc
        refused = check_limits(declaration.model, member=self.member, currency=self.config.currency)
        if refused is not None:
            return refused
        document = self._layout.apply(mapped.document) if self._layout else mapped.document
        reply = await self._transport.send(document, key=declaration.idempotency_key,
                                           tracking_id=declaration.tracking_id)
        currency = self.config.currency or _customs_currency(declaration) or _NO_CURRENCY
        return read_reply(reply, member=self.member, currency=currency, model=declaration.model)

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._transport.aclose()


def _customs_currency(declaration: Declaration) -> str | None:
    # The national currency the declaration's customs values are in, read from the model: any profile's.
    return next((i.customs_value.currency for i in declaration.model.items if i.customs_value), None)
