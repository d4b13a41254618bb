"""The sample company: an omnichannel home-and-lifestyle retailer in Thailand and Vietnam.

``generate_company(out, customers=N, seed=S)`` writes one file per source system, each in its
own format and habits, a mapping per imported file, a web/app event stream, the ground truth
and ``manifest.json``. Same N and seed give byte-identical files. Customers are generated one
at a time and each one's rows go straight to every source's file, so memory stays flat at any
N (only compact pools are held: the product catalogue, households waiting for their next
member, e-mail name stems, a few CRM duplicates waiting to be entered again).

People: 60% Thailand, 40% Vietnam. Each person is in a source with the probability in
``COVERAGE`` (CRM 70%, billing 60%, POS 50%, shop 45%, support 20%, survey 15%, newsletter
30%, events 10%); ``SINGLE_SOURCE`` (8%) are in exactly one source; shipping follows the
orders; 85% of shop customers and 15% of the others leave web/app events.

Noise (rates are per person or per rendering of a value in a source, as stated):

=============================  ==========================================================
households                     ~10% of people live in a household of 2-5 (different people)
                               sharing the address; 60% of households have a landline that
                               members give (billing 30%, shipping 20%, POS 10% of receipts);
                               30% share one e-mail (70% of members use it, no own one);
                               members use the head's mobile on 15% of POS receipts
moved                          12% of people not in a household moved: the shipping carrier
                               keeps the old address on 60% of shipments, billing on 30%;
                               CRM and shop have the new one
CRM duplicates                 2% of CRM contacts entered again later under a new number
                               (every other column identical)
Thai script (Thai people)      CRM 80%, billing 97%, shop 35%, shipping addresses 55%,
                               support 50%, events 40%, newsletter 35%, POS first names 35%;
                               otherwise romanized, with another common romanization than
                               the person's usual one 15% of the time (Prasert/Prasoet)
name typos (1-2 edits)         CRM 3%, billing 2%, shop 4%, shipping 5%, POS 8%, support 8%,
                               events 8%, newsletter 5% of names rendered
diacritics dropped (VN)        billing 3%, CRM 15%, events 25%, shipping 30%, shop 35%,
                               newsletter 40%, support 40%, POS 50%
upper-cased names              billing VN 10%, events 15%, shipping 20%
VN name order swapped          CRM 10% (family name in First Name), shop 8%, events 20%
                               (given name first)
nicknames                      Thai POS receipts: nickname 45%, first name 30%, none 25%;
                               support callers "คุณนก"/"K. Nok" 30%; CRM Nickname 55% filled
e-mail                         12% of people have none; case changed 6% and domain typo'd
                               2% (``gmial.com``) per rendering outside the shop account
missing fields                 CRM: e-mail 15%, mobile 8%, DOB 30%, gender 10%; billing TH:
                               national id 15%, e-mail 40%; billing VN: CCCD 15%, e-mail
                               30%, birth date 30%; billing phone 5%; events: phone 10%,
                               e-mail 5%
Buddhist era                   60% of Thai CRM birth dates; every Thai billing date
phones                         per source a mix of formats (``081-234-5678``, ``0812345678``,
                               ``+66 81 234 5678``, ``66812345678``, ``0912 345 678``,
                               ``+84912345678``); POS: 20% walk-in receipts with a counter
                               placeholder (``0000000000``, the branch's own number) or none
=============================  ==========================================================
"""

import bisect
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson
import pyarrow as pa  # type: ignore[import-untyped]

from c360.demo import catalog, people, places
from c360.demo.mappings import (
    BILLING_TH_COLUMNS,
    BILLING_VN_COLUMNS,
    CRM_COLUMNS,
    EVENT_COLUMNS,
    INVOICE_COLUMNS,
    MAPPINGS,
    NEWSLETTER_COLUMNS,
    PAYMENT_COLUMNS,
    POS_COLUMNS,
    PRODUCT_COLUMNS,
    SHIPMENT_COLUMNS,
    TICKET_COLUMNS,
    mapping_yaml,
)
from c360.demo.writers import CsvSink, JsonlSink, ParquetSink, XlsxSink
from c360.errors import InvalidInput
from c360.ingest.mapping import parse_mapping

T = TypeVar("T")

COVERAGE: dict[str, float] = {
    "crm": 0.70,
    "billing": 0.60,
    "pos": 0.50,
    "shop": 0.45,
    "support": 0.20,
    "survey": 0.15,
    "newsletter": 0.30,
    "events": 0.10,
}
SINGLE_SOURCE = 0.08
WEB_SHOP_CUSTOMERS = 0.85
WEB_OTHERS = 0.15
HOUSEHOLD_SHARE = 0.10
HOUSEHOLD_SIZES = ((2, 45.0), (3, 30.0), (4, 17.0), (5, 8.0))
MOVED = 0.12
CRM_DUPLICATE = 0.02
NO_EMAIL = 0.12
EMAIL_CASE = 0.06
EMAIL_DOMAIN_TYPO = 0.02
ROMANIZATION_VARIANT = 0.15
THAI_SCRIPT = {
    "crm": 0.80,
    "billing": 0.97,
    "shop": 0.35,
    "shipping": 0.55,
    "support": 0.50,
    "events": 0.40,
    "newsletter": 0.35,
    "pos": 0.35,
}
NAME_TYPO = {
    "crm": 0.03,
    "billing": 0.02,
    "shop": 0.04,
    "shipping": 0.05,
    "pos": 0.08,
    "support": 0.08,
    "events": 0.08,
    "newsletter": 0.05,
}
NO_DIACRITICS = {
    "billing": 0.03,
    "crm": 0.15,
    "events": 0.25,
    "shipping": 0.30,
    "shop": 0.35,
    "newsletter": 0.40,
    "support": 0.40,
    "pos": 0.50,
}
UPPER_CASE = {"billing": 0.10, "events": 0.15, "shipping": 0.20}
VN_ORDER_SWAP = {"crm": 0.10, "shop": 0.08, "events": 0.20}
WALK_IN = 0.20
BUDDHIST_ERA_DOB = 0.60

PHONE_STYLES: dict[str, tuple[tuple[str, float], ...]] = {
    "crm_TH": (("dash", 35), ("plain", 30), ("space", 10), ("e164", 10), ("intl", 10), ("cc", 5)),
    "crm_VN": (("e164", 40), ("intl", 25), ("cc", 10), ("plain", 15), ("space", 10)),
    "billing_TH": (("dash", 50), ("plain", 45), ("intl", 5)),
    "billing_VN": (("plain", 50), ("space", 30), ("dot", 10), ("e164", 10)),
    "pos": (("dash", 25), ("plain", 33), ("space", 12), ("e164", 8), ("intl", 10), ("cc", 12)),
    "shop": (("e164", 55), ("plain", 45)),
    "shipping": (("plain", 60), ("dash", 20), ("e164", 20)),
    "support": (("plain", 40), ("dash", 20), ("space", 15), ("e164", 15), ("intl", 10)),
    "events": (("plain", 40), ("dash", 15), ("space", 15), ("e164", 10), ("intl", 10), ("cc", 10)),
}

SHOP_SITE = "https://www.siamsaigonliving.example"
_T0 = datetime(2020, 12, 1)  # times are whole seconds since then, local (UTC+7) time
_START = int((datetime(2021, 1, 1) - _T0).total_seconds())
_END = int((datetime(2024, 12, 31, 23, 59, 59) - _T0).total_seconds())
_DAY = 86_400
_LOCAL_OFFSET = timedelta(hours=7)  # Asia/Bangkok and Asia/Ho_Chi_Minh, no DST


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One imported file of the demo company."""

    path: str
    source: str
    kind: str
    format: str
    encoding: str | None
    delimiter: str | None
    mapping: str
    rows: int


@dataclass(frozen=True, slots=True)
class Manifest:
    """What ``generate_company`` wrote (paths relative to the output directory)."""

    customers: int
    seed: int
    files: tuple[SourceFile, ...]
    ground_truth: str
    ground_truth_rows: int
    web_events: str
    web_event_count: int

    @classmethod
    def load(cls, directory: Path) -> "Manifest":
        """The manifest ``generate_company`` wrote into ``directory``."""
        data = orjson.loads((directory / "manifest.json").read_bytes())
        files = tuple(SourceFile(**entry) for entry in data.pop("files"))
        return cls(files=files, **data)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2) + b"\n"


class _Pick(Generic[T]):
    """A weighted choice, O(log n) per draw."""

    __slots__ = ("_cum", "_items", "_total")

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        self._items = [item for item, _ in pairs]
        cum: list[float] = []
        total = 0.0
        for _, weight in pairs:
            total += weight
            cum.append(total)
        self._cum = cum
        self._total = total

    def __call__(self, rng: random.Random) -> T:
        return self._items[bisect.bisect_right(self._cum, rng.random() * self._total)]


class _Perm:
    """A bijection of 0..modulus-1 (affine), so generated numbers never collide."""

    __slots__ = ("_a", "_b", "_m")

    def __init__(self, rng: random.Random, modulus: int) -> None:
        a = rng.randrange(modulus // 3, modulus - 1)
        while a % 2 == 0 or a % 5 == 0:
            a += 1
        self._a, self._b, self._m = a, rng.randrange(modulus), modulus

    def __call__(self, index: int) -> int:
        return (self._a * index + self._b) % self._m


@dataclass(slots=True)
class Address:
    country: str
    district: int  # index into THAI_DISTRICTS / VN_DISTRICTS
    sub: int  # subdistrict / ward
    house: str
    moo: int  # TH village number, 0 when none
    soi: int  # TH soi number off the road, 0 when none
    road: int  # index into the district's roads/streets, -1 when none
    alley: int  # VN ngõ number, 0 when none
    street_word: bool  # VN: "đường Lê Lợi"

    @property
    def province(self) -> int:
        if self.country == "TH":
            return places.THAI_DISTRICTS[self.district].province
        return places.VN_DISTRICTS[self.district].province

    @property
    def postcode(self) -> str:
        if self.country == "TH":
            return places.THAI_DISTRICTS[self.district].subdistricts[self.sub][2]
        return places.VN_PROVINCES[self.province].postcode


@dataclass(slots=True)
class Household:
    hid: str
    country: str
    address: Address
    landline: str
    email: str
    surname: people.ThaiName | None
    family: str
    head_mobile: str


@dataclass(slots=True)
class Person:
    pid: str
    country: str
    gender: str
    married: bool
    birth: date
    given: people.ThaiName | None
    surname: people.ThaiName | None
    nick: people.ThaiName | None
    g_pref: int
    s_pref: int
    family: str
    middle: str
    vn_given: str
    company: int
    job: str
    first_seen: int
    window: str
    lang: str
    address: Address
    household: Household | None = None
    old_address: Address | None = None
    email: str = ""
    email_shared: bool = False
    mobile: str = ""
    national_id: str = ""
    line_id: str = ""
    zalo_id: str = ""

    @property
    def hid(self) -> str:
        return self.household.hid if self.household is not None else ""


_Order = tuple[str, float, str, int]
"""An order a person placed: (order id, total, currency, when)."""


@dataclass(frozen=True, slots=True)
class _Product:
    sku: str
    en: str
    th: str
    vi: str
    category: str
    brand: str
    price_thb: float
    price_vnd: int  # whole dong


def generate_company(
    out: Path,
    *,
    customers: int = 10_000,
    seed: int = 42,
    progress: Callable[[int], None] | None = None,
) -> Manifest:
    """Write the demo company for ``customers`` people into ``out``; return its manifest."""
    if customers < 1:
        raise InvalidInput(f"customers must be at least 1; got {customers}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "mappings").mkdir(exist_ok=True)
    generator = _Generator(out, customers, seed, progress)
    try:
        generator.run()
    finally:
        generator.close()
    manifest = generator.manifest()
    for stem in MAPPINGS:
        text = mapping_yaml(stem)
        parse_mapping(text, origin=f"mappings/{stem}.yml")  # a broken mapping never ships
        (out / "mappings" / f"{stem}.yml").write_text(text, encoding="utf-8")
    (out / "manifest.json").write_bytes(manifest.to_json())
    return manifest


# ---------------------------------------------------------------------------- formatting


def _dt(seconds: int) -> datetime:
    return _T0 + timedelta(seconds=seconds)


def _dmy(d: date | datetime, year_offset: int = 0) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year + year_offset}"


_DAYS = [(_T0 + timedelta(days=i)).date() for i in range(_END // 86_400 + 60)]
_YMD = [f"{d.year:04d}-{d.month:02d}-{d.day:02d}" for d in _DAYS]
_DMY = [_dmy(d) for d in _DAYS]
_DMY_BE = [_dmy(d, 543) for d in _DAYS]


_HMS = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]


def _hms(seconds: int) -> str:
    return _HMS[seconds % 86_400]


def _ymd(seconds: int) -> str:
    return _YMD[seconds // 86_400]


def _ymd_hm(seconds: int) -> str:
    return f"{_YMD[seconds // 86_400]} {_hms(seconds)[:5]}"


def _ymd_hms(seconds: int) -> str:
    return f"{_YMD[seconds // 86_400]} {_hms(seconds)}"


def _iso_local(seconds: int) -> str:
    return f"{_YMD[seconds // 86_400]}T{_hms(seconds)}+07:00"


def _iso_utc_ms(seconds: int, ms: int) -> str:
    utc = seconds - 7 * 3600
    return f"{_YMD[utc // 86_400]}T{_hms(utc)}.{ms:03d}Z"


def _thb(amount: float) -> str:
    return f"{amount:,.2f}"


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


def _phone_groups(nsn: str, country: str) -> tuple[int, ...]:
    if country == "TH":
        if len(nsn) == 9:
            return (2, 3, 4)
        return (1, 3, 4) if nsn[0] == "2" else (2, 3, 3)
    if len(nsn) == 9:
        return (2, 3, 4)
    return (2, 4, 4) if nsn[:2] in ("28", "24") else (3, 3, 4)


def _split(digits: str, groups: tuple[int, ...]) -> list[str]:
    parts, start = [], 0
    for size in groups:
        parts.append(digits[start : start + size])
        start += size
    if start < len(digits):
        parts[-1] += digits[start:]
    return parts


def format_phone(nsn: str, country: str, style: str) -> str:
    """A national significant number written in one of the styles people use."""
    cc = "66" if country == "TH" else "84"
    if style == "e164":
        return f"+{cc}{nsn}"
    if style == "cc":
        return cc + nsn
    groups = _phone_groups(nsn, country)
    if style == "intl":
        return f"+{cc} " + " ".join(_split(nsn, groups))
    local = "0" + nsn
    if style == "plain":
        return local
    sep = {"dash": "-", "space": " ", "dot": "."}[style]
    if country == "VN" and len(nsn) == 9:
        return sep.join(_split(local, (4, 3, 3)))
    if country == "TH" and sep == ".":
        sep = "-"
    parts = _split(nsn, groups)
    parts[0] = "0" + parts[0]
    return sep.join(parts)


def thai_national_id(first: int, body: int) -> str:
    """A 13-digit Thai national id with a valid check digit."""
    digits = f"{first}{body:011d}"
    total = sum(int(d) * (13 - i) for i, d in enumerate(digits))
    return digits + str((11 - total % 11) % 10)


def _s10(number: int) -> str:
    """The UPU S10 check digit of an 8-digit parcel number (Thailand Post ``EMxxxxxxxxxTH``)."""
    digits = f"{number:08d}"
    total = sum(int(d) * w for d, w in zip(digits, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    check = 11 - total % 11
    return digits + str({10: 0, 11: 5}.get(check, check))


# ---------------------------------------------------------------------------- generator


class _Generator:
    def __init__(
        self, out: Path, customers: int, seed: int, progress: Callable[[int], None] | None
    ) -> None:
        self.out = out
        self.n = customers
        self.seed = seed
        self.progress = progress
        self.rng = random.Random(seed)
        rng = self.rng
        self._random = rng.random
        self.perm_th_mobile = _Perm(rng, 10**8)
        self.perm_vn_mobile = _Perm(rng, 10**7)
        self.perm_th_id = _Perm(rng, 10**11)
        self.perm_vn_id = _Perm(rng, 10**6)
        self.perm_landline = _Perm(rng, 800_000)
        self.th_count = 0
        self.vn_count = 0
        self.household_count = 0
        self.email_stems: dict[str, int] = {}
        self.seq: dict[str, int] = {}
        self.pending_members: list[Household] = []
        self.crm_duplicates: list[tuple[list[str], str, str]] = []
        self.emitted = 0

        self.pick_household_size = _Pick(HOUSEHOLD_SIZES)
        self.pick_th_province = _Pick([(i, p.weight) for i, p in enumerate(places.THAI_PROVINCES)])
        self.pick_vn_province = _Pick([(i, p.weight) for i, p in enumerate(places.VN_PROVINCES)])
        self.th_districts = {
            i: [j for j, d in enumerate(places.THAI_DISTRICTS) if d.province == i]
            for i in range(len(places.THAI_PROVINCES))
        }
        self.vn_districts = {
            i: [j for j, d in enumerate(places.VN_DISTRICTS) if d.province == i]
            for i in range(len(places.VN_PROVINCES))
        }
        self.th_given = {g: [n for n in people.THAI_GIVEN if n.gender == g] for g in "MF"}
        self.th_nick = {g: [n for n in people.THAI_NICKNAMES if n.gender in (g, "")] for g in "MF"}
        self.pick_vn_family = _Pick(people.VN_FAMILY)
        self.pick_vn_middle = {g: _Pick(people.VN_MIDDLE[g]) for g in "MF"}
        self.pick_domain = {c: _Pick(people.EMAIL_DOMAINS[c]) for c in ("TH", "VN")}
        self.pick_household_size = _Pick(HOUSEHOLD_SIZES)
        self.pick_phone = {k: _Pick(v) for k, v in PHONE_STYLES.items()}
        self.pick_carrier = {c: _Pick(v) for c, v in places.CARRIERS.items()}
        self.pick_payment = {c: _Pick(v) for c, v in catalog.PAYMENT_METHODS.items()}
        self.pick_pos_payment = {
            c: _Pick([(m, w) for m, w in v if m != "COD"])
            for c, v in catalog.PAYMENT_METHODS.items()
        }
        self.pick_shop_payment = {c: _Pick(v) for c, v in catalog.SHOP_PAYMENT_METHODS.items()}
        self.pick_single = _Pick(list(COVERAGE.items()))
        self.pick_any = _Pick([(s, w) for s, w in COVERAGE.items() if s not in _NEEDS_EMAIL])
        self.branches = {c: [b for b in places.BRANCHES if b.country == c] for c in ("TH", "VN")}
        self.near_branches: dict[tuple[str, int], list[places.Branch]] = {}
        self.events = {c: [e for e in catalog.EVENTS if e[2] == c] for c in ("TH", "VN")}
        # A household starts with this probability so that HOUSEHOLD_SHARE of people end up in one.
        mean_size = sum(s * w for s, w in HOUSEHOLD_SIZES) / sum(w for _, w in HOUSEHOLD_SIZES)
        self.household_start = HOUSEHOLD_SHARE / (
            mean_size * (1 - HOUSEHOLD_SHARE) + HOUSEHOLD_SHARE
        )

        self._open_sinks()
        self.products = self._make_products()

    # ------------------------------------------------------------------ files

    def _open_sinks(self) -> None:
        out = self.out
        self.crm = CsvSink(
            out / "crm_contacts.csv", CRM_COLUMNS, encoding="utf-8-sig", lineterminator="\r\n"
        )
        self.billing_th = CsvSink(
            out / "billing_customers_th.csv",
            BILLING_TH_COLUMNS,
            encoding="cp874",
            delimiter=";",
            lineterminator="\r\n",
        )
        self.billing_vn = CsvSink(
            out / "billing_customers_vn.csv",
            BILLING_VN_COLUMNS,
            encoding="cp1258",
            lineterminator="\r\n",
            transform=people.to_cp1258_text,
        )
        self.invoices = CsvSink(out / "invoices.csv", INVOICE_COLUMNS)
        self.payments = CsvSink(out / "payments.csv", PAYMENT_COLUMNS)
        self.pos = CsvSink(out / "pos_transactions.csv", POS_COLUMNS)
        self.shop_orders = JsonlSink(out / "shop_orders.jsonl")
        self.shop_items = JsonlSink(out / "shop_order_items.jsonl")
        self.shipments = CsvSink(out / "shipments.csv", SHIPMENT_COLUMNS)
        self.tickets = XlsxSink(out / "support_tickets.xlsx", "Tickets", TICKET_COLUMNS)
        self.survey = ParquetSink(
            out / "nps_survey.parquet",
            pa.schema(
                [
                    ("response_id", pa.string()),
                    ("survey", pa.string()),
                    ("email", pa.string()),
                    ("score", pa.int8()),
                    ("comment", pa.string()),
                    ("responded_at", pa.timestamp("ms", tz="UTC")),
                    ("channel", pa.string()),
                    ("language", pa.string()),
                ]
            ),
        )
        self.newsletter = CsvSink(out / "email_list.csv", NEWSLETTER_COLUMNS)
        self.registrations = CsvSink(out / "event_registrations.csv", EVENT_COLUMNS)
        self.product_sink = CsvSink(out / "products.csv", PRODUCT_COLUMNS)
        self.web = JsonlSink(out / "web_events.jsonl")
        self.truth = CsvSink(
            out / "ground_truth.csv", ("source", "record_id", "person_id", "household_id")
        )
        self.sinks: list[CsvSink | JsonlSink | ParquetSink | XlsxSink] = [
            self.crm, self.billing_th, self.billing_vn, self.invoices, self.payments, self.pos,
            self.shop_orders, self.shop_items, self.shipments, self.tickets, self.survey,
            self.newsletter, self.registrations, self.product_sink, self.web, self.truth,
        ]  # fmt: skip

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()

    def manifest(self) -> Manifest:
        entries = (
            ("crm_contacts.csv", "crm", self.crm, "csv", "utf-8-sig", ","),
            ("billing_customers_th.csv", "billing", self.billing_th, "csv", "cp874", ";"),
            ("billing_customers_vn.csv", "billing", self.billing_vn, "csv", "cp1258", ","),
            ("invoices.csv", "billing", self.invoices, "csv", "utf-8", ","),
            ("payments.csv", "billing", self.payments, "csv", "utf-8", ","),
            ("pos_transactions.csv", "pos", self.pos, "csv", "utf-8", ","),
            ("shop_orders.jsonl", "shop", self.shop_orders, "jsonl", "utf-8", None),
            ("shop_order_items.jsonl", "shop", self.shop_items, "jsonl", "utf-8", None),
            ("shipments.csv", "shipping", self.shipments, "csv", "utf-8", ","),
            ("support_tickets.xlsx", "support", self.tickets, "xlsx", None, None),
            ("nps_survey.parquet", "survey", self.survey, "parquet", None, None),
            ("email_list.csv", "newsletter", self.newsletter, "csv", "utf-8", ","),
            ("event_registrations.csv", "events", self.registrations, "csv", "utf-8", ","),
            ("products.csv", "inventory", self.product_sink, "csv", "utf-8", ","),
        )
        files = []
        for path, source, sink, fmt, encoding, delimiter in entries:
            stem = path.rsplit(".", 1)[0]
            files.append(
                SourceFile(
                    path=path,
                    source=source,
                    kind=str(MAPPINGS[stem]["kind"]),
                    format=fmt,
                    encoding=encoding,
                    delimiter=delimiter,
                    mapping=f"mappings/{stem}.yml",
                    rows=sink.rows,
                )
            )
        return Manifest(
            customers=self.n,
            seed=self.seed,
            files=tuple(files),
            ground_truth="ground_truth.csv",
            ground_truth_rows=self.truth.rows,
            web_events="web_events.jsonl",
            web_event_count=self.web.rows,
        )

    def _next(self, name: str) -> int:
        value = self.seq.get(name, 0) + 1
        self.seq[name] = value
        return value

    def _truth(self, source: str, record_id: str, p: Person) -> None:
        self.truth.row((source, record_id, p.pid, p.hid))

    # ------------------------------------------------------------------ the run

    def run(self) -> None:
        rng = self.rng
        n = self.n
        pending = self.pending_members
        while self.emitted < n:
            waiting = len(pending)
            must_drain = self.emitted + waiting >= n
            if waiting and (must_drain or rng.random() < 0.03 + waiting / 400):
                i = self._between(waiting)
                household = pending[i]
                pending[i] = pending[-1]
                pending.pop()
                person = self._person(household)
            else:
                person = self._person(None)
                room = n - self.emitted - waiting - 1
                if room >= 1 and rng.random() < self.household_start:
                    size = min(self.pick_household_size(rng), room + 1)
                    self._start_household(person, size)
            self.emitted += 1
            self._emit(person)
            if self.crm_duplicates and rng.random() < 0.02:
                self._flush_crm_duplicate(self._between(len(self.crm_duplicates)))
            if self.progress is not None and self.emitted % 1000 == 0:
                self.progress(self.emitted)
        while self.crm_duplicates:
            self._flush_crm_duplicate(0)
        if self.progress is not None and self.emitted % 1000 != 0:
            self.progress(self.emitted)

    # ------------------------------------------------------------------ people

    def _address(self, country: str, province: int | None = None) -> Address:
        rng = self.rng
        if country == "TH":
            if province is None:
                province = self.pick_th_province(rng)
            district = self._choice(self.th_districts[province])
            d = places.THAI_DISTRICTS[district]
            number = self._between(1, 400)
            house = f"{number}/{self._between(1, 200)}" if rng.random() < 0.55 else str(number)
            road = self._between(len(d.roads)) if rng.random() < 0.8 else -1
            soi = 0
            if road >= 0 and not d.roads[road][1][-1].isdigit() and rng.random() < 0.45:
                soi = self._between(1, 80)
            moo = self._between(1, 15) if d.province != 0 and rng.random() < 0.35 else 0
            return Address(
                "TH", district, self._between(len(d.subdistricts)), house, moo, soi, road, 0, False
            )
        if province is None:
            province = self.pick_vn_province(rng)
        district = self._choice(self.vn_districts[province])
        v = places.VN_DISTRICTS[district]
        number = self._between(1, 300)
        r = rng.random()
        house = (
            f"{number}/{self._between(1, 60)}"
            if r < 0.3
            else f"{number}{'ABC'[self._between(3)]}"
            if r < 0.4
            else str(number)
        )
        alley = self._between(2, 200) if v.alleys and rng.random() < 0.5 else 0
        return Address(
            "VN",
            district,
            self._between(len(v.wards)),
            house,
            0,
            0,
            self._between(len(v.streets)),
            alley,
            rng.random() < 0.3,
        )

    def _person(self, household: Household | None) -> Person:
        rng = self.rng
        country = household.country if household else ("TH" if rng.random() < 0.6 else "VN")
        gender = "F" if rng.random() < 0.52 else "M"
        age = int(rng.triangular(18, 80, 33))
        birth = date(2024 - age, 1, 1) + timedelta(days=self._between(365))
        married = age > 26 and rng.random() < 0.6
        given = surname = nick = None
        family = middle = vn_given = ""
        g_pref = s_pref = 0
        if country == "TH":
            given = self._choice(self.th_given[gender])
            if household is not None and household.surname is not None and rng.random() < 0.75:
                surname = household.surname
            else:
                surname = self._choice(people.THAI_SURNAMES)
            nick = self._choice(self.th_nick[gender])
            g_pref = 0 if rng.random() < 0.7 else self._between(len(given.roman))
            s_pref = 0 if rng.random() < 0.7 else self._between(len(surname.roman))
            lang = "th" if rng.random() < 0.8 else "en"
        else:
            if household is not None and rng.random() < 0.5:
                family = household.family
            else:
                family = self.pick_vn_family(rng)
            middle = self.pick_vn_middle[gender](rng)
            vn_given = self._choice(people.VN_GIVEN[gender])
            lang = "vi" if rng.random() < 0.85 else "en"
        company = self._between(len(people.COMPANIES[country])) if rng.random() < 0.3 else -1
        if company >= 0 or rng.random() < 0.4:
            r = rng.random()
            jobs = (
                people.JOB_TITLES["en"]
                if r < 0.5
                else people.JOB_TITLES["th" if country == "TH" else "vi"]
            )
            job = self._choice(jobs)
        else:
            job = ""
        windows = places.DELIVERY_WINDOWS[country]
        p = Person(
            pid=f"P{self.emitted + 1:07d}",
            country=country,
            gender=gender,
            married=married,
            birth=birth,
            given=given,
            surname=surname,
            nick=nick,
            g_pref=g_pref,
            s_pref=s_pref,
            family=family,
            middle=middle,
            vn_given=vn_given,
            company=company,
            job=job,
            first_seen=self._between(_START, _END - 45 * _DAY),
            window=self._choice(windows) if rng.random() < 0.35 else "",
            lang=lang,
            address=household.address if household else self._address(country),
            household=household,
        )
        if country == "TH":
            index = self.th_count
            self.th_count += 1
            first_digit = "689"[bisect.bisect_right((0.15, 0.6), rng.random())]
            p.mobile = f"{first_digit}{self.perm_th_mobile(index):08d}"
            p.national_id = thai_national_id(1 if birth.year >= 1984 else 3, self.perm_th_id(index))
        else:
            index = self.vn_count
            self.vn_count += 1
            prefix = self._choice(_VN_MOBILE_PREFIXES)
            p.mobile = f"{prefix}{self.perm_vn_mobile(index):07d}"
            province = places.VN_PROVINCES[p.address.province]
            code = (
                province.cccd_code
                if rng.random() < 0.7
                else self._choice(places.VN_OTHER_CCCD_CODES)
            )
            century = (0 if birth.year < 2000 else 2) + (1 if gender == "F" else 0)
            p.national_id = f"{code}{century}{birth.year % 100:02d}{self.perm_vn_id(index):06d}"
        if household is not None and household.email and rng.random() < 0.7:
            p.email, p.email_shared = household.email, True
        elif rng.random() >= NO_EMAIL:
            p.email = self._make_email(p)
        if household is None and rng.random() < MOVED:
            p.old_address = self._address(
                country, p.address.province if rng.random() < 0.6 else None
            )
        return p

    def _start_household(self, head: Person, size: int) -> None:
        rng = self.rng
        self.household_count += 1
        landline = ""
        if rng.random() < 0.6:
            number = self.perm_landline(self.household_count)
            lead, rest = 2 + number // 100_000, number % 100_000  # exchange digit 2-9
            if head.country == "TH":
                area = places.THAI_PROVINCES[head.address.province].area_code
                landline = f"{area}{lead}{rest:0{7 - len(area)}d}"
            else:
                area = places.VN_PROVINCES[head.address.province].area_code
                landline = f"{area}{lead}{rest:0{9 - len(area)}d}"
        head.old_address = None
        household = Household(
            hid=f"H{self.household_count:06d}",
            country=head.country,
            address=head.address,
            landline=landline,
            email=head.email if head.email and rng.random() < 0.3 else "",
            surname=head.surname,
            family=head.family,
            head_mobile=head.mobile,
        )
        head.household = household
        self.pending_members.extend([household] * (size - 1))

    def _make_email(self, p: Person) -> str:
        rng = self.rng
        if p.company >= 0 and rng.random() < 0.3:
            domain = people.COMPANIES[p.country][p.company][2]
        else:
            domain = self.pick_domain[p.country](rng)
        if p.given is not None and p.surname is not None and p.nick is not None:
            g = _letters(p.given.roman[p.g_pref])
            s = _letters(p.surname.roman[p.s_pref])
            k = _letters(p.nick.roman[0])
            r = self._between(8)
            stem = (
                f"{g}.{s}", f"{g}{s[0]}", f"{g}_{s[:4]}", f"{g}.{s[0]}", f"{k}.{g}", f"{g}{s}",
                f"{s}.{g}", f"{k}{s[:3]}",
            )[r]  # fmt: skip
        else:
            g = _letters(people.strip_diacritics(p.vn_given))
            f = _letters(people.strip_diacritics(p.family))
            m = _letters(people.strip_diacritics(p.middle))
            r = self._between(7)
            stem = (
                f"{g}{f}", f"{g}.{f}", f"{f}{m}{g}", f"{f}.{g}", f"{m}{g}{f}", f"{g}{m[0]}{f[0]}",
                f"{f}{g}",
            )[r]  # fmt: skip
        taken = self.email_stems.get(stem, 0)
        self.email_stems[stem] = taken + 1
        if taken:
            suffixes = people.EMAIL_SUFFIXES
            stem += suffixes[taken - 1] if taken <= len(suffixes) else str(1000 + taken)
        return f"{stem}@{domain}"

    # ------------------------------------------------------------------ rendering

    def _noisy_email(self, email: str) -> str:
        rng = self.rng
        if not email:
            return ""
        r = rng.random()
        if r < EMAIL_CASE:
            local, domain = email.split("@", 1)
            if rng.random() < 0.5:
                return f"{local.capitalize()}@{domain.capitalize()}"
            return email.upper()
        if r < EMAIL_CASE + EMAIL_DOMAIN_TYPO:
            local, domain = email.split("@", 1)
            typos = people.DOMAIN_TYPOS.get(domain)
            if typos:
                return f"{local}@{self._choice(typos)}"
        return email

    def _roman(self, name: people.ThaiName, pref: int) -> str:
        if len(name.roman) > 1 and self.rng.random() < ROMANIZATION_VARIANT:
            return name.roman[self._between(len(name.roman))]
        return name.roman[pref]

    def _typo(self, text: str, source: str) -> str:
        rng = self.rng
        if text and rng.random() < NAME_TYPO[source]:
            return people.typo(text, rng, 1 if rng.random() < 0.75 else 2)
        return text

    def _vn(self, text: str, source: str) -> str:
        if self.rng.random() < NO_DIACRITICS[source]:
            return people.strip_diacritics(text)
        return text

    def _th_first_last(self, p: Person, source: str) -> tuple[str, str, bool]:
        assert p.given is not None and p.surname is not None
        if self.rng.random() < THAI_SCRIPT[source]:
            first, last, thai = p.given.thai, p.surname.thai, True
        else:
            first = self._roman(p.given, p.g_pref)
            last = self._roman(p.surname, p.s_pref)
            thai = False
        if self.rng.random() < 0.5:
            first = self._typo(first, source)
        else:
            last = self._typo(last, source)
        return first, last, thai

    def _vn_first_last(self, p: Person, source: str) -> tuple[str, str]:
        rng = self.rng
        if rng.random() < 0.6:
            first, last = p.vn_given, f"{p.family} {p.middle}"
        else:
            first, last = f"{p.middle} {p.vn_given}", p.family
        if rng.random() < VN_ORDER_SWAP.get(source, 0.0):
            first, last = last, first
        plain = rng.random() < NO_DIACRITICS[source]
        if plain:
            first, last = people.strip_diacritics(first), people.strip_diacritics(last)
        return self._typo(first, source), last

    def _full_name(self, p: Person, source: str) -> tuple[str, bool]:
        """The whole name as one string, as typed into the source; and whether in Thai script."""
        rng = self.rng
        thai = False
        if p.country == "TH":
            first, last, thai = self._th_first_last(p, source)
            text = f"{first} {last}"
        else:
            if rng.random() < VN_ORDER_SWAP.get(source, 0.0):
                text = (
                    f"{p.vn_given} {p.family}"
                    if rng.random() < 0.5
                    else (f"{p.vn_given} {p.family} {p.middle}")
                )
            else:
                text = f"{p.family} {p.middle} {p.vn_given}"
            text = self._typo(self._vn(text, source), source)
        if rng.random() < UPPER_CASE.get(source, 0.0):
            text = text.upper()
        return text, thai

    def _phone(self, nsn: str, country: str, source: str) -> str:
        key = f"{source}_{country}" if f"{source}_{country}" in self.pick_phone else source
        return format_phone(nsn, country, self.pick_phone[key](self.rng))

    def _th_street(self, a: Address, thai: bool, short: bool) -> str:
        d = places.THAI_DISTRICTS[a.district]
        if thai:
            parts = [a.house]
            if a.moo:
                parts.append(f"ม.{a.moo}" if short else f"หมู่ {a.moo}")
            if a.road >= 0:
                road = d.roads[a.road][0]
                if a.soi:
                    parts.append(f"ซ.{road} {a.soi}" if short else f"ซอย{road} {a.soi}")
                parts.append(f"ถ.{road}" if short else f"ถนน{road}")
            return " ".join(parts)
        parts = [a.house + (f" Moo {a.moo}" if a.moo else "")]
        if a.road >= 0:
            road = d.roads[a.road][1]
            if a.soi:
                parts.append(f"Soi {road} {a.soi}")
            parts.append(f"{road} Rd." if short else f"{road} Road")
        return ", ".join(parts)

    def _th_units(self, a: Address, thai: bool, short: bool) -> tuple[str, str]:
        d = places.THAI_DISTRICTS[a.district]
        sub = d.subdistricts[a.sub]
        if thai:
            if d.province == 0:
                return f"แขวง{sub[0]}", f"เขต{d.thai}"
            if short:
                return f"ต.{sub[0]}", f"อ.{d.thai}"
            return f"ตำบล{sub[0]}", f"อำเภอ{d.thai}"
        if short:
            return sub[1], d.roman
        return f"{sub[1]} Sub-district", f"{d.roman} District"

    def _th_province(self, a: Address, thai: bool) -> str:
        prov = places.THAI_PROVINCES[a.province]
        if self.rng.random() < 0.2:
            options = [s for s in prov.spellings if _is_thai(s) == thai] or list(prov.spellings)
            return self._choice(options)
        return prov.thai if thai else prov.roman

    def _th_address(self, a: Address, thai: bool, *, province: bool) -> str:
        short = self.rng.random() < 0.4
        sub, dist = self._th_units(a, thai, short)
        street = self._th_street(a, thai, short)
        sep = " " if thai else ", "
        text = sep.join((street, sub, dist))
        if province:
            text += f"{sep}{self._th_province(a, thai)} {a.postcode}"
        return text

    def _vn_province(self, a: Address) -> str:
        prov = places.VN_PROVINCES[a.province]
        return self._choice(prov.spellings) if self.rng.random() < 0.3 else prov.name

    def _vn_street(self, a: Address) -> str:
        v = places.VN_DISTRICTS[a.district]
        street = v.streets[a.road]
        if a.alley:
            return f"Số {a.house}, ngõ {a.alley} {street}"
        return f"{a.house} {'đường ' if a.street_word else ''}{street}"

    def _vn_address(self, a: Address, source: str, *, province: bool) -> str:
        v = places.VN_DISTRICTS[a.district]
        short = self.rng.random() < 0.5
        ward, dist = v.wards[a.sub], v.name
        if short:
            ward, dist = places.vn_short(ward), places.vn_short(dist)
        parts = [self._vn_street(a), ward, dist]
        if province:
            parts.append(self._vn_province(a))
        return self._vn(", ".join(parts), source)

    # ------------------------------------------------------------------ one person

    def _emit(self, p: Person) -> None:
        rng = self.rng
        single = rng.random() < SINGLE_SOURCE
        if single:
            chosen = {self.pick_single(rng)}
        else:
            chosen = {s for s, share in COVERAGE.items() if rng.random() < share}
        if not p.email:
            chosen.discard("survey")  # survey invitations go by e-mail
        if not p.email or p.email_shared:
            chosen.discard("newsletter")  # one subscription per address: its owner's
        if not chosen:
            chosen = {self.pick_any(rng)}
        orders: list[_Order] = []
        if "crm" in chosen:
            self._crm(p)
        if "pos" in chosen:
            self._pos(p, orders)
        web_devices: list[str] = []
        if "shop" in chosen:
            self._shop(p, orders, web_devices)
        elif not single and rng.random() < WEB_OTHERS:
            self._browse(p, web_devices)
        if "billing" in chosen:
            self._billing(p, orders)
        if "support" in chosen:
            self._support(p, orders)
        if "survey" in chosen:
            self._survey(p)
        if "newsletter" in chosen:
            self._newsletter(p)
        if "events" in chosen:
            self._events(p)

    # CRM -------------------------------------------------------------------

    def _crm(self, p: Person) -> None:
        rng = self.rng
        if p.country == "TH":
            assert p.nick is not None
            first, last, thai = self._th_first_last(p, "crm")
            nickname = ""
            if rng.random() < 0.55:
                nickname = p.nick.thai if thai and rng.random() < 0.5 else p.nick.roman[0]
            genders = ("ชาย", "หญิง") if thai and rng.random() < 0.5 else ("M", "F")
            country = "ไทย" if thai and rng.random() < 0.3 else self._choice(("Thailand", "TH"))
            era = 543 if rng.random() < BUDDHIST_ERA_DOB else 0
            address = self._th_address(p.address, thai, province=False)
            province = self._th_province(p.address, thai)
            postcode = p.address.postcode
            sector_lang = 1
        else:
            first, last = self._vn_first_last(p, "crm")
            nickname = ""
            genders = ("Nam", "Nữ") if rng.random() < 0.6 else ("M", "F")
            country = self._choice(("Vietnam", "VN", "Việt Nam"))
            era = 0
            address = self._vn_address(p.address, "crm", province=False)
            province = self._vn_province(p.address)
            postcode = ""
            sector_lang = 2
        gender = "" if rng.random() < 0.10 else genders[0 if p.gender == "M" else 1]
        dob = "" if rng.random() < 0.30 else _dmy(p.birth, era)
        email = "" if rng.random() < 0.15 else self._noisy_email(p.email)
        mobile = "" if rng.random() < 0.08 else self._phone(p.mobile, p.country, "crm")
        company = industry = sector = segment = ""
        if p.company >= 0:
            names = people.COMPANIES[p.country][p.company]
            company = names[0] if rng.random() < 0.5 else names[1]
            vocab = people.INDUSTRIES[people.COMPANY_INDUSTRY[p.company]]
            r = rng.random()
            if r < 0.45:
                industry = vocab[0]
            elif r < 0.75:
                sector = vocab[sector_lang]
            elif r < 0.90:
                industry, sector = vocab[0], vocab[sector_lang]
            segment = "Corporate" if rng.random() < 0.4 else "Individual"
        else:
            segment = "Individual" if rng.random() < 0.9 else ""
        created = (p.first_seen // _DAY) * _DAY + _OFFICE_HOURS(rng) * 3600 + self._between(3600)
        row = [
            "", first, last, nickname, email, mobile, dob, gender, company, p.job, industry,
            sector, segment, address, province, postcode, country,
            f"{_DMY[created // _DAY]} {_hms(created)[:5]}",
        ]  # fmt: skip
        self._crm_row(row, p)
        if rng.random() < CRM_DUPLICATE:
            self.crm_duplicates.append((row, p.pid, p.hid))

    def _crm_row(self, row: list[str], p: Person) -> None:
        record_id = f"CU{self._next('crm'):07d}"
        row[0] = record_id
        self.crm.row(row)
        self._truth("crm", record_id, p)

    def _flush_crm_duplicate(self, index: int) -> None:
        row, pid, hid = self.crm_duplicates.pop(index)
        record_id = f"CU{self._next('crm'):07d}"
        self.crm.row([record_id, *row[1:]])
        self.truth.row(("crm", record_id, pid, hid))

    # billing -------------------------------------------------------------

    def _billing(self, p: Person, orders: list[_Order]) -> None:
        rng = self.rng
        address = p.address
        if p.old_address is not None and rng.random() < 0.3:
            address = p.old_address
        use_landline = p.household is not None and p.household.landline and rng.random() < 0.3
        phone_nsn = p.household.landline if use_landline and p.household else p.mobile
        phone = "" if rng.random() < 0.05 else self._phone(phone_nsn, p.country, "billing")
        created = (p.first_seen + self._between(0, 90 * _DAY)) // _DAY
        if p.country == "TH":
            assert p.given is not None and p.surname is not None
            record_id = f"BTH{self._next('billing_th'):06d}"
            first, last, thai = self._th_first_last(p, "billing")
            if thai and rng.random() < 0.9:
                key = "M" if p.gender == "M" else ("F_married" if p.married else "F")
                title = people.THAI_TITLES[key]
                first = f"{title}{first}" if rng.random() < 0.5 else f"{title} {first}"
            national_id = ""
            if rng.random() >= 0.15:
                nid = p.national_id
                national_id = (
                    f"{nid[0]}-{nid[1:5]}-{nid[5:10]}-{nid[10:12]}-{nid[12]}"
                    if rng.random() < 0.3
                    else nid
                )
            email = self._noisy_email(p.email) if rng.random() >= 0.4 else ""
            self.billing_th.row(
                (
                    record_id,
                    first,
                    last,
                    national_id,
                    phone,
                    email,
                    self._th_address(address, True, province=False),
                    self._th_province(address, True),
                    address.postcode,
                    _DMY_BE[created],
                )
            )
            office, currency = "TH", "THB"
        else:
            record_id = f"BVN{self._next('billing_vn'):06d}"
            name, _ = self._full_name(p, "billing")
            self.billing_vn.row(
                (
                    record_id,
                    name,
                    "Nam" if p.gender == "M" else "Nữ",
                    _dmy(p.birth) if rng.random() < 0.7 else "",
                    p.national_id if rng.random() >= 0.15 else "",
                    phone,
                    self._noisy_email(p.email) if rng.random() >= 0.3 else "",
                    self._vn_address(address, "billing", province=False),
                    self._vn_province(address),
                    _DMY[created],
                )
            )
            office, currency = "VN", "VND"
        self._truth("billing", record_id, p)
        local_orders = [o for o in orders if o[2] == currency]
        for _ in range(1 + self._geom(1.5)):
            self._invoice(p, record_id, office, currency, local_orders)

    def _invoice(
        self,
        p: Person,
        customer: str,
        office: str,
        currency: str,
        orders: list[_Order],
    ) -> None:
        rng = self.rng
        invoice_id = f"INV-{office}-{self._next('invoice_' + office):07d}"
        order_ref = ""
        if orders and rng.random() < 0.6:
            order_ref, amount, _, ordered = self._choice(orders)
            issued = min(_END, ordered + self._between(0, 3 * _DAY))
        else:
            if currency == "THB":
                amount = round(rng.uniform(500, 50_000), 2)
            else:
                amount = round(rng.uniform(300_000, 30_000_000), -3)
            issued = self._day_time(p.first_seen, _OFFICE_HOURS)
        terms, days = self._choice(_TERMS)
        r = rng.random()
        payments: list[tuple[float, str]] = []
        if r < 0.70:
            status, outstanding = "Paid", 0.0
            if rng.random() < 0.15:
                part = _round_money(amount * rng.uniform(0.3, 0.7), currency)
                payments = [(part, "Completed"), (amount - part, "Completed")]
            else:
                payments = [(amount, "Completed")]
        elif r < 0.80:
            status = "Partially Paid"
            paid = _round_money(amount * rng.uniform(0.2, 0.8), currency)
            outstanding = amount - paid
            payments = [(paid, "Completed")]
        elif r < 0.95:
            status = "Overdue" if issued + days * _DAY < _END else "Unpaid"
            outstanding = amount
            if rng.random() < 0.2:
                payments = [(amount, "Failed")]
        else:
            status, outstanding = "Void", 0.0
        money = _thb if currency == "THB" else _vnd_money
        self.invoices.row(
            (
                invoice_id,
                customer,
                office,
                order_ref,
                _DMY[issued // _DAY],
                _DMY[issued // _DAY + days],
                terms,
                currency,
                money(amount),
                money(outstanding),
                status,
            )
        )
        self._truth("billing", invoice_id, p)
        paid_at = issued
        for value, pay_status in payments:
            day = paid_at // _DAY + self._between(0, 20)
            moment = day * _DAY + _SHOP_HOURS(rng) * 3600 + self._between(3600)
            paid_at = min(_END, max(paid_at + 60, moment))
            self._payment(p, customer, invoice_id, currency, value, pay_status, paid_at)
        if payments and rng.random() < 0.02:
            self._payment(p, customer, invoice_id, currency, payments[0][0], "Refunded", paid_at)

    def _payment(
        self,
        p: Person,
        customer: str,
        invoice_id: str,
        currency: str,
        amount: float,
        status: str,
        at: int,
    ) -> None:
        rng = self.rng
        payment_id = f"PAY-{self._next('payment'):08d}"
        method = self.pick_payment[p.country](rng)
        last4 = f"{self._between(10_000):04d}" if method in ("Credit Card", "Card") else ""
        reference = ""
        if method in ("PromptPay", "Bank Transfer", "MoMo", "ZaloPay"):
            reference = f"{method[:2].upper()}{self._between(10**11):011d}"
        money = _thb if currency == "THB" else _vnd_money
        self.payments.row(
            (
                payment_id,
                invoice_id,
                customer,
                _ymd_hms(at),
                currency,
                money(amount),
                method,
                status,
                last4,
                reference,
            )
        )
        self._truth("billing", payment_id, p)

    # POS -------------------------------------------------------------------

    def _home_branch(self, p: Person) -> places.Branch:
        """A branch near home: same province, else the capital's (Hải Phòng shops in Hà Nội)."""
        key = (p.country, p.address.province)
        near = self.near_branches.get(key)
        if near is None:
            branches = self.branches[p.country]
            near = [b for b in branches if b.province == key[1]]
            if not near:
                fallback = 1 if key == ("VN", 3) else 0
                near = [b for b in branches if b.province == fallback]
            self.near_branches[key] = near
        return self._choice(near)

    def _pos(self, p: Person, orders: list[_Order]) -> None:
        rng = self.rng
        home = self._home_branch(p)
        for _ in range(1 + self._geom(2.0)):
            r = rng.random()
            if r < 0.85:
                branch = home
            elif r < 0.98:
                branch = self._choice(self.branches[p.country])
            else:
                branch = self._choice(places.BRANCHES)
            receipt = f"{branch.code}-{self._next('pos_' + branch.code):07d}"
            at_s = self._day_time(p.first_seen, _STORE_HOURS)
            currency = "THB" if branch.country == "TH" else "VND"
            count, subtotal = self._basket(currency, 1 + self._geom(0.8))
            discount = 0.0
            if rng.random() < 0.15:
                discount = _round_money(subtotal * self._choice((0.05, 0.1, 0.15)), currency)
            total = subtotal - discount
            phone, name = self._pos_member(p, branch)
            self.pos.row(
                (
                    receipt,
                    branch.code,
                    branch.name,
                    branch.country,
                    _ymd_hms(at_s),
                    phone,
                    name,
                    str(count),
                    _plain_money(total, currency),
                    _plain_money(discount, currency),
                    currency,
                    self.pick_pos_payment[branch.country](rng),
                    f"C{self._between(1, 40):02d}",
                )
            )
            self._truth("pos", receipt, p)
            orders.append((receipt, total, currency, at_s))
            if rng.random() < 0.05:
                self._shipment(p, receipt, at_s, self._full_name(p, "shipping")[0])

    def _pos_member(self, p: Person, branch: places.Branch) -> tuple[str, str]:
        rng = self.rng
        if rng.random() < WALK_IN:
            r = rng.random()
            if r < 0.35:
                phone = "0000000000"
            elif r < 0.7:
                phone = format_phone(branch.phone, branch.country, self._choice(("dash", "plain")))
            else:
                phone = ""
            name = ""
            if rng.random() < 0.25:
                name = self._choice(_WALK_IN_NAMES[branch.country])
            return phone, name
        household = p.household
        nsn = p.mobile
        if household is not None:
            r = rng.random()
            if r < 0.1:
                nsn = household.landline or nsn
            elif r < 0.25:
                nsn = household.head_mobile
        phone = self._phone(nsn, p.country, "pos")
        r = rng.random()
        if p.country == "TH":
            assert p.nick is not None and p.given is not None
            if r < 0.30:
                name = p.nick.roman[0]
            elif r < 0.45:
                name = p.nick.thai if rng.random() < 0.5 else f"คุณ{p.nick.thai}"
            elif r < 0.75:
                thai = rng.random() < THAI_SCRIPT["pos"]
                name = p.given.thai if thai else self._roman(p.given, p.g_pref)
            else:
                name = ""
        else:
            if r < 0.40:
                name = self._vn(p.vn_given, "pos")
            elif r < 0.55:
                term = people.VN_ADDRESS_TERMS[p.gender][self._between(3)]
                name = self._vn(f"{term} {p.vn_given}", "pos")
            else:
                name = ""
        return phone, self._typo(name, "pos")

    def _basket(self, currency: str, lines: int) -> tuple[int, float]:
        rng = self.rng
        count, total = 0, 0.0
        for _ in range(lines):
            product = self._choice(self.products)
            quantity = 1 if rng.random() < 0.8 else self._between(2, 4)
            count += quantity
            total += quantity * (product.price_thb if currency == "THB" else product.price_vnd)
        return count, total

    # shop ------------------------------------------------------------------

    def _shop(self, p: Person, orders: list[_Order], devices: list[str]) -> None:
        rng = self.rng
        customer_id = f"SC{self._next('shop_customer'):07d}"
        if p.country == "TH":
            first, last, thai = self._th_first_last(p, "shop")
        else:
            first, last = self._vn_first_last(p, "shop")
            thai = False
        email = p.email or None
        phone = self._phone(p.mobile, p.country, "shop")
        tracked = rng.random() < WEB_SHOP_CUSTOMERS
        if tracked:
            devices.extend(
                self._uuid() for _ in range(1 + (rng.random() < 0.45) + (rng.random() < 0.12))
            )
        used: dict[str, None] = {}  # devices that sent something, in order
        identified = False
        thb = p.country == "TH"
        currency = "THB" if thb else "VND"
        for _ in range(1 + self._geom(1.2)):
            order_id = f"SO-{self._next('shop_order'):08d}"
            at = self._day_time(p.first_seen, _SHOP_HOURS)
            lines = [
                (self._choice(self.products), 1 if rng.random() < 0.85 else self._between(2, 4))
                for _ in range(1 + self._geom(0.6))
            ]
            subtotal: float = 0  # baht as float, dong as int
            for line_no, (product, quantity) in enumerate(lines, 1):
                price: float = product.price_thb if thb else product.price_vnd
                subtotal += price * quantity
                self.shop_items.row(
                    {
                        "order_id": order_id,
                        "line_no": line_no,
                        "sku": product.sku,
                        "product_name": _product_name(product, p.country, thai),
                        "category": product.category,
                        "quantity": quantity,
                        "unit_price": price,
                        "amount": price * quantity,
                        "currency": currency,
                    }
                )
            discount: float = 0
            coupon = None
            if rng.random() < 0.2:
                coupon = self._choice(_COUPONS)
                discount = round(subtotal * 0.1, 2) if thb else int(round(subtotal * 0.1, -3))
            if subtotal >= (990 if thb else 500_000):
                fee: float = 0
            else:
                fee = 40.0 if thb else 25_000
            total = round(subtotal - discount + fee, 2) if thb else subtotal - discount + fee
            r = rng.random()
            status = _SHOP_STATUSES[bisect.bisect_right(_SHOP_STATUS_CUM, r)]
            address = p.address
            short = rng.random() < 0.4
            if thb:
                thai_address = rng.random() < 0.6
                street = self._th_street(address, thai_address, short)
                sub, dist = self._th_units(address, thai_address, short)
                province = self._th_province(address, thai_address)
                postcode: str | None = address.postcode
            else:
                v = places.VN_DISTRICTS[address.district]
                street, sub, dist = self._vn_street(address), v.wards[address.sub], v.name
                if short:
                    sub, dist = places.vn_short(sub), places.vn_short(dist)
                if rng.random() < NO_DIACRITICS["shop"]:
                    street = people.strip_diacritics(street)
                    sub, dist = people.strip_diacritics(sub), people.strip_diacritics(dist)
                province = self._vn_province(address)
                postcode = address.postcode if rng.random() < 0.3 else None
            self.shop_orders.row(
                {
                    "order_id": order_id,
                    "customer_id": customer_id,
                    "created_at": _iso_local(at),
                    "status": status,
                    "channel": "app" if rng.random() < 0.45 else "web",
                    "email": email,
                    "phone": phone,
                    "first_name": first,
                    "last_name": last,
                    "shipping_address": street,
                    "shipping_subdistrict": sub,
                    "shipping_district": dist,
                    "shipping_province": province,
                    "shipping_postcode": postcode,
                    "shipping_country": p.country,
                    "currency": currency,
                    "subtotal": subtotal,
                    "discount": discount,
                    "shipping_fee": fee,
                    "total": total,
                    "payment_method": self.pick_shop_payment[p.country](rng),
                    "item_count": sum(q for _, q in lines),
                    "coupon_code": coupon,
                }
            )
            self._truth("shop", order_id, p)
            orders.append((order_id, total, currency, at))
            if status in ("delivered", "returned", "shipped"):
                name = f"{first} {last}"
                if rng.random() < UPPER_CASE["shipping"]:
                    name = name.upper()
                self._shipment(p, order_id, at, name, phone)
            if tracked and rng.random() < 0.8:
                login = not identified or rng.random() < 0.4
                identified = True
                device = self._choice(devices)
                used[device] = None
                self._order_session(
                    p, customer_id, device, at, lines, order_id, total, currency, status, login
                )
        if tracked:
            for _ in range(self._geom(0.4)):
                logged_in = rng.random() < 0.6
                identified = identified or logged_in
                device = self._choice(devices)
                used[device] = None
                self._cart_session(p, customer_id if logged_in else "", device)
            for device in used:
                self.truth.row(("web", device, p.pid, p.hid))
            if identified:
                self.truth.row(("web", customer_id, p.pid, p.hid))

    # shipping ------------------------------------------------------------

    def _shipment(self, p: Person, order_id: str, ordered: int, name: str, phone: str = "") -> None:
        rng = self.rng
        shipment_id = f"SHP{self._next('shipment'):08d}"
        address = p.address
        if p.old_address is not None and rng.random() < 0.6:
            address = p.old_address
        if p.country == "TH":
            thai = rng.random() < THAI_SCRIPT["shipping"]
            text = self._th_address(address, thai, province=True)
        else:
            text = self._vn_address(address, "shipping", province=True)
        household = p.household
        if household is not None and household.landline and rng.random() < 0.2:
            phone = self._phone(household.landline, p.country, "shipping")
        elif not phone or rng.random() < 0.5:
            phone = self._phone(p.mobile, p.country, "shipping")
        carrier = self.pick_carrier[p.country](rng)
        tracking = _tracking(carrier, rng)
        scheduled = (ordered // _DAY + self._between(1, 4)) * _DAY + self._between(9, 18) * 3600
        r = rng.random()
        delivered = ""
        if scheduled >= _END:
            status = "In transit"
        elif r < 0.88:
            status = "Delivered"
            delivered = _ymd_hm(scheduled + self._between(-2 * 3600, 30 * 3600))
        elif r < 0.95:
            status = "Failed attempt"
        else:
            status = "Returned to sender"
        self.shipments.row(
            (
                shipment_id,
                order_id,
                carrier,
                tracking,
                self._typo(name, "shipping"),
                phone,
                text,
                address.postcode if p.country == "TH" or rng.random() < 0.2 else "",
                p.country,
                status,
                _ymd_hm(scheduled),
                delivered,
                p.window if rng.random() < 0.8 else "",
            )
        )
        self._truth("shipping", shipment_id, p)

    # web -------------------------------------------------------------------

    def _uuid(self) -> str:
        """A random (version 4) UUID from the seeded generator."""
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def _locale(self, p: Person) -> str:
        return {"th": "th-TH", "vi": "vi-VN"}.get(p.lang, "en-US")

    def _message(
        self,
        kind: str,
        anonymous_id: str,
        user_id: str,
        at: int,
        locale: str,
        body: dict[str, Any],
    ) -> None:
        message: dict[str, Any] = {
            "type": kind,
            "messageId": self._uuid(),
            "timestamp": _iso_utc_ms(at, self._between(1000)),
            "anonymousId": anonymous_id,
        }
        if user_id:
            message["userId"] = user_id
        message.update(body)
        message["context"] = {"locale": locale}
        self.web.row(message)

    @staticmethod
    def _product_props(product: _Product, currency: str, quantity: int = 0) -> dict[str, Any]:
        props: dict[str, Any] = {
            "product_id": product.sku,
            "name": product.en,
            "price": product.price_thb if currency == "THB" else product.price_vnd,
            "currency": currency,
        }
        if quantity:
            props["quantity"] = quantity
        return props

    @staticmethod
    def _line_props(product: _Product, currency: str, quantity: int) -> dict[str, Any]:
        price = product.price_thb if currency == "THB" else product.price_vnd
        return {"product_id": product.sku, "price": price, "quantity": quantity}

    def _page(self, device: str, user: str, at: int, locale: str, path: str, name: str) -> None:
        self._message(
            "page",
            device,
            user,
            at,
            locale,
            {"name": name, "properties": {"path": path, "url": f"{SHOP_SITE}{path}"}},
        )

    def _order_session(
        self,
        p: Person,
        user: str,
        device: str,
        ordered: int,
        lines: list[tuple[_Product, int]],
        order_id: str,
        total: float,
        currency: str,
        status: str,
        login: bool,
    ) -> None:
        rng = self.rng
        locale = self._locale(p)
        at = max(0, ordered - self._between(300, 2400))
        self._page(device, "" if login else user, at, locale, "/", "Home")
        if login:
            at += self._between(5, 60)
            traits = {"email": p.email} if p.email else {"phone": "+" + _cc(p) + p.mobile}
            self._message("identify", device, user, at, locale, {"traits": traits})
        for product, quantity in lines:
            at += self._between(10, 240)
            self._message(
                "track",
                device,
                user,
                at + 1,
                locale,
                {"event": "Product Viewed", "properties": self._product_props(product, currency)},
            )
            at += self._between(5, 120)
            self._message(
                "track",
                device,
                user,
                at,
                locale,
                {
                    "event": "Product Added",
                    "properties": self._product_props(product, currency, quantity),
                },
            )
        products = [self._line_props(pr, currency, q) for pr, q in lines]
        at = max(at + 5, ordered - self._between(30, 180))
        self._message(
            "track",
            device,
            user,
            at,
            locale,
            {
                "event": "Checkout Started",
                "properties": {
                    "order_id": order_id,
                    "value": total,
                    "currency": currency,
                    "products": products,
                },
            },
        )
        if status != "cancelled" or rng.random() < 0.5:
            self._message(
                "track",
                device,
                user,
                max(at + 5, ordered),
                locale,
                {
                    "event": "Order Completed",
                    "properties": {
                        "order_id": order_id,
                        "total": total,
                        "revenue": total,
                        "currency": currency,
                        "products": products,
                    },
                },
            )

    def _cart_session(self, p: Person, user: str, device: str) -> None:
        """A cart started and abandoned: products added, maybe a checkout, no order."""
        rng = self.rng
        locale = self._locale(p)
        currency = "THB" if p.country == "TH" else "VND"
        at = self._between(p.first_seen, _END - 3600)
        self._page(device, user, at, locale, "/", "Home")
        added = []
        for _ in range(1 + self._geom(0.7)):
            product = self._choice(self.products)
            at += self._between(10, 300)
            self._message(
                "track",
                device,
                user,
                at,
                locale,
                {"event": "Product Viewed", "properties": self._product_props(product, currency)},
            )
            if rng.random() < 0.7:
                at += self._between(5, 120)
                added.append(self._product_props(product, currency, 1))
                self._message(
                    "track",
                    device,
                    user,
                    at,
                    locale,
                    {"event": "Product Added", "properties": added[-1]},
                )
        if added and rng.random() < 0.5:
            value = sum(float(a["price"]) for a in added)
            self._message(
                "track",
                device,
                user,
                at + self._between(20, 300),
                locale,
                {
                    "event": "Checkout Started",
                    "properties": {"value": value, "currency": currency, "products": added},
                },
            )

    def _browse(self, p: Person, devices: list[str]) -> None:
        """Someone who never bought online: anonymous visits only."""
        rng = self.rng
        device = self._uuid()
        devices.append(device)
        self.truth.row(("web", device, p.pid, p.hid))
        for _ in range(1 + self._geom(0.6)):
            if rng.random() < 0.25:
                self._cart_session(p, "", device)
                continue
            locale = self._locale(p)
            currency = "THB" if p.country == "TH" else "VND"
            at = self._between(p.first_seen, _END - 3600)
            self._page(device, "", at, locale, "/", "Home")
            for _ in range(1 + self._geom(1.0)):
                product = self._choice(self.products)
                at += self._between(10, 300)
                self._message(
                    "track",
                    device,
                    "",
                    at + 1,
                    locale,
                    {
                        "event": "Product Viewed",
                        "properties": self._product_props(product, currency),
                    },
                )

    # support ---------------------------------------------------------------

    def _support(self, p: Person, orders: list[_Order]) -> None:
        rng = self.rng
        for _ in range(1 + self._geom(0.5)):
            ticket_id = f"TCK-{self._next('ticket'):07d}"
            channel = self._choice(_TICKET_CHANNELS[p.country])
            if channel == "email" and not p.email:
                channel = "phone"
            topic = self._between(len(catalog.TICKET_TOPICS))
            opened_s = self._day_time(p.first_seen, _SUPPORT_HOURS)
            r = rng.random()
            status = (
                "Closed" if r < 0.6 else "Resolved" if r < 0.8 else "Pending" if r < 0.9 else "Open"
            )
            closed = None
            if status in ("Closed", "Resolved"):
                closed = _dt(min(_END, opened_s + self._between(600, 5 * _DAY)))
            name = self._caller_name(p, channel)
            phone = ""
            if channel in ("phone", "walk-in") or rng.random() < 0.2:
                nsn = p.mobile
                if p.household is not None and p.household.landline and rng.random() < 0.2:
                    nsn = p.household.landline
                phone = self._phone(nsn, p.country, "support")
            email = ""
            if channel == "email" or rng.random() < 0.15:
                email = self._noisy_email(p.email)
            line_id = zalo_id = ""
            if channel == "LINE":
                if not p.line_id:
                    p.line_id = f"U{rng.getrandbits(128):032x}"
                line_id = p.line_id
            elif channel == "Zalo":
                if not p.zalo_id:
                    p.zalo_id = str(rng.randrange(10**17, 10**18))
                zalo_id = p.zalo_id
            local = "th" if p.country == "TH" else "vi"
            lang = local if rng.random() < 0.7 else "en"
            note = self._choice(catalog.TICKET_NOTES[lang][topic])
            order = self._choice(orders)[0] if orders else "-"
            self.tickets.row(
                (
                    ticket_id,
                    channel,
                    catalog.TICKET_TOPICS[topic],
                    status,
                    self._choice(_PRIORITIES),
                    _dt(opened_s),
                    closed,
                    name,
                    phone,
                    email,
                    line_id,
                    zalo_id,
                    p.country,
                    self._choice(catalog.AGENTS[p.country]),
                    note.replace("{order}", order),
                )
            )
            self._truth("support", ticket_id, p)

    def _caller_name(self, p: Person, channel: str) -> str:
        rng = self.rng
        r = rng.random()
        if p.country == "TH":
            assert p.nick is not None and p.given is not None
            if r < 0.30:
                nick = p.nick
                return self._choice((f"คุณ{nick.thai}", f"K. {nick.roman[0]}", nick.roman[0]))
            if r < 0.55:
                thai = rng.random() < THAI_SCRIPT["support"]
                given = p.given.thai if thai else self._roman(p.given, p.g_pref)
                return self._typo(f"คุณ{given}" if thai else f"Khun {given}", "support")
            if r < 0.95 or channel == "email":
                return self._full_name(p, "support")[0]
            return ""
        if r < 0.35:
            term = people.VN_ADDRESS_TERMS[p.gender][1]
            return self._vn(f"{term} {p.vn_given}", "support")
        if r < 0.95 or channel == "email":
            return self._full_name(p, "support")[0]
        return ""

    # survey, newsletter, events --------------------------------------------

    def _survey(self, p: Person) -> None:
        rng = self.rng
        for _ in range(1 if rng.random() < 0.8 else 2):
            response_id = f"NPS-{self._next('survey'):08d}"
            at = self._day_time(p.first_seen, _SHOP_HOURS)
            moment = _dt(at)
            r = rng.random()
            score = (
                self._between(9, 11)
                if r < 0.5
                else self._between(7, 9)
                if r < 0.8
                else (self._between(0, 7))
            )
            comment = None
            if rng.random() < 0.6:
                mood = 0 if score >= 9 else 1 if score >= 7 else 2
                comment = self._choice(catalog.SURVEY_COMMENTS[p.lang][mood])
            self.survey.row(
                (
                    response_id,
                    f"NPS {moment.year}-Q{(moment.month - 1) // 3 + 1}",
                    self._noisy_email(p.email),
                    score,
                    comment,
                    (moment - _LOCAL_OFFSET).replace(tzinfo=UTC),
                    self._choice(("email", "email", "sms", "in-store")),
                    p.lang,
                )
            )
            self._truth("survey", response_id, p)

    def _newsletter(self, p: Person) -> None:
        rng = self.rng
        subscriber_id = f"SUB{self._next('newsletter'):08d}"
        r = rng.random()
        if r < 0.2:
            name = ""
        elif p.country == "TH":
            assert p.given is not None
            if r < 0.5:
                thai = rng.random() < THAI_SCRIPT["newsletter"]
                name = self._typo(
                    p.given.thai if thai else self._roman(p.given, p.g_pref), "newsletter"
                )
            else:
                name = self._full_name(p, "newsletter")[0]
        else:
            name = (
                self._vn(p.vn_given, "newsletter")
                if r < 0.5
                else (self._full_name(p, "newsletter")[0])
            )
        opt_in = self._between(p.first_seen, _END)
        unsubscribed = ""
        status = "subscribed"
        if rng.random() < 0.2:
            status = "unsubscribed"
            unsubscribed = _ymd(self._between(opt_in, _END + 1))
        self.newsletter.row(
            (
                subscriber_id,
                self._noisy_email(p.email),
                name,
                status,
                self._choice(_LISTS[p.country]),
                _ymd(opt_in),
                unsubscribed,
                p.lang,
            )
        )
        self._truth("newsletter", subscriber_id, p)

    def _events(self, p: Person) -> None:
        rng = self.rng
        options = self.events[p.country]
        for event in rng.sample(options, 1 if rng.random() < 0.75 else 2):
            registration_id = f"REG-{self._next('registration'):07d}"
            event_day = date.fromisoformat(event[1])
            registered = datetime(event_day.year, event_day.month, event_day.day) - timedelta(
                seconds=self._between(3600, 40 * _DAY)
            )
            name, _ = self._full_name(p, "events")
            company = ""
            if p.company >= 0 and rng.random() < 0.7:
                company = people.COMPANIES[p.country][p.company][self._between(2)]
            self.registrations.row(
                (
                    registration_id,
                    f"{registered.month}/{registered.day}/{registered.year} "
                    f"{registered.hour}:{registered.minute:02d}:{registered.second:02d}",
                    event[0],
                    _dmy(event_day),
                    name,
                    "" if rng.random() < 0.05 else self._noisy_email(p.email),
                    "" if rng.random() < 0.10 else self._phone(p.mobile, p.country, "events"),
                    company,
                    p.country,
                    "yes" if rng.random() < 0.7 else "no",
                )
            )
            self._truth("events", registration_id, p)

    # products ------------------------------------------------------------

    def _make_products(self) -> list[_Product]:
        rng = self.rng
        products = []
        count = max(120, min(1500, self.n // 50))
        for i in range(count):
            item = catalog.ITEMS[i % len(catalog.ITEMS)]
            brand = self._choice(catalog.BRANDS)
            v_en, v_th, v_vi = (
                catalog.VARIANTS[0] if i < len(catalog.ITEMS) else self._choice(catalog.VARIANTS)
            )
            code, cat_en = catalog.CATEGORIES[item.category][:2]
            price = max(49.0, float(int(item.price_thb * rng.uniform(0.8, 1.3) / 10) * 10 - 1))
            products.append(
                _Product(
                    sku=f"{code}-{i + 1:05d}",
                    en=f"{brand} {item.en}" + (f" - {v_en}" if v_en else ""),
                    th=f"{item.th} {brand}" + (f" {v_th}" if v_th else ""),
                    vi=f"{item.vi} {brand}" + (f" - {v_vi}" if v_vi else ""),
                    category=cat_en,
                    brand=brand,
                    price_thb=price,
                    price_vnd=int(round(price * 700, -3)),
                )
            )
        for product in products:
            stock = [0 if rng.random() < 0.1 else self._between(1, 400) for _ in catalog.WAREHOUSES]
            self.product_sink.row(
                (
                    product.sku,
                    product.en,
                    product.th,
                    product.vi,
                    product.category,
                    product.brand,
                    f"{product.price_thb:.2f}",
                    str(product.price_vnd),
                    *(str(s) for s in stock),
                    str(sum(stock)),
                )
            )
        return products

    # helpers ---------------------------------------------------------------

    def _day_time(self, start: int, hours: "_Pick[int]") -> int:
        """A moment between ``start`` and the end of the data, at a likely hour of the day."""
        day = self._between(start // _DAY + 1, _END // _DAY + 1)
        return day * _DAY + hours(self.rng) * 3600 + self._between(3600)

    def _between(self, low: int, high: int | None = None) -> int:
        """``random.randrange`` for small ranges, several times faster."""
        if high is None:
            return int(self._random() * low)
        return low + int(self._random() * (high - low))

    def _choice(self, seq: Sequence[T]) -> T:
        return seq[int(self._random() * len(seq))]

    def _geom(self, mean: float) -> int:
        """A count >= 0 with the given mean (geometric), capped at 20."""
        u = self.rng.random()
        return min(20, int(math.log(1.0 - u) / math.log(mean / (1.0 + mean))))


def _product_name(product: _Product, country: str, thai: bool) -> str:
    if country == "VN":
        return product.vi
    return product.th if thai else product.en


def _letters(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalpha())


def _cc(p: Person) -> str:
    return "66" if p.country == "TH" else "84"


def _is_thai(text: str) -> bool:
    return any("\u0e00" <= c <= "\u0e7f" for c in text)


def _round_money(value: float, currency: str) -> float:
    return round(value, 2) if currency == "THB" else float(round(value, -3))


def _plain_money(value: float, currency: str) -> str:
    """Money as a POS exports it: ``1234.50`` baht, ``125000`` dong."""
    return f"{value:.2f}" if currency == "THB" else str(round(value))


def _vnd_money(value: float) -> str:
    return _vnd(round(value))


def _tracking(carrier: str, rng: random.Random) -> str:
    """A tracking number in the carrier's shape (Thailand Post's with its S10 check digit)."""
    if carrier == "Thailand Post":
        return f"E{'MRP'[rng.randrange(3)]}{_s10(rng.randrange(10**8))}TH"
    return f"{_TRACKING_PREFIX[carrier]}{rng.randrange(10**11, 10**12)}"


_TRACKING_PREFIX = {
    "Kerry Express": "KEX",
    "Flash Express": "TH",
    "J&T Express": "JT",
    "GHN": "GHN",
    "Viettel Post": "VTP",
    "GHTK": "S",
}
_NEEDS_EMAIL = ("survey", "newsletter")
_STORE_HOURS = _Pick(
    list(zip(range(10, 22), (2.0, 4, 6, 6, 5, 5, 6, 8, 10, 10, 8, 5), strict=True))
)
_SHOP_HOURS = _Pick([(h, 1.0 + (h >= 8) * 3 + (19 <= h <= 22) * 5) for h in range(24)])
_SUPPORT_HOURS = _Pick([(h, 1.0) for h in range(8, 21)])
_OFFICE_HOURS = _Pick([(h, 1.0) for h in range(8, 18)])
_SHOP_STATUSES = ("delivered", "cancelled", "returned", "shipped", "pending")
_SHOP_STATUS_CUM = (0.85, 0.90, 0.93, 0.97)
_VN_MOBILE_PREFIXES = (
    "32", "33", "34", "35", "36", "37", "38", "39", "70", "76", "77", "78", "79", "81", "82",
    "83", "84", "85", "86", "88", "89", "90", "91", "93", "94", "96", "97", "98", "56", "58",
)  # fmt: skip
_TERMS = (("Net 30", 30), ("Net 15", 15), ("Due on receipt", 0), ("Net 7", 7), ("COD", 0))
_WALK_IN_NAMES = {
    "TH": ("ลูกค้าทั่วไป", "walk-in", "Walk in", "-"),
    "VN": ("Khách lẻ", "khach le", "walk-in", "-"),
}
_COUPONS = ("WELCOME10", "PAYDAY", "11DOT11", "MEMBER10", "FREESHIP")
_TICKET_CHANNELS = {
    "TH": ("phone", "phone", "phone", "email", "LINE", "LINE", "LINE", "Facebook", "walk-in"),
    "VN": ("phone", "phone", "phone", "email", "Zalo", "Zalo", "Zalo", "Facebook", "walk-in"),
}
_PRIORITIES = ("Low", "Normal", "Normal", "Normal", "High", "Urgent")
_LISTS = {
    "TH": ("Monthly Newsletter", "Promotions TH", "Member News"),
    "VN": ("Monthly Newsletter", "Khuyến mãi VN", "Member News"),
}
