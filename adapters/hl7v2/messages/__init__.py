"""Message translators (HL7 v2-to-FHIR IG message maps) and the type/trigger dispatch table."""
from __future__ import annotations

from collections.abc import Callable

from adapters.hl7v2.context import Context
from adapters.hl7v2.errors import UNSUPPORTED_EVENT_CODE, UNSUPPORTED_MESSAGE_TYPE, UnsupportedMessage
from adapters.hl7v2.messages import adt, billing, mdm, orders, oru, pharmacy, problems, referrals, siu, vxu

Handler = Callable[[Context, str], None]
HANDLERS: dict[str, tuple[frozenset[str], Handler]] = {
    "ADT": (adt.TRIGGERS, adt.map_adt),
    "ORU": (oru.TRIGGERS, oru.map_oru),
    "OUL": (oru.OUL_TRIGGERS, oru.map_oul),
    "VXU": (vxu.TRIGGERS, vxu.map_vxu),
    "MDM": (mdm.TRIGGERS, mdm.map_mdm),
    "SIU": (siu.TRIGGERS, siu.map_siu),
    "ORM": (orders.ORM_TRIGGERS, orders.map_order),
    "OML": (orders.OML_TRIGGERS, orders.map_order),
    "OMG": (orders.OMG_TRIGGERS, orders.map_order),
    "RDE": (pharmacy.RDE_TRIGGERS, pharmacy.map_pharmacy),
    "RDS": (pharmacy.RDS_TRIGGERS, pharmacy.map_pharmacy),
    "PPR": (problems.TRIGGERS, problems.map_problems),
    "BAR": (billing.BAR_TRIGGERS, billing.map_billing),
    "DFT": (billing.DFT_TRIGGERS, billing.map_billing),
    "REF": (referrals.TRIGGERS, referrals.map_ref),
}


def handler_for(message_type: str, trigger: str) -> Handler:
    """The translator for a message type and trigger; raises UnsupportedMessage (AR) for others."""
    entry = HANDLERS.get(message_type.upper())
    if entry is None:
        label = message_type[:10] or "(empty)"
        raise UnsupportedMessage(f"message type {label} is not supported", UNSUPPORTED_MESSAGE_TYPE)
    triggers, handler = entry
    if trigger.upper() not in triggers:
        raise UnsupportedMessage(f"trigger event {message_type.upper()}^{trigger[:10] or '(empty)'} is not supported",
                                 UNSUPPORTED_EVENT_CODE)
    return handler


def supported() -> dict[str, list[str]]:
    """Supported message types and their trigger events."""
    return {name: sorted(triggers) for name, (triggers, _) in HANDLERS.items()}
