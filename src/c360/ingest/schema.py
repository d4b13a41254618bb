"""The canonical customer schema: the record kinds c360 knows and the type of every field.

A source's mapping names canonical fields; the standardizer for a field is chosen by its type
here, the same for a file import, a database import and a webhook. Person fields may appear on
any kind (a POS receipt carries the buyer's phone, an invoice the billing address); each kind
adds the fields of its business object. Anything else a source has goes under ``custom``.
"""

from enum import StrEnum


class RecordKind(StrEnum):
    CONTACT = "contact"
    ORDER = "order"
    ORDER_ITEM = "order_item"
    INVOICE = "invoice"
    PAYMENT = "payment"
    SHIPMENT = "shipment"
    TICKET = "ticket"
    SURVEY_RESPONSE = "survey_response"
    FEEDBACK = "feedback"
    REGISTRATION = "registration"
    SUBSCRIPTION = "subscription"
    PRODUCT = "product"
    WEB_EVENT = "web_event"


FIELD_TYPES = frozenset(
    {
        "text",
        "name",
        "email",
        "phone",
        "date",
        "datetime",
        "money",
        "number",
        "integer",
        "boolean",
        "country",
        "gender",
        "province",
        "postal_code",
        "national_id",
        "identifier",
        "currency",
        "address",
    }
)
"""Standardizer types (``c360.standardize.STANDARDIZERS`` has one function per type)."""

PERSON_FIELDS: dict[str, str] = {
    "first_name": "name",
    "middle_name": "name",
    "last_name": "name",
    "full_name": "name",
    "nickname": "name",
    "email": "email",
    "phone": "phone",
    "birth_date": "date",
    "gender": "gender",
    "address": "address",
    "address_line1": "text",
    "address_line2": "text",
    "subdistrict": "text",
    "district": "text",
    "city": "text",
    "province": "province",
    "postal_code": "postal_code",
    "country": "country",
    "national_id": "national_id",
    "customer_id": "identifier",
    "company": "text",
    "job_title": "text",
    "industry": "text",
    "language": "text",
    "line_user_id": "identifier",
    "zalo_user_id": "identifier",
    "created_at": "datetime",
    "updated_at": "datetime",
}

KIND_FIELDS: dict[RecordKind, dict[str, str]] = {
    RecordKind.CONTACT: {"source_created_at": "datetime", "tags": "text", "segment": "text"},
    RecordKind.ORDER: {
        "order_id": "identifier",
        "ordered_at": "datetime",
        "status": "text",
        "channel": "text",
        "store": "text",
        "total": "money",
        "discount": "money",
        "tax": "money",
        "currency": "currency",
        "payment_method": "text",
        "item_count": "integer",
    },
    RecordKind.ORDER_ITEM: {
        "order_id": "identifier",
        "line_no": "integer",
        "product_id": "identifier",
        "sku": "identifier",
        "product_name": "text",
        "category": "text",
        "quantity": "number",
        "unit_price": "money",
        "amount": "money",
        "currency": "currency",
    },
    RecordKind.INVOICE: {
        "invoice_id": "identifier",
        "order_id": "identifier",
        "issued_at": "datetime",
        "due_date": "date",
        "amount": "money",
        "outstanding": "money",
        "currency": "currency",
        "status": "text",
        "payment_terms": "text",
    },
    RecordKind.PAYMENT: {
        "payment_id": "identifier",
        "invoice_id": "identifier",
        "order_id": "identifier",
        "paid_at": "datetime",
        "amount": "money",
        "currency": "currency",
        "method": "text",
        "status": "text",
        "card_last4": "identifier",
    },
    RecordKind.SHIPMENT: {
        "shipment_id": "identifier",
        "order_id": "identifier",
        "carrier": "text",
        "tracking_number": "identifier",
        "status": "text",
        "scheduled_at": "datetime",
        "delivered_at": "datetime",
        "preferred_time": "text",
    },
    RecordKind.TICKET: {
        "ticket_id": "identifier",
        "channel": "text",
        "topic": "text",
        "subject": "text",
        "description": "text",
        "status": "text",
        "priority": "text",
        "opened_at": "datetime",
        "closed_at": "datetime",
        "agent": "text",
        "notes": "text",
    },
    RecordKind.SURVEY_RESPONSE: {
        "response_id": "identifier",
        "survey": "text",
        "score": "integer",
        "comment": "text",
        "responded_at": "datetime",
        "channel": "text",
    },
    RecordKind.FEEDBACK: {
        "feedback_id": "identifier",
        "channel": "text",
        "platform": "text",
        "subject": "text",
        "text": "text",
        "rating": "number",
        "rating_scale": "integer",
        "submitted_at": "datetime",
        "author": "text",
        "url": "text",
        "language": "text",
    },
    RecordKind.REGISTRATION: {
        "registration_id": "identifier",
        "event_name": "text",
        "event_date": "date",
        "registered_at": "datetime",
        "attended": "boolean",
        "channel": "text",
    },
    RecordKind.SUBSCRIPTION: {
        "list_name": "text",
        "channel": "text",
        "status": "text",
        "subscribed_at": "datetime",
        "unsubscribed_at": "datetime",
        # consent with its proof (c360.privacy.consent): with a purpose, consent to it
        "purpose": "text",
        "method": "text",
        "notice_version": "text",
        "notice_text": "text",
        "evidence": "text",
        "expires_at": "datetime",
    },
    RecordKind.PRODUCT: {
        "product_id": "identifier",
        "sku": "identifier",
        "product_name": "text",
        "category": "text",
        "brand": "text",
        "price": "money",
        "currency": "currency",
        "stock": "integer",
        "location": "text",
    },
    RecordKind.WEB_EVENT: {
        "event": "text",
        "occurred_at": "datetime",
        "url": "text",
        "referrer": "text",
        "anonymous_id": "identifier",
        "user_id": "identifier",
        "session_id": "identifier",
        "device_id": "identifier",
    },
}

IDENTIFIER_TYPES: dict[str, str] = {
    "email": "email",
    "phone": "phone",
    "national_id": "national_id",
    "customer_id": "identifier",
    "user_id": "identifier",
    "anonymous_id": "identifier",
    "line_user_id": "identifier",
    "zalo_user_id": "identifier",
    "device_id": "identifier",
}
"""Known identifier types and their standardizer; any other name is a custom ``identifier``."""


def fields_of(kind: RecordKind) -> dict[str, str]:
    """Every canonical field a record of ``kind`` may have, with its type."""
    return {**PERSON_FIELDS, **KIND_FIELDS[kind]}
