"""Next best products for a person: co-purchase ("people who bought what you bought also
bought") blended with what is popular in the person's segments.

What a person bought comes from their ``order_item`` records and the ``products`` of their
``Order Completed`` events, read as computed traits read them (``c360.profiles.traits``): lines
of cancelled, returned or refunded orders do not count; an event naming an order that has
records is that order, counted once. A product is known by its ``product_id``, else its
``sku``.

Scoring (pure: :func:`score`, then :func:`pick`) for a person who bought the products S::

    co(y)    = sum over x in S of together(x, y) / buyers(x)     "bought with X"
    share(y) = max over the person's segments s of buyers_s(y) / buyers_s
               (else, when no segment of theirs bought it: overall_factor * that share
               over everyone)                                      "popular in segment vip"
    score(y) = co_purchase_weight * co(y) + popularity_weight * share(y)

``together(x, y)`` is how many people bought both, ``buyers(x)`` how many bought x,
``buyers_s`` how many members of segment s bought anything. Products the person bought within
``window_days``, and products whose latest ``product`` record (any source, by product id or
SKU) has ``stock`` <= 0, are never recommended. Ties fall to the product key. The reason names
the larger of the two parts.

The counts live in a small model in the store (``recommend_*`` tables), kept by
:func:`refresh_model`: incrementally from the log entries, merges, splits and segment changes
since its last run (each touched profile's purchases are read again and their difference
applied), or from scratch when there is no model yet, after ``c360 rebuild``, or when it is far
behind. Reading never waits for it to be current: the person's own purchases (and so the
"just bought" exclusion) are always read fresh, and so are product records the model has not
taken in yet, so a product that went out of stock is never shown; only the counts may lag by
the refresher's period.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite

from c360.changes.feed import MUTED_CHECKPOINT, ChangeKind, muted_until
from c360.eventlog.service import PROFILES_CHECKPOINT, get_checkpoint, set_checkpoint
from c360.identity.decisions import live_profile_id
from c360.identity.features import NODE_RECORD
from c360.ingest.records import RECORD_TYPE
from c360.kernel.background import BackgroundLoop
from c360.kernel.clock import system_clock

# the words computed traits read as a cancelled, returned or refunded order: one list for both
from c360.profiles.traits import DAY_US, EventFact, RecordFact, is_cancelled, record_moment
from c360.storage.dialect import key_in
from c360.storage.sealing import prefilter
from c360.storage.tables import (
    event_log,
    identity_nodes,
    profile_changes,
    profile_events,
    profiles,
    recommend_catalog,
    recommend_counted,
    recommend_pairs,
    recommend_popularity,
    recommend_products,
    recommend_purchases,
    segment_members,
    segments,
    source_records,
    worker_checkpoints,
)

log = logging.getLogger(__name__)

LOG_CHECKPOINT = "recommend:log"
"""The last log entry whose purchases and products the model holds."""
CHANGES_CHECKPOINT = "recommend:changes"
"""The last change-feed id (merges, splits, segment entries and exits) the model holds."""
REBUILT_CHECKPOINT = "recommend:rebuilt"
"""When ``c360 rebuild`` last started, as the model last saw it (it then starts anew)."""
EVERYONE = 0
"""The ``segment_id`` under which everyone's purchases are counted."""
_ANY_PRODUCT = ""
"""The ``product_key`` of a segment's row counting its buyers."""
_PURCHASE_KINDS = ("order", "order_item")
_ORDER_COMPLETED = "order completed"
_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class RecommendSettings:
    window_days: int = 30
    """A product bought this recently is not recommended again."""
    co_purchase_weight: float = 1.0
    popularity_weight: float = 0.5
    overall_factor: float = 0.5
    """Popularity over everyone counts this much of popularity in the person's segments."""
    seeds: int = 20
    """The person's most recent products that co-purchase starts from."""
    neighbours: int = 50
    """Products bought together with each seed that are considered (the most frequent)."""
    popular: int = 50
    """Most bought products considered per segment."""
    pair_cap: int = 100
    """A person's most recent products counted in co-purchase (a reseller buying thousands of
    products would otherwise add millions of pairs)."""
    full_after_entries: int = 200_000
    """A model further behind the log than this is rebuilt from scratch instead."""


DEFAULT_SETTINGS = RecommendSettings()


# --- what people bought (pure) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Product:
    """What is known about a product: its key (product id, else SKU) and description."""

    key: str
    product_id: str | None = None
    sku: str | None = None
    name: str | None = None
    category: str | None = None
    price: float | None = None
    currency: str | None = None

    def over(self, older: Product) -> Product:
        """This description, its gaps filled from ``older``."""
        return Product(
            self.key,
            self.product_id or older.product_id,
            self.sku or older.sku,
            self.name or older.name,
            self.category or older.category,
            self.price if self.price is not None else older.price,
            self.currency or older.currency,
        )


@dataclass(frozen=True, slots=True)
class Bought:
    """A product in a person's purchases."""

    product: Product
    """As the latest line described it."""
    first_at_us: int
    last_at_us: int
    quantity: float


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    return None


def _ident(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _text(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip().replace(",", ""))
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return _number(value.get("amount"))
    return None


def _currency(value: Any, fallback: Any = None) -> str | None:
    named = value.get("currency") if isinstance(value, Mapping) else None
    code = _text(named) or _text(fallback)
    return code.upper() if code else None


def _product(
    product_id: Any,
    sku: Any,
    name: Any,
    category: Any,
    price: float | None,
    currency: str | None,
) -> Product | None:
    pid, code = _ident(product_id), _ident(sku)
    key = pid or code
    if key is None:
        return None
    return Product(key, pid, code, _text(name), _text(category), price, currency)


def _quantity(value: Any) -> float:
    quantity = _number(value)
    return 1.0 if quantity is None else quantity


def _item_product(fields: Mapping[str, Any]) -> Product | None:
    quantity = _quantity(fields.get("quantity"))
    price = _number(fields.get("unit_price"))
    money = fields.get("unit_price")
    if price is None and (amount := _number(fields.get("amount"))) is not None and quantity:
        price, money = amount / quantity, fields.get("amount")
    return _product(
        fields.get("product_id"),
        fields.get("sku"),
        fields.get("product_name"),
        fields.get("category"),
        price,
        _currency(money, fields.get("currency")),
    )


def _order_key(value: Any) -> str | None:
    return _ident(value)


def purchases(records: Iterable[RecordFact], events: Iterable[EventFact]) -> dict[str, Bought]:
    """The products a person bought, by product key, from their order and order_item
    records and their ``Order Completed`` events (module docstring)."""
    orders: dict[str, RecordFact] = {}
    items: list[tuple[str | None, RecordFact]] = []
    for record in records:
        if record.kind == "order":
            key = _order_key(record.fields.get("order_id")) or f"record:{record.record_id}"
            known = orders.get(key)
            if known is None or (record.updated_at_us, record.source, record.record_id) > (
                known.updated_at_us,
                known.source,
                known.record_id,
            ):
                orders[key] = record
        elif record.kind == "order_item":
            items.append((_order_key(record.fields.get("order_id")), record))
    lines: list[tuple[int, str, Product, float]] = []
    for order_key, item in items:
        order = orders.get(order_key) if order_key is not None else None
        if order is not None and is_cancelled(order.fields.get("status")):
            continue
        product = _item_product(item.fields)
        if product is None:
            continue
        at = None if order is None else record_moment("order", order.fields)
        if at is None:
            at = record_moment("order_item", item.fields) or item.updated_at_us
        tiebreak = f"record:{item.source}:{item.record_id}"
        lines.append((at, tiebreak, product, _quantity(item.fields.get("quantity"))))
    itemised = {key for key, _ in items if key is not None}
    seen = set(orders)
    for event in sorted(events, key=lambda e: (e.at_us, e.seq)):
        if event.type != "track" or (event.name or "").strip().casefold() != _ORDER_COMPLETED:
            continue
        props = event.properties
        key = _order_key(props.get("order_id")) or f"event:{event.seq}"
        if key in seen:
            continue  # the order's record (or an earlier copy of the event) has it
        seen.add(key)
        if key in itemised:
            continue
        products = props.get("products")
        for position, given in enumerate(products if isinstance(products, list) else []):
            if not isinstance(given, Mapping):
                continue
            product = _product(
                given.get("product_id"),
                given.get("sku"),
                given.get("name"),
                given.get("category"),
                _number(given.get("price")),
                _currency(given.get("price"), props.get("currency")),
            )
            if product is not None:
                tiebreak = f"event:{event.seq:020d}:{position:05d}"
                lines.append((event.at_us, tiebreak, product, _quantity(given.get("quantity"))))
    out: dict[str, Bought] = {}
    for at, _tiebreak, product, quantity in sorted(lines, key=lambda line: (line[0], line[1])):
        earlier = out.get(product.key)
        if earlier is None:
            out[product.key] = Bought(product, at, at, quantity)
        else:
            out[product.key] = Bought(
                product.over(earlier.product),
                min(earlier.first_at_us, at),
                max(earlier.last_at_us, at),
                earlier.quantity + quantity,
            )
    return out


def counted_products(basket: Mapping[str, Any], last_at: Mapping[str, int], cap: int) -> list[str]:
    """The products of a basket that count in co-purchase: its ``cap`` most recent."""
    ranked = sorted(basket, key=lambda key: (-last_at[key], key))
    return sorted(ranked[:cap])


def count_basket(
    pairs: Counter[tuple[str, str]],
    popularity: Counter[tuple[int, str]],
    products: Sequence[str],
    paired: Sequence[str],
    segment_ids: Iterable[int],
    sign: int,
) -> None:
    """Add (``sign`` 1) or take away (-1) one person's purchases: ``products`` in every
    segment they are counted under, ``paired`` (their capped products) as pairs."""
    if not products:
        return
    for x in paired:
        for y in paired:
            if x != y:
                pairs[(x, y)] += sign
    for segment_id in {EVERYONE, *segment_ids}:
        popularity[(segment_id, _ANY_PRODUCT)] += sign
        for key in products:
            popularity[(segment_id, key)] += sign


# --- ranking (pure) --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recommendation:
    product: Product
    score: float
    reason: str

    def as_json(self, *, public: bool = False) -> dict[str, Any]:
        """The item as the API gives it; ``public`` leaves out the reason, which can name
        what the person bought or the segments they are in."""
        item: dict[str, Any] = {
            "product_id": self.product.key,
            "sku": self.product.sku,
            "name": self.product.name,
            "category": self.product.category,
            "price": self.product.price,
            "currency": self.product.currency,
            "score": round(self.score, 4),
        }
        if not public:
            item["reason"] = self.reason
        return item


@dataclass(frozen=True, slots=True)
class Signals:
    """What the scoring of one person reads."""

    bought: Mapping[str, Bought] = field(default_factory=dict)
    together: Mapping[str, Sequence[tuple[str, int]]] = field(default_factory=dict)
    """Seed product -> the products bought with it and by how many people."""
    buyers: Mapping[str, int] = field(default_factory=dict)
    """Seed product -> how many people bought it."""
    in_segments: Sequence[tuple[str, Mapping[str, float]]] = ()
    """(segment name, product -> share of the segment's buyers who bought it)."""
    overall: Mapping[str, float] = field(default_factory=dict)
    """Product -> share of all buyers who bought it."""


@dataclass(frozen=True, slots=True)
class Scored:
    """A candidate product with its score and where the larger part of it came from."""

    key: str
    score: float
    seed: str | None = None
    """The product of the person's it was most bought with (co-purchase won)."""
    segment: str | None = None
    """The segment it is popular in (popularity won); neither: popular overall."""


def seeds_of(bought: Mapping[str, Bought], settings: RecommendSettings) -> list[str]:
    """The person's products co-purchase starts from: the most recent ``settings.seeds``."""
    ranked = sorted(bought, key=lambda key: (-bought[key].last_at_us, key))
    return ranked[: settings.seeds]


def score(signals: Signals, settings: RecommendSettings, now_us: int) -> list[Scored]:
    """Every candidate for one person, best first (ties: by product key), leaving out what
    they bought within the window; stock is the caller's to check (:func:`pick`)."""
    recent = now_us - settings.window_days * DAY_US
    excluded = {k for k, b in signals.bought.items() if b.last_at_us >= recent}
    co: dict[str, float] = {}
    best_seed: dict[str, tuple[float, str]] = {}
    for seed in sorted(signals.together):
        buyers = signals.buyers.get(seed, 0)
        if buyers <= 0:
            continue
        for other, together in signals.together[seed]:
            if other in excluded or other == seed or together <= 0:
                continue
            part = together / buyers
            co[other] = co.get(other, 0.0) + part
            known = best_seed.get(other)
            if known is None or part > known[0]:
                best_seed[other] = (part, seed)
    shares: dict[str, tuple[float, str | None]] = {}
    for name, share_of in sorted(signals.in_segments, key=lambda s: s[0]):
        for key, share in share_of.items():
            if key not in excluded and share > shares.get(key, (0.0, None))[0]:
                shares[key] = (share, name)
    for key, share in signals.overall.items():
        if key not in excluded and key not in shares and share > 0:
            shares[key] = (share * settings.overall_factor, None)
    out: list[Scored] = []
    for key in set(co) | set(shares):
        co_part = settings.co_purchase_weight * co.get(key, 0.0)
        share, segment = shares.get(key, (0.0, None))
        popular_part = settings.popularity_weight * share
        total = round(co_part + popular_part, 9)
        if total <= 0:
            continue
        if co_part >= popular_part:
            out.append(Scored(key, total, seed=best_seed[key][1]))
        else:
            out.append(Scored(key, total, segment=segment))
    out.sort(key=lambda s: (-s.score, s.key))
    return out


def pick(
    scored: Sequence[Scored],
    products: Mapping[str, Product],
    unavailable: frozenset[str] | set[str],
    limit: int,
) -> list[Recommendation]:
    """The first ``limit`` candidates in stock, described, with their reasons."""
    out: list[Recommendation] = []
    for item in scored:
        if len(out) >= limit:
            break
        if item.key in unavailable:
            continue
        if item.seed is not None:
            reason = f"bought with {_label(item.seed, products)}"
        elif item.segment is not None:
            reason = f"popular in segment {item.segment}"
        else:
            reason = "popular overall"
        out.append(Recommendation(products.get(item.key) or Product(item.key), item.score, reason))
    return out


def rank(
    signals: Signals,
    settings: RecommendSettings,
    now_us: int,
    limit: int,
    products: Mapping[str, Product] | None = None,
    unavailable: frozenset[str] = frozenset(),
) -> list[Recommendation]:
    """The ``limit`` best products for one person, best first (module docstring)."""
    return pick(score(signals, settings, now_us), products or {}, unavailable, limit)


def _label(key: str, products: Mapping[str, Product]) -> str:
    described = products.get(key)
    return described.name if described is not None and described.name else key


# --- reading purchases -----------------------------------------------------------------------


def _record_facts(conn: Connection, profile_ids: Sequence[str]) -> Iterator[Any]:
    query = (
        select(
            identity_nodes.c.profile_id,
            identity_nodes.c.source_id,
            identity_nodes.c.node_key,
            identity_nodes.c.kind,
            source_records.c.fields,
            source_records.c.updated_at_us,
        )
        .select_from(
            identity_nodes.join(
                source_records,
                and_(
                    source_records.c.source_id == identity_nodes.c.source_id,
                    source_records.c.record_id == identity_nodes.c.node_key,
                ),
            )
        )
        .where(
            identity_nodes.c.node_type == NODE_RECORD,
            identity_nodes.c.kind.in_(_PURCHASE_KINDS),
        )
    )
    yield from conn.execute(query.where(key_in(conn, identity_nodes.c.profile_id, profile_ids)))


def _event_facts(conn: Connection, profile_ids: Sequence[str]) -> Iterator[Any]:
    query = (
        select(
            profile_events.c.profile_id,
            profile_events.c.seq,
            profile_events.c.at_us,
            event_log.c.payload,
        )
        .select_from(profile_events.join(event_log, event_log.c.seq == profile_events.c.seq))
        .where(
            event_log.c.type == "track", prefilter(event_log.c.payload.ilike("%order completed%"))
        )
    )
    yield from conn.execute(query.where(key_in(conn, profile_events.c.profile_id, profile_ids)))


def load_purchases(conn: Connection, profile_ids: Sequence[str]) -> dict[str, dict[str, Bought]]:
    """What each profile bought, read from its records and events now."""
    records: dict[str, list[RecordFact]] = {}
    events: dict[str, list[EventFact]] = {}
    for i in range(0, len(profile_ids), _CHUNK):
        chunk = profile_ids[i : i + _CHUNK]
        for pid, source_id, record_id, kind, fields, updated in _record_facts(conn, chunk):
            records.setdefault(pid, []).append(
                RecordFact(str(source_id), record_id, kind, fields or {}, updated)
            )
        for pid, seq, at_us, payload in _event_facts(conn, chunk):
            body = orjson.loads(payload)
            props = body.get("properties")
            events.setdefault(pid, []).append(
                EventFact(
                    seq,
                    "track",
                    body.get("event") if isinstance(body.get("event"), str) else None,
                    props if isinstance(props, dict) else {},
                    {},
                    at_us or 0,
                    "",
                )
            )
    return {
        pid: purchases(records.get(pid, ()), events.get(pid, ()))
        for pid in sorted(set(records) | set(events) | set(profile_ids))
    }


# --- the catalog ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One ``product`` record."""

    source_id: int
    record_id: str
    product_id: str | None
    sku: str | None
    name: str | None
    category: str | None
    brand: str | None
    price: float | None
    currency: str | None
    stock: float | None
    updated_at_us: int

    @property
    def order(self) -> tuple[int, int, str]:
        return (self.updated_at_us, self.source_id, self.record_id)

    def row(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "record_id": self.record_id,
            "product_id": self.product_id,
            "sku": self.sku,
            "name": self.name,
            "category": self.category,
            "brand": self.brand,
            "price": self.price,
            "currency": self.currency,
            "stock": self.stock,
            "updated_at_us": self.updated_at_us,
        }


def catalog_entry(
    source_id: int, record_id: str, fields: Mapping[str, Any], updated_at_us: int
) -> CatalogEntry:
    return CatalogEntry(
        source_id,
        record_id,
        _ident(fields.get("product_id")),
        _ident(fields.get("sku")),
        _text(fields.get("product_name")),
        _text(fields.get("category")),
        _text(fields.get("brand")),
        _number(fields.get("price")),
        _currency(fields.get("price"), fields.get("currency")),
        _number(fields.get("stock")),
        updated_at_us,
    )


def describe(
    candidates: Mapping[str, Product], catalog: Iterable[CatalogEntry]
) -> tuple[dict[str, Product], frozenset[str]]:
    """Descriptions of ``candidates`` (the latest catalog record naming each, over what the
    purchase lines said) and the ones out of stock (that record's ``stock`` <= 0). A record
    names a product by its product id or SKU, including the SKU another record gives that
    product id (and the other way round)."""
    by_id: dict[str, list[CatalogEntry]] = {}
    by_sku: dict[str, list[CatalogEntry]] = {}
    for entry in catalog:
        if entry.product_id is not None:
            by_id.setdefault(entry.product_id, []).append(entry)
        if entry.sku is not None:
            by_sku.setdefault(entry.sku, []).append(entry)
    out: dict[str, Product] = {}
    unavailable: set[str] = set()
    for key, product in candidates.items():
        product_id, sku = _names(key, product)
        found = [*by_id.get(product_id or "", []), *by_sku.get(sku or "", [])]
        for other_sku in sorted({e.sku for e in found if e.sku} - {sku}):
            found.extend(by_sku.get(other_sku, []))
        for other_id in sorted({e.product_id for e in found if e.product_id} - {product_id}):
            found.extend(by_id.get(other_id, []))
        if not found:
            out[key] = product
            continue
        latest = max(found, key=lambda e: e.order)
        out[key] = Product(
            key,
            latest.product_id,
            latest.sku,
            latest.name,
            latest.category,
            latest.price,
            latest.currency,
        ).over(product)
        if latest.stock is not None and latest.stock <= 0:
            unavailable.add(key)
    return out, frozenset(unavailable)


def _names(key: str, product: Product) -> tuple[str | None, str | None]:
    """The (product id, SKU) a product goes by; a product known only by its key may be
    either."""
    if product.product_id is None and product.sku is None:
        return key, key
    return product.product_id, product.sku


def _catalog_for(
    conn: Connection, candidates: Mapping[str, Product], pending: Sequence[CatalogEntry]
) -> list[CatalogEntry]:
    """The catalog records naming ``candidates`` (by product id, by SKU, and by the SKUs and
    ids those records give them), and ``pending``: product records the model has not taken in
    yet, so stock is as current as the profiles."""
    names = [_names(k, p) for k, p in candidates.items()]
    ids = {pid for pid, _ in names if pid}
    entries = {(e.source_id, e.record_id): e for e in _catalog_where(conn, "product_id", ids)}
    skus = {sku for _, sku in names if sku} | {e.sku for e in entries.values() if e.sku}
    entries.update(((e.source_id, e.record_id), e) for e in _catalog_where(conn, "sku", skus))
    more = {e.product_id for e in entries.values() if e.product_id} - ids
    entries.update(
        ((e.source_id, e.record_id), e) for e in _catalog_where(conn, "product_id", more)
    )
    entries.update(((e.source_id, e.record_id), e) for e in pending)
    return list(entries.values())


def _catalog_where(conn: Connection, column: str, values: set[str]) -> list[CatalogEntry]:
    out: list[CatalogEntry] = []
    ordered = sorted(values)
    for i in range(0, len(ordered), _CHUNK):
        rows = conn.execute(
            select(*recommend_catalog.c).where(
                key_in(conn, recommend_catalog.c[column], ordered[i : i + _CHUNK])
            )
        )
        out.extend(CatalogEntry(*row) for row in rows)
    return out


def _pending(conn: Connection, state: ModelState) -> list[CatalogEntry]:
    """Product records changed after the model's last refresh (and already processed)."""
    if not state.built:  # no model yet: every product record is pending
        return [
            catalog_entry(row.source_id, row.record_id, row.fields or {}, row.updated_at_us)
            for row in conn.execute(
                select(
                    source_records.c.source_id,
                    source_records.c.record_id,
                    source_records.c.fields,
                    source_records.c.updated_at_us,
                ).where(source_records.c.kind == "product")
            )
        ]
    if state.log_processed <= state.log_seen:
        return []
    return _catalog_records(conn, _product_entries(conn, state.log_seen, state.log_processed))


def _product_entries(conn: Connection, after: int, upto: int) -> set[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    rows = conn.execute(
        select(event_log.c.source_id, event_log.c.payload).where(
            event_log.c.seq > after,
            event_log.c.seq <= upto,
            event_log.c.type == RECORD_TYPE,
            prefilter(event_log.c.payload.like('%"kind":"product"%')),
        )
    )
    for source_id, payload in rows:
        body = orjson.loads(payload)
        if body.get("kind") == "product" and isinstance(body.get("record_id"), str):
            found.add((int(source_id), body["record_id"]))
    return found


def _catalog_records(conn: Connection, keys: Iterable[tuple[int, str]]) -> list[CatalogEntry]:
    by_source: dict[int, list[str]] = {}
    for source_id, record_id in keys:
        by_source.setdefault(source_id, []).append(record_id)
    out: list[CatalogEntry] = []
    for source_id, record_ids in sorted(by_source.items()):
        for i in range(0, len(record_ids), _CHUNK):
            rows = conn.execute(
                select(
                    source_records.c.record_id,
                    source_records.c.kind,
                    source_records.c.fields,
                    source_records.c.updated_at_us,
                ).where(
                    source_records.c.source_id == source_id,
                    key_in(conn, source_records.c.record_id, sorted(record_ids[i : i + _CHUNK])),
                )
            )
            out.extend(
                catalog_entry(source_id, row.record_id, row.fields or {}, row.updated_at_us)
                for row in rows
                if row.kind == "product"
            )
    return out


# --- recommending ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    """Whom to recommend for: what they bought and the segments they are in (id, name)."""

    bought: Mapping[str, Bought] = field(default_factory=dict)
    segments: Sequence[tuple[int, str]] = ()


ANONYMOUS = Person()


def recommendations_for(
    conn: Connection,
    profile_id: str,
    limit: int = 10,
    *,
    now_us: int | None = None,
    settings: RecommendSettings = DEFAULT_SETTINGS,
    state: ModelState | None = None,
) -> list[Recommendation]:
    """The ``limit`` next best products for a profile (an id merged into another: the
    survivor's); :class:`~c360.errors.NotFound` for an unknown id."""
    live = live_profile_id(conn, profile_id)
    return recommendations_for_many(
        conn, [live], limit, now_us=now_us, settings=settings, state=state
    )[live]


def recommendations_for_many(
    conn: Connection,
    profile_ids: Sequence[str],
    limit: int = 10,
    *,
    now_us: int | None = None,
    settings: RecommendSettings = DEFAULT_SETTINGS,
    state: ModelState | None = None,
) -> dict[str, list[Recommendation]]:
    """Recommendations for many live profiles at once (a journey's batch), in one pass over
    the model: what a template gets as ``recommendations``."""
    ids = sorted(set(profile_ids))
    bought = load_purchases(conn, ids)
    memberships = segments_of(conn, ids)
    people = {pid: Person(bought.get(pid, {}), memberships.get(pid, ())) for pid in ids}
    return recommend(conn, people, limit, now_us=now_us, settings=settings, state=state)


def segments_of(conn: Connection, profile_ids: Sequence[str]) -> dict[str, list[tuple[int, str]]]:
    out: dict[str, list[tuple[int, str]]] = {}
    for i in range(0, len(profile_ids), _CHUNK):
        rows = conn.execute(
            select(segment_members.c.profile_id, segments.c.id, segments.c.name)
            .select_from(
                segment_members.join(segments, segments.c.id == segment_members.c.segment_id)
            )
            .where(key_in(conn, segment_members.c.profile_id, profile_ids[i : i + _CHUNK]))
            .order_by(segments.c.name)
        )
        for pid, segment_id, name in rows:
            out.setdefault(pid, []).append((segment_id, name))
    return out


def recommend(
    conn: Connection,
    people: Mapping[str, Person],
    limit: int,
    *,
    now_us: int | None = None,
    settings: RecommendSettings = DEFAULT_SETTINGS,
    state: ModelState | None = None,
) -> dict[str, list[Recommendation]]:
    """Rank products for each person (a key of your choosing) from the model (``state``: as
    :func:`model_state` found it just now, to save reading it again)."""
    now = system_clock() if now_us is None else now_us
    seeds = {key: seeds_of(p.bought, settings) for key, p in people.items()}
    all_seeds = sorted({s for found in seeds.values() for s in found})
    together = _together(conn, all_seeds, settings.neighbours)
    buyers = _buyers(conn, all_seeds)
    segment_ids = sorted({EVERYONE, *(sid for p in people.values() for sid, _ in p.segments)})
    popular = _popular(conn, segment_ids, settings.popular)
    scored = {
        key: score(
            Signals(
                bought=person.bought,
                together={s: together.get(s, ()) for s in seeds[key]},
                buyers={s: buyers.get(s, 0) for s in seeds[key]},
                in_segments=[(name, popular.get(sid, {})) for sid, name in person.segments],
                overall=popular.get(EVERYONE, {}),
            ),
            settings,
            now,
        )
        for key, person in people.items()
    }
    lines: dict[str, Product] = {}
    for person in people.values():
        lines.update((key, bought.product) for key, bought in person.bought.items())
    # describe (and check the stock of) only as many candidates as the answers need
    products: dict[str, Product] = {}
    unavailable: set[str] = set()
    pending = _pending(conn, state or model_state(conn))
    wanted = set(all_seeds)
    while True:
        for items in scored.values():
            enough = 0
            for item in items:
                if item.key not in products:
                    wanted.add(item.key)
                if item.key not in unavailable:
                    enough += 1
                if enough >= limit:
                    break
        wanted -= set(products)
        if not wanted:
            break
        known = {k: lines[k] for k in wanted if k in lines}
        known.update(_descriptions(conn, sorted(wanted - set(known))))
        candidates = {k: known.get(k) or Product(k) for k in wanted}
        found, out = describe(candidates, _catalog_for(conn, candidates, pending))
        products.update(found)
        unavailable |= out
        wanted = set()
    return {key: pick(scored[key], products, unavailable, limit) for key in people}


_TOPS: dict[tuple[str, int], Any] = {}
_TOP_TABLES = {
    "pairs": (recommend_pairs, "product_key", "other_key", "together"),
    "popular": (recommend_popularity, "segment_id", "product_key", "buyers"),
}
_TOP_GROUPS = 32


def _top_statement(which: str, n: int) -> Any:
    """For ``n`` groups, each group's first ``:top`` rows by count (ties: by item), one indexed
    range read per group, in one statement (built once per ``n``)."""
    found = _TOPS.get((which, n))
    if found is None:
        table, group, item, count = _TOP_TABLES[which]
        parts = [
            select(table.c[group], table.c[item], table.c[count])
            .where(table.c[group] == bindparam(f"g{i}"), table.c[item] != _ANY_PRODUCT)
            .order_by(table.c[count].desc(), table.c[item])
            .limit(bindparam("top", type_=Integer))
            .subquery(f"top{i}")
            for i in range(n)
        ]
        selects = [select(*part.c) for part in parts]
        found = _TOPS[(which, n)] = union_all(*selects) if n > 1 else selects[0]
    return found


def _top(conn: Connection, which: str, groups: Sequence[Any], top: int) -> list[Any]:
    out: list[Any] = []
    for i in range(0, len(groups), _TOP_GROUPS):
        chunk = groups[i : i + _TOP_GROUPS]
        params: dict[str, Any] = {f"g{j}": value for j, value in enumerate(chunk)}
        out.extend(conn.execute(_top_statement(which, len(chunk)), {**params, "top": top}))
    return out


def _together(conn: Connection, seeds: Sequence[str], top: int) -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {}
    for seed, other, count in _top(conn, "pairs", seeds, top):
        out.setdefault(seed, []).append((other, int(count)))
    return out


def _popular(conn: Connection, segment_ids: Sequence[int], top: int) -> dict[int, dict[str, float]]:
    """Per segment: its ``top`` most bought products, as shares of its buyers."""
    totals = dict(
        conn.execute(
            select(recommend_popularity.c.segment_id, recommend_popularity.c.buyers).where(
                key_in(conn, recommend_popularity.c.segment_id, segment_ids),
                recommend_popularity.c.product_key == _ANY_PRODUCT,
            )
        ).all()
    )
    out: dict[int, dict[str, float]] = {}
    found = _top(conn, "popular", [s for s in segment_ids if totals.get(s, 0) > 0], top)
    for segment_id, key, count in found:
        if count > 0:
            out.setdefault(segment_id, {})[key] = count / totals[segment_id]
    return out


def _buyers(conn: Connection, keys: Sequence[str]) -> dict[str, int]:
    if not keys:
        return {}
    return {
        key: int(count)
        for key, count in conn.execute(
            select(recommend_popularity.c.product_key, recommend_popularity.c.buyers).where(
                recommend_popularity.c.segment_id == EVERYONE,
                key_in(conn, recommend_popularity.c.product_key, keys),
            )
        )
    }


def _descriptions(conn: Connection, keys: Sequence[str]) -> dict[str, Product]:
    out: dict[str, Product] = {}
    for i in range(0, len(keys), _CHUNK):
        for row in conn.execute(
            select(*recommend_products.c).where(
                key_in(conn, recommend_products.c.product_key, keys[i : i + _CHUNK])
            )
        ):
            out[row.product_key] = Product(
                row.product_key,
                row.product_id,
                row.sku,
                row.name,
                row.category,
                row.price,
                row.currency,
            )
    return out


# --- keeping the model -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelState:
    built: bool
    log_seen: int
    log_processed: int
    changes_seen: int
    changes_last: int
    refreshed_at_us: int

    @property
    def current(self) -> bool:
        return (
            self.built
            and self.log_seen >= self.log_processed
            and self.changes_seen >= self.changes_last
        )


def model_state(conn: Connection) -> ModelState:
    """How far the model is behind the profiles (one statement of index lookups)."""
    last_change = select(func.max(profile_changes.c.id)).scalar_subquery()
    found = conn.execute(
        select(
            worker_checkpoints.c.name,
            worker_checkpoints.c.seq,
            worker_checkpoints.c.updated_at_us,
            last_change,
        ).where(
            worker_checkpoints.c.name.in_(
                (LOG_CHECKPOINT, CHANGES_CHECKPOINT, REBUILT_CHECKPOINT, PROFILES_CHECKPOINT)
            )
        )
    ).all()
    rows = {name: (int(seq), int(at)) for name, seq, at, _ in found}
    changes_last = (
        found[0][3] if found else conn.execute(select(func.max(profile_changes.c.id))).scalar()
    )
    seen, refreshed = rows.get(LOG_CHECKPOINT, (0, 0))
    return ModelState(
        built=REBUILT_CHECKPOINT in rows,
        log_seen=seen,
        log_processed=rows.get(PROFILES_CHECKPOINT, (0, 0))[0],
        changes_seen=rows.get(CHANGES_CHECKPOINT, (0, 0))[0],
        changes_last=int(changes_last or 0),
        refreshed_at_us=refreshed,
    )


@dataclass(frozen=True, slots=True)
class RefreshReport:
    full: bool = False
    profiles: int = 0
    """Profiles whose purchases or segments were counted again."""
    products: int = 0
    """Product records taken into the catalog."""
    took_s: float = 0.0
    skipped: str | None = None


def refresh_model(
    conn: Connection, *, full: bool = False, settings: RecommendSettings = DEFAULT_SETTINGS
) -> RefreshReport:
    """Bring the model up to the profiles: incrementally, or from scratch when ``full``, when
    there is none, after ``c360 rebuild`` or when it is too far behind. Holds the model's lock
    (two refreshers never count the same change twice)."""
    started = time.perf_counter()
    seen = get_checkpoint(conn, LOG_CHECKPOINT, lock=True)
    # written last by every refresh: read under the lock, so two first refreshes build once
    built = (
        conn.execute(
            select(worker_checkpoints.c.seq).where(worker_checkpoints.c.name == REBUILT_CHECKPOINT)
        ).first()
        is not None
    )
    upto = get_checkpoint(conn, PROFILES_CHECKPOINT)
    if upto < muted_until(conn):
        return RefreshReport(skipped="c360 rebuild is replaying the log; the model waits")
    mark = _rebuild_mark(conn)
    changes_seen = get_checkpoint(conn, CHANGES_CHECKPOINT)
    changes_last = int(conn.execute(select(func.max(profile_changes.c.id))).scalar() or 0)
    if (
        full
        or not built
        or seen > upto
        or mark != get_checkpoint(conn, REBUILT_CHECKPOINT)
        or upto - seen > settings.full_after_entries
    ):
        report = _rebuild_model(conn, settings)
    else:
        report = _update_model(conn, seen, upto, changes_seen, changes_last, settings)
    set_checkpoint(conn, LOG_CHECKPOINT, upto)
    set_checkpoint(conn, CHANGES_CHECKPOINT, changes_last)
    set_checkpoint(conn, REBUILT_CHECKPOINT, mark)
    return replace(report, took_s=time.perf_counter() - started)


def _rebuild_mark(conn: Connection) -> int:
    """When ``c360 rebuild`` last muted the feed (the only writer of that mark)."""
    value = conn.execute(
        select(worker_checkpoints.c.updated_at_us).where(
            worker_checkpoints.c.name == MUTED_CHECKPOINT
        )
    ).scalar_one_or_none()
    return int(value or 0)


_MODEL_TABLES = (
    recommend_pairs,
    recommend_popularity,
    recommend_purchases,
    recommend_counted,
    recommend_products,
    recommend_catalog,
)


def _rebuild_model(conn: Connection, settings: RecommendSettings) -> RefreshReport:
    for table in _MODEL_TABLES:
        conn.execute(delete(table))
    catalog = [
        catalog_entry(row.source_id, row.record_id, row.fields or {}, row.updated_at_us).row()
        for row in conn.execute(
            select(
                source_records.c.source_id,
                source_records.c.record_id,
                source_records.c.fields,
                source_records.c.updated_at_us,
            ).where(source_records.c.kind == "product")
        )
    ]
    _insert(conn, recommend_catalog, catalog)
    memberships: dict[str, list[int]] = {}
    for pid, segment_id in conn.execute(
        select(segment_members.c.profile_id, segment_members.c.segment_id)
    ):
        memberships.setdefault(pid, []).append(int(segment_id))
    pairs: Counter[tuple[str, str]] = Counter()
    popularity: Counter[tuple[int, str]] = Counter()
    described: dict[str, tuple[int, Product]] = {}
    buyers = 0
    live = sorted(
        conn.execute(select(profiles.c.id).where(profiles.c.merged_into.is_(None))).scalars()
    )
    for i in range(0, len(live), _CHUNK):  # a chunk of people in memory at a time
        baskets = load_purchases(conn, live[i : i + _CHUNK])
        purchase_rows: list[dict[str, Any]] = []
        counted_rows: list[dict[str, Any]] = []
        for pid, basket in sorted(baskets.items()):
            if not basket:
                continue
            buyers += 1
            segment_ids = sorted(memberships.get(pid, []))
            count_basket(
                pairs, popularity, sorted(basket), _paired(basket, settings), segment_ids, 1
            )
            purchase_rows.extend(_purchase_rows(pid, basket))
            counted_rows.append({"profile_id": pid, "segments": segment_ids})
            _remember(described, basket)
        _insert(conn, recommend_purchases, purchase_rows)
        _insert(conn, recommend_counted, counted_rows)
    _insert(conn, recommend_products, [_product_row(p, at) for at, p in described.values()])
    _insert(
        conn,
        recommend_pairs,
        [{"product_key": x, "other_key": y, "together": n} for (x, y), n in pairs.items()],
    )
    _insert(
        conn,
        recommend_popularity,
        [{"segment_id": s, "product_key": k, "buyers": n} for (s, k), n in popularity.items()],
    )
    return RefreshReport(full=True, profiles=buyers, products=len(catalog))


def _update_model(
    conn: Connection,
    seen: int,
    upto: int,
    changes_seen: int,
    changes_last: int,
    settings: RecommendSettings,
) -> RefreshReport:
    bought_again, products = _touched_by_log(conn, seen, upto)
    moved, regrouped = _touched_by_feed(conn, changes_seen, changes_last)
    bought_again |= moved
    catalog = _catalog_records(conn, products)
    _upsert(conn, recommend_catalog, [e.row() for e in catalog], ["source_id", "record_id"])
    touched = sorted(bought_again | regrouped)
    if not touched:
        return RefreshReport(products=len(catalog))
    live = _live(conn, touched)
    old = _stored_baskets(conn, touched)
    old_segments = _stored_segments(conn, touched)
    fresh = load_purchases(conn, sorted(bought_again & live))
    memberships = {
        pid: [sid for sid, _ in found] for pid, found in segments_of(conn, touched).items()
    }
    pairs: Counter[tuple[str, str]] = Counter()
    popularity: Counter[tuple[int, str]] = Counter()
    described: dict[str, tuple[int, Product]] = {}
    rewritten: list[str] = []
    recounted: list[str] = []
    purchase_rows: list[dict[str, Any]] = []
    counted_rows: list[dict[str, Any]] = []
    for pid in touched:
        before = old.get(pid, {})
        after = before
        if pid not in live:
            after = {}
        elif pid in bought_again:
            after = fresh.get(pid, {})
        segments_before = old_segments.get(pid, [])
        segments_after = sorted(memberships.get(pid, [])) if after else []
        changed = _shape(before) != _shape(after)
        if not changed and segments_before == segments_after:
            continue
        count_basket(
            pairs, popularity, sorted(before), _paired(before, settings), segments_before, -1
        )
        count_basket(pairs, popularity, sorted(after), _paired(after, settings), segments_after, 1)
        recounted.append(pid)
        if after:
            counted_rows.append({"profile_id": pid, "segments": segments_after})
        if changed:
            rewritten.append(pid)
            purchase_rows.extend(_purchase_rows(pid, after))
            _remember(described, after)
    for i in range(0, len(recounted), _CHUNK):
        chunk = recounted[i : i + _CHUNK]
        conn.execute(
            delete(recommend_counted).where(key_in(conn, recommend_counted.c.profile_id, chunk))
        )
    for i in range(0, len(rewritten), _CHUNK):
        chunk = rewritten[i : i + _CHUNK]
        conn.execute(
            delete(recommend_purchases).where(key_in(conn, recommend_purchases.c.profile_id, chunk))
        )
    _insert(conn, recommend_purchases, purchase_rows)
    _insert(conn, recommend_counted, counted_rows)
    _add_counts(
        conn,
        recommend_pairs,
        ["product_key", "other_key"],
        "together",
        {key: n for key, n in pairs.items() if n},
    )
    _add_counts(
        conn,
        recommend_popularity,
        ["segment_id", "product_key"],
        "buyers",
        {key: n for key, n in popularity.items() if n},
    )
    _keep_newer_descriptions(conn, described)
    return RefreshReport(profiles=len(recounted), products=len(catalog))


def _paired(basket: Mapping[str, Bought], settings: RecommendSettings) -> list[str]:
    return counted_products(basket, _times(basket), settings.pair_cap)


def _times(basket: Mapping[str, Bought]) -> dict[str, int]:
    return {key: bought.last_at_us for key, bought in basket.items()}


def _shape(basket: Mapping[str, Bought]) -> dict[str, tuple[int, int, float]]:
    """What the model stores of a basket (descriptions aside)."""
    return {k: (b.first_at_us, b.last_at_us, b.quantity) for k, b in basket.items()}


def _purchase_rows(pid: str, basket: Mapping[str, Bought]) -> list[dict[str, Any]]:
    return [
        {
            "profile_id": pid,
            "product_key": key,
            "first_at_us": b.first_at_us,
            "last_at_us": b.last_at_us,
            "quantity": b.quantity,
        }
        for key, b in sorted(basket.items())
    ]


def _remember(described: dict[str, tuple[int, Product]], basket: Mapping[str, Bought]) -> None:
    for key, bought in basket.items():
        known = described.get(key)
        if known is None or bought.last_at_us >= known[0]:
            product = bought.product if known is None else bought.product.over(known[1])
            described[key] = (bought.last_at_us, product)


def _product_row(product: Product, at_us: int) -> dict[str, Any]:
    return {
        "product_key": product.key,
        "product_id": product.product_id,
        "sku": product.sku,
        "name": product.name,
        "category": product.category,
        "price": product.price,
        "currency": product.currency,
        "at_us": at_us,
    }


def _touched_by_log(
    conn: Connection, seen: int, upto: int
) -> tuple[set[str], set[tuple[int, str]]]:
    """Profiles whose purchases may have changed in log entries (seen, upto], and the product
    records that changed."""
    record_keys: dict[int, set[str]] = {}
    products: set[tuple[int, str]] = set()
    track_seqs: list[int] = []
    rows = conn.execute(
        select(event_log.c.seq, event_log.c.source_id, event_log.c.type, event_log.c.payload)
        .where(
            event_log.c.seq > seen,
            event_log.c.seq <= upto,
            or_(
                event_log.c.type == RECORD_TYPE,
                and_(
                    event_log.c.type == "track",
                    prefilter(event_log.c.payload.ilike("%order completed%")),
                ),
            ),
        )
        .order_by(event_log.c.seq)
    )
    for seq, source_id, kind, payload in rows:
        body = orjson.loads(payload)
        if kind == "track":
            name = body.get("event")
            if isinstance(name, str) and name.strip().casefold() == _ORDER_COMPLETED:
                track_seqs.append(int(seq))
            continue
        record_id = body.get("record_id")
        if not isinstance(record_id, str):
            continue
        if body.get("kind") in _PURCHASE_KINDS:
            record_keys.setdefault(int(source_id), set()).add(record_id)
        elif body.get("kind") == "product":
            products.add((int(source_id), record_id))
    touched: set[str] = set()
    for source_id, record_ids in sorted(record_keys.items()):
        ordered = sorted(record_ids)
        for i in range(0, len(ordered), _CHUNK):
            touched.update(
                pid
                for (pid,) in conn.execute(
                    select(identity_nodes.c.profile_id).where(
                        identity_nodes.c.source_id == source_id,
                        identity_nodes.c.node_type == NODE_RECORD,
                        key_in(conn, identity_nodes.c.node_key, ordered[i : i + _CHUNK]),
                    )
                )
                if pid is not None
            )
    for i in range(0, len(track_seqs), _CHUNK):
        touched.update(
            pid
            for (pid,) in conn.execute(
                select(profile_events.c.profile_id).where(
                    key_in(conn, profile_events.c.seq, track_seqs[i : i + _CHUNK])
                )
            )
        )
    return touched, products


def _touched_by_feed(conn: Connection, seen: int, last: int) -> tuple[set[str], set[str]]:
    """(profiles merged or split, profiles that entered or left segments) in the feed."""
    moved: set[str] = set()
    regrouped: set[str] = set()
    if last <= seen:
        return moved, regrouped
    rows = conn.execute(
        select(
            profile_changes.c.profile_id, profile_changes.c.kind, profile_changes.c.detail
        ).where(
            profile_changes.c.id > seen,
            profile_changes.c.id <= last,
            profile_changes.c.kind.in_(
                (
                    ChangeKind.MERGED.value,
                    ChangeKind.SPLIT.value,
                    ChangeKind.SEGMENT_ENTERED.value,
                    ChangeKind.SEGMENT_EXITED.value,
                )
            ),
        )
    )
    for pid, kind, detail in rows:
        if kind in (ChangeKind.MERGED.value, ChangeKind.SPLIT.value):
            moved.add(pid)
            other = (detail or {}).get("merged_id") or (detail or {}).get("split_from")
            if isinstance(other, str):
                moved.add(other)
        else:
            regrouped.add(pid)
    return moved, regrouped


def _live(conn: Connection, ids: Sequence[str]) -> set[str]:
    live: set[str] = set()
    for i in range(0, len(ids), _CHUNK):
        live.update(
            pid
            for (pid,) in conn.execute(
                select(profiles.c.id).where(
                    key_in(conn, profiles.c.id, ids[i : i + _CHUNK]),
                    profiles.c.merged_into.is_(None),
                )
            )
        )
    return live


def _stored_baskets(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, Bought]]:
    """What the model counted for each profile (products without their descriptions)."""
    out: dict[str, dict[str, Bought]] = {}
    for i in range(0, len(ids), _CHUNK):
        for row in conn.execute(
            select(*recommend_purchases.c).where(
                key_in(conn, recommend_purchases.c.profile_id, ids[i : i + _CHUNK])
            )
        ):
            out.setdefault(row.profile_id, {})[row.product_key] = Bought(
                Product(row.product_key),
                int(row.first_at_us),
                int(row.last_at_us),
                float(row.quantity),
            )
    return out


def _stored_segments(conn: Connection, ids: Sequence[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i in range(0, len(ids), _CHUNK):
        for pid, segment_ids in conn.execute(
            select(recommend_counted.c.profile_id, recommend_counted.c.segments).where(
                key_in(conn, recommend_counted.c.profile_id, ids[i : i + _CHUNK])
            )
        ):
            out[pid] = sorted(int(s) for s in segment_ids or [])
    return out


# --- writing -------------------------------------------------------------------------------


def _dialect_insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), 10_000):
        conn.execute(insert(table), rows[i : i + 10_000])


def _upsert(conn: Connection, table: Any, rows: list[dict[str, Any]], key: list[str]) -> None:
    if not rows:
        return
    stmt = _dialect_insert(conn)(table)
    changed = {c.name: stmt.excluded[c.name] for c in table.c if c.name not in key}
    conn.execute(stmt.on_conflict_do_update(index_elements=key, set_=changed), rows)


def _add_counts(
    conn: Connection,
    table: Any,
    key: list[str],
    column: str,
    deltas: Mapping[tuple[Any, ...], int],
) -> None:
    """Add ``deltas`` to the counts in ``column``; counts that reach zero go."""
    if not deltas:
        return
    rows = [{**dict(zip(key, k, strict=True)), column: n} for k, n in sorted(deltas.items())]
    stmt = _dialect_insert(conn)(table)
    upsert = stmt.on_conflict_do_update(
        index_elements=key, set_={column: table.c[column] + stmt.excluded[column]}
    )
    for i in range(0, len(rows), 10_000):
        conn.execute(upsert, rows[i : i + 10_000])
    firsts = sorted({k[0] for k in deltas})
    for i in range(0, len(firsts), _CHUNK):
        conn.execute(
            delete(table).where(
                key_in(conn, table.c[key[0]], firsts[i : i + _CHUNK]), table.c[column] <= 0
            )
        )


def _keep_newer_descriptions(
    conn: Connection, described: Mapping[str, tuple[int, Product]]
) -> None:
    if not described:
        return
    rows = [_product_row(p, at) for at, p in described.values()]
    stmt = _dialect_insert(conn)(recommend_products)
    changed = {
        c.name: stmt.excluded[c.name] for c in recommend_products.c if c.name != "product_key"
    }
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["product_key"],
            set_=changed,
            where=recommend_products.c.at_us <= stmt.excluded.at_us,
        ),
        rows,
    )


class RecommendationRefresher(BackgroundLoop):
    """Keeps the model current in the background (``c360 serve`` / ``c360 worker``): looks every
    ``poll_s`` and refreshes when the profiles moved on."""

    def __init__(
        self,
        engine: Engine,
        *,
        poll_s: float = 1.0,
        settings: RecommendSettings = DEFAULT_SETTINGS,
    ) -> None:
        super().__init__("c360-recommend")
        self._engine = engine
        self._poll_s = poll_s
        self._settings = settings

    def run_once(self) -> RefreshReport | None:
        with self._engine.connect() as conn:
            if model_state(conn).current:
                return None
        with self._engine.begin() as conn:
            return refresh_model(conn, settings=self._settings)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # the next round tries again
                self.errors += 1
                log.error("refreshing recommendations failed: %s", type(exc).__name__)
            self._wake.wait(self._poll_s)
            self._wake.clear()
