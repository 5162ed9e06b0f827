"""What ASYCUDA World cannot take, found before calling it: the declaration is then rejected with a reason the
trader can act on (:func:`gateway.sdk.cannot_take`), and ASYCUDA registers nothing.

ASYCUDA values goods in the installation's national currency: each item's ``Total_CIF_itm`` and the
declaration's ``Total_CIF`` are national amounts, and only the invoice has a foreign currency (with its rate).
A customs value declared in another currency would be registered (and taxed) as if it were national: the
adapter refuses it instead, pointing at the item's ``CustomsValueAmount``.
"""

from __future__ import annotations

from gateway.sdk import DeclarationModel, NationalAnswer, cannot_take

__all__ = ["SYSTEM", "check_limits"]

SYSTEM = "ASYCUDA"
"""The system tag of this adapter's issue codes (``FJ-ASYCUDA-...``)."""


def check_limits(model: DeclarationModel, *, member: str, currency: str | None) -> NationalAnswer | None:
    """Return the rejection of a declaration ASYCUDA World cannot take, or None when it can take it.

    Args:
        model: the declaration's model.
        member: the member served.
        currency: the installation's national currency; None: that of the first valued item (then every
            item must be valued in one currency).
    """
    valued = [item for item in model.items if item.customs_value is not None and item.customs_value.currency]
    national = currency or (valued[0].customs_value.currency if valued else None)  # type: ignore[union-attr]
    for position, item in enumerate(model.items, start=1):
        value = item.customs_value
        if value is not None and value.currency and value.currency != national:
            return cannot_take(
                member, SYSTEM, "CURRENCY-NOT-NATIONAL",
                f"goods item {position} is valued in {value.currency}; ASYCUDA World of {member} values every "
                f"item in the national currency {national}: declare its customs value in {national} (converted "
                f"at the declared exchange rate)", pointer=item.pointer_to("customs_value"))
    return None
