"""The demo files' columns and the mapping each file ships with.

A mapping says only what an operator importing the file would know from looking at it: which
column is which, the office's region and time zone, the date style, the encoding and the
vocabularies of coded columns. It says nothing the generator alone knows (who is who, which
rows are noisy).
"""

from typing import Any

import yaml

from c360.demo.catalog import WAREHOUSES

TH_DEFAULTS = {"default_region": "TH", "timezone": "Asia/Bangkok", "country": "TH"}
VN_DEFAULTS = {"default_region": "VN", "timezone": "Asia/Ho_Chi_Minh", "country": "VN"}
HQ_DEFAULTS = {"default_region": "TH", "timezone": "Asia/Bangkok"}
"""Files from head office in Bangkok hold both countries: no default country."""

GENDERS = {
    "M": "male",
    "F": "female",
    "ชาย": "male",
    "หญิง": "female",
    "Nam": "male",
    "Nữ": "female",
}
COUNTRIES = {
    "Thailand": "TH",
    "ไทย": "TH",
    "TH": "TH",
    "Vietnam": "VN",
    "Việt Nam": "VN",
    "VN": "VN",
}
SECTORS = {
    "ค้าปลีก": "Retail",
    "การผลิต": "Manufacturing",
    "การเงิน": "Finance",
    "สุขภาพ": "Healthcare",
    "การศึกษา": "Education",
    "การโรงแรม": "Hospitality",
    "เทคโนโลยี": "Technology",
    "ขนส่ง": "Logistics",
    "ราชการ": "Government",
    "อสังหาริมทรัพย์": "Real Estate",
    "Bán lẻ": "Retail",
    "Sản xuất": "Manufacturing",
    "Tài chính": "Finance",
    "Y tế": "Healthcare",
    "Giáo dục": "Education",
    "Khách sạn - Nhà hàng": "Hospitality",
    "Công nghệ": "Technology",
    "Vận tải": "Logistics",
    "Nhà nước": "Government",
    "Bất động sản": "Real Estate",
}

CRM_COLUMNS = (
    "Customer No", "First Name", "Last Name", "Nickname", "E-mail", "Mobile", "DOB", "Gender",
    "Company", "Job Title", "Industry", "Sector", "Customer Type", "Address", "Province",
    "Postcode", "Country", "Created",
)  # fmt: skip
BILLING_TH_COLUMNS = (
    "รหัสลูกค้า", "ชื่อ", "นามสกุล", "เลขประจำตัวประชาชน", "โทรศัพท์", "อีเมล", "ที่อยู่",
    "จังหวัด", "รหัสไปรษณีย์", "วันที่สร้าง",
)  # fmt: skip
BILLING_VN_COLUMNS = (
    "Mã KH", "Họ và tên", "Giới tính", "Ngày sinh", "Số CCCD", "Điện thoại", "Email", "Địa chỉ",
    "Tỉnh/Thành phố", "Ngày tạo",
)  # fmt: skip
INVOICE_COLUMNS = (
    "Invoice No", "Customer Code", "Office", "Order Ref", "Issue Date", "Due Date", "Terms",
    "Currency", "Amount", "Outstanding", "Status",
)  # fmt: skip
PAYMENT_COLUMNS = (
    "Payment ID", "Invoice No", "Customer Code", "Paid At", "Currency", "Amount", "Method",
    "Status", "Card Last4", "Reference",
)  # fmt: skip
POS_COLUMNS = (
    "Receipt No", "Branch Code", "Branch", "Country", "Date Time", "Member Phone",
    "Customer Name", "Items", "Total", "Discount", "Currency", "Payment", "Cashier",
)  # fmt: skip
SHOP_ORDER_KEYS = (
    "order_id", "customer_id", "created_at", "status", "channel", "email", "phone",
    "first_name", "last_name", "shipping_address", "shipping_subdistrict", "shipping_district",
    "shipping_province", "shipping_postcode", "shipping_country", "currency", "subtotal",
    "discount", "shipping_fee", "total", "payment_method", "item_count", "coupon_code",
)  # fmt: skip
SHOP_ITEM_KEYS = (
    "order_id", "line_no", "sku", "product_name", "category", "quantity", "unit_price",
    "amount", "currency",
)  # fmt: skip
SHIPMENT_COLUMNS = (
    "Shipment No", "Order No", "Carrier", "Tracking No", "Recipient", "Phone", "Address",
    "Postcode", "Country", "Status", "Scheduled", "Delivered", "Preferred Time",
)  # fmt: skip
TICKET_COLUMNS = (
    "Ticket ID", "Channel", "Topic", "Status", "Priority", "Opened", "Closed", "Caller Name",
    "Phone", "Email", "LINE ID", "Zalo ID", "Country", "Agent", "Notes",
)  # fmt: skip
SURVEY_COLUMNS = (
    "response_id", "survey", "email", "score", "comment", "responded_at", "channel", "language",
)  # fmt: skip
NEWSLETTER_COLUMNS = (
    "Subscriber ID", "Email Address", "Name", "Status", "List", "Opt-in Date",
    "Unsubscribed Date", "Language",
)  # fmt: skip
EVENT_COLUMNS = (
    "Registration ID", "Timestamp", "Event", "Event Date", "Full Name", "Email", "Phone Number",
    "Company", "Country", "Attended",
)  # fmt: skip
PRODUCT_COLUMNS = (
    "SKU", "Product Name", "ชื่อสินค้า", "Tên sản phẩm", "Category", "Brand", "Price THB",
    "Price VND", *(f"Stock {w}" for w in WAREHOUSES), "Total Stock",
)  # fmt: skip


def _mapping(
    source: str,
    kind: str,
    record_id: str | list[str],
    defaults: dict[str, str],
    read: dict[str, str],
    fields: dict[str, Any],
    identifiers: dict[str, Any] | None = None,
    custom: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "source": source,
        "kind": kind,
        "record_id": record_id,
        "defaults": defaults,
        "read": read,
        "fields": fields,
    }
    if identifiers:
        out["identifiers"] = identifiers
    if custom:
        out["custom"] = custom
    return out


def _csv(encoding: str = "utf-8", delimiter: str = ",") -> dict[str, str]:
    return {"format": "csv", "encoding": encoding, "delimiter": delimiter}


MAPPINGS: dict[str, dict[str, Any]] = {
    "crm_contacts": _mapping(
        "crm",
        "contact",
        "Customer No",
        HQ_DEFAULTS,
        _csv("utf-8-sig"),
        {
            "first_name": "First Name",
            "last_name": "Last Name",
            "nickname": "Nickname",
            "birth_date": {"column": "DOB", "format": "%d/%m/%Y"},
            "gender": {"column": "Gender", "values": GENDERS},
            "company": "Company",
            "job_title": "Job Title",
            "industry": {"columns": ["Industry", "Sector"], "values": SECTORS},
            "segment": "Customer Type",
            "address": "Address",
            "province": "Province",
            "postal_code": "Postcode",
            "country": {"column": "Country", "values": COUNTRIES},
            "source_created_at": {"column": "Created", "format": "%d/%m/%Y %H:%M"},
        },
        {"customer_id": "Customer No", "email": "E-mail", "phone": "Mobile"},
    ),
    "billing_customers_th": _mapping(
        "billing",
        "contact",
        "รหัสลูกค้า",
        TH_DEFAULTS,
        _csv("cp874", ";"),
        {
            "first_name": "ชื่อ",
            "last_name": "นามสกุล",
            "address": "ที่อยู่",
            "province": "จังหวัด",
            "postal_code": "รหัสไปรษณีย์",
            "source_created_at": {"column": "วันที่สร้าง", "format": "%d/%m/%Y"},
        },
        {
            "customer_id": "รหัสลูกค้า",
            "national_id": "เลขประจำตัวประชาชน",
            "phone": "โทรศัพท์",
            "email": "อีเมล",
        },
    ),
    "billing_customers_vn": _mapping(
        "billing",
        "contact",
        "Mã KH",
        VN_DEFAULTS,
        _csv("cp1258", ","),
        {
            "full_name": "Họ và tên",
            "gender": {"column": "Giới tính", "values": {"Nam": "male", "Nữ": "female"}},
            "birth_date": {"column": "Ngày sinh", "format": "%d/%m/%Y"},
            "address": "Địa chỉ",
            "province": "Tỉnh/Thành phố",
            "source_created_at": {"column": "Ngày tạo", "format": "%d/%m/%Y"},
        },
        {
            "customer_id": "Mã KH",
            "national_id": "Số CCCD",
            "phone": "Điện thoại",
            "email": "Email",
        },
    ),
    "invoices": _mapping(
        "billing",
        "invoice",
        "Invoice No",
        HQ_DEFAULTS,
        _csv(),
        {
            "invoice_id": "Invoice No",
            "order_id": "Order Ref",
            "issued_at": {"column": "Issue Date", "format": "%d/%m/%Y"},
            "due_date": {"column": "Due Date", "format": "%d/%m/%Y"},
            "payment_terms": "Terms",
            "currency": "Currency",
            "amount": "Amount",
            "outstanding": "Outstanding",
            "status": "Status",
        },
        {"customer_id": "Customer Code"},
        {"office": "Office"},
    ),
    "payments": _mapping(
        "billing",
        "payment",
        "Payment ID",
        HQ_DEFAULTS,
        _csv(),
        {
            "payment_id": "Payment ID",
            "invoice_id": "Invoice No",
            "paid_at": {"column": "Paid At", "format": "%Y-%m-%d %H:%M:%S"},
            "currency": "Currency",
            "amount": "Amount",
            "method": "Method",
            "status": "Status",
            "card_last4": "Card Last4",
        },
        {"customer_id": "Customer Code"},
        {"reference": "Reference"},
    ),
    "pos_transactions": _mapping(
        "pos",
        "order",
        "Receipt No",
        HQ_DEFAULTS,
        _csv(),
        {
            "order_id": "Receipt No",
            "store": "Branch",
            "country": {"column": "Country", "values": COUNTRIES},
            "ordered_at": {"column": "Date Time", "format": "%Y-%m-%d %H:%M:%S"},
            "full_name": "Customer Name",
            "item_count": "Items",
            "total": "Total",
            "discount": "Discount",
            "currency": "Currency",
            "payment_method": "Payment",
            "channel": {"default": "store"},
        },
        {"phone": "Member Phone"},
        {"branch_code": "Branch Code", "cashier": "Cashier"},
    ),
    "shop_orders": _mapping(
        "shop",
        "order",
        "order_id",
        HQ_DEFAULTS,
        {"format": "jsonl"},
        {
            "order_id": "order_id",
            "ordered_at": "created_at",
            "status": "status",
            "channel": "channel",
            "first_name": "first_name",
            "last_name": "last_name",
            "address_line1": "shipping_address",
            "subdistrict": "shipping_subdistrict",
            "district": "shipping_district",
            "province": "shipping_province",
            "postal_code": "shipping_postcode",
            "country": "shipping_country",
            "currency": "currency",
            "discount": "discount",
            "total": "total",
            "payment_method": "payment_method",
            "item_count": "item_count",
        },
        {"customer_id": "customer_id", "email": "email", "phone": "phone"},
        {"subtotal": "subtotal", "shipping_fee": "shipping_fee", "coupon_code": "coupon_code"},
    ),
    "shop_order_items": _mapping(
        "shop",
        "order_item",
        ["order_id", "line_no"],
        HQ_DEFAULTS,
        {"format": "jsonl"},
        {
            "order_id": "order_id",
            "line_no": "line_no",
            "sku": "sku",
            "product_id": "sku",
            "product_name": "product_name",
            "category": "category",
            "quantity": "quantity",
            "unit_price": "unit_price",
            "amount": "amount",
            "currency": "currency",
        },
    ),
    "shipments": _mapping(
        "shipping",
        "shipment",
        "Shipment No",
        HQ_DEFAULTS,
        _csv(),
        {
            "shipment_id": "Shipment No",
            "order_id": "Order No",
            "carrier": "Carrier",
            "tracking_number": "Tracking No",
            "full_name": "Recipient",
            "address": "Address",
            "postal_code": "Postcode",
            "country": {"column": "Country", "values": COUNTRIES},
            "status": "Status",
            "scheduled_at": {"column": "Scheduled", "format": "%Y-%m-%d %H:%M"},
            "delivered_at": {"column": "Delivered", "format": "%Y-%m-%d %H:%M"},
            "preferred_time": "Preferred Time",
        },
        {"phone": "Phone"},
    ),
    "support_tickets": _mapping(
        "support",
        "ticket",
        "Ticket ID",
        HQ_DEFAULTS,
        {"format": "xlsx", "sheet": "Tickets"},
        {
            "ticket_id": "Ticket ID",
            "channel": "Channel",
            "topic": "Topic",
            "status": "Status",
            "priority": "Priority",
            "opened_at": "Opened",
            "closed_at": "Closed",
            "full_name": "Caller Name",
            "country": {"column": "Country", "values": COUNTRIES},
            "agent": "Agent",
            "notes": "Notes",
        },
        {
            "phone": "Phone",
            "email": "Email",
            "line_user_id": "LINE ID",
            "zalo_user_id": "Zalo ID",
        },
    ),
    "nps_survey": _mapping(
        "survey",
        "survey_response",
        "response_id",
        HQ_DEFAULTS,
        {"format": "parquet"},
        {
            "response_id": "response_id",
            "survey": "survey",
            "score": "score",
            "comment": "comment",
            "responded_at": "responded_at",
            "channel": "channel",
            "language": "language",
        },
        {"email": "email"},
    ),
    "email_list": _mapping(
        "newsletter",
        "subscription",
        "Subscriber ID",
        HQ_DEFAULTS,
        _csv(),
        {
            "full_name": "Name",
            "list_name": "List",
            "status": "Status",
            "subscribed_at": {"column": "Opt-in Date", "format": "%Y-%m-%d"},
            "unsubscribed_at": {"column": "Unsubscribed Date", "format": "%Y-%m-%d"},
            "language": "Language",
            "channel": {"default": "email"},
        },
        {"email": "Email Address"},
    ),
    "event_registrations": _mapping(
        "events",
        "registration",
        "Registration ID",
        HQ_DEFAULTS,
        _csv(),
        {
            "registration_id": "Registration ID",
            "registered_at": {"column": "Timestamp", "format": "%m/%d/%Y %H:%M:%S"},
            "event_name": "Event",
            "event_date": {"column": "Event Date", "format": "%d/%m/%Y"},
            "full_name": "Full Name",
            "company": "Company",
            "country": {"column": "Country", "values": COUNTRIES},
            "attended": {"column": "Attended", "values": {"yes": "true", "no": "false"}},
        },
        {"email": "Email", "phone": "Phone Number"},
    ),
    "products": _mapping(
        "inventory",
        "product",
        "SKU",
        HQ_DEFAULTS,
        _csv(),
        {
            "product_id": "SKU",
            "sku": "SKU",
            "product_name": {"columns": ["Product Name", "ชื่อสินค้า", "Tên sản phẩm"]},
            "category": "Category",
            "brand": "Brand",
            "price": {"column": "Price THB", "currency": "THB"},
            "currency": {"default": "THB"},
            "stock": "Total Stock",
        },
        custom={
            "name_th": "ชื่อสินค้า",
            "name_vi": "Tên sản phẩm",
            "price_vnd": {"column": "Price VND", "type": "money", "currency": "VND"},
            **{
                f"stock_{w.lower()}": {"column": f"Stock {w}", "type": "integer"}
                for w in WAREHOUSES
            },
        },
    ),
}


def mapping_yaml(stem: str) -> str:
    """The mapping of the file ``stem`` as YAML text (deterministic)."""
    return yaml.safe_dump(
        MAPPINGS[stem], sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
