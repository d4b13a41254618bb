"""Splink's side of the identity benchmark: the flat record table, and one Splink 5 run on it.

The table is built from what c360 stored after ``c360 import`` (``source_records`` and
``record_identifiers``) plus the raw web/app event stream, never from the ground truth. Names,
e-mails and phones get the same standardization c360 itself applies (the values and match keys
the store holds, or c360's own standardizers for the web events), so Splink compares what c360
compares. :data:`TABLE_DESCRIPTION` says column by column how each value is made; the benchmark
prints it and writes it to its JSON.

Splink follows its documented workflow (``SettingsCreator``, ``DuckDBAPI``, ``Linker``): the
prior from deterministic rules, u by random sampling, m by expectation maximisation on three
blocking rules, ``predict`` over the prediction blocking rules, then connected components at a
match-probability threshold (:data:`CLUSTER_THRESHOLD`).
"""

import logging
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

Key = tuple[str, str]

NON_PERSON_KINDS = frozenset({"product", "order_item"})
"""Record kinds with nothing about a person (the catalogue, order lines): left out."""

CLUSTER_THRESHOLD = 0.95
PREDICT_THRESHOLD = 0.2
PRIOR_RECALL = 0.6
U_MAX_PAIRS = 5e6
SEED = 42

COLUMNS = (
    "unique_id",
    "source",
    "record_id",
    "first_name",
    "first_name_keys",
    "first_key",
    "surname",
    "surname_keys",
    "surname_key",
    "name_key",
    "birth_date",
    "email",
    "phone",
    "postcode",
    "province",
    "address_key",
    "customer_id",
    "user_id",
    "chat_id",
)

TABLE_DESCRIPTION = """\
One row per record: every source record c360 stored except kinds 'product' and 'order_item'
(source_records, after c360 import), and one row per web identity (each anonymousId and each
userId in web_events.jsonl). The ground truth is not read. Columns:
- first_name / surname: the record's standardized fields.first_name / fields.last_name (c360
  splits full names into parts on import), each token romanized if Thai (c360's romanize_thai)
  or lower-cased without diacritics; punctuation dropped.
- first_name_keys / surname_keys: [c360 name_key of that name] (phonetic key that makes Thai
  script and its romanizations meet), plus the key of fields.nickname for first names (CRM
  keeps a nickname; Thai POS receipts often carry only the nickname), given to
  NameComparison as its phonetic ("dmeta") array column; first_key / surname_key are the
  name keys alone as plain strings, for blocking.
- name_key: the full name's tokens key (first+middle+last keys sorted), for blocking only.
- birth_date: fields.birth_date (ISO date; Buddhist-era years already converted by c360).
- email: c360's e-mail match key (extra.email.match_key: lower case, gmail dots/+tags dropped)
  or fields.email.
- phone: fields.phone (E.164); invalid numbers are already flagged and absent.
- postcode, province: fields.postal_code, fields.province (English province name).
- address_key: house number (extra.address.house_number, or the leading number of the shop's
  address_line1) + '|' + province, when both exist.
- customer_id: '<source>:<value>' of record_identifiers type customer_id (CRM contacts carry
  the CRM number; billing contacts, invoices and payments the billing code; shop orders the
  shop account). A web userId row gets 'shop:<userId>': the web/app login id is the shop
  account number (SC...), as anyone looking at both files sees (off with
  --no-web-user-is-shop-customer).
- user_id: web rows only: a userId row gets its userId, an anonymousId row the userId it was
  first seen with (earliest event carrying both); none for an anonymousId never seen with one.
- chat_id: 'line:<id>' / 'zalo:<id>' from record_identifiers line_user_id / zalo_user_id.
- web rows also get email / phone from identify traits sent with that anonymousId or userId
  (standardized with c360's email() and phone()), and first_name / surname when traits have
  them (the sample's traits carry only email or phone).
"""


@dataclass(slots=True)
class FlatTable:
    rows: list[dict[str, Any]]
    """One dict per record, keys :data:`COLUMNS`; ``unique_id`` is the row's index."""
    stats: dict[str, Any] = field(default_factory=dict)

    def keys(self) -> list[Key]:
        return [(row["source"], row["record_id"]) for row in self.rows]


# --------------------------------------------------------------------------------------------
# The flat table.

_THAI = re.compile(r"[\u0e00-\u0e7f]")
_PUNCT = re.compile(r"[^\w ]+")
_HOUSE = re.compile(r"^\s*(?:s[oố]\s*)?(\d+[a-z]?(?:/\d+[a-z]?)?)(?![\d/])", re.IGNORECASE)


def _json(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value)
    loaded = orjson.loads(value)
    return loaded if isinstance(loaded, dict) else {}


def _romanized(name: str | None) -> str | None:
    from c360.standardize.cells import fold
    from c360.standardize.romanization import romanize_thai

    if not name:
        return None
    tokens = []
    for token in name.split():
        text = romanize_thai(token) if _THAI.search(token) else fold(token)
        text = _PUNCT.sub("", text)
        if text:
            tokens.append(text)
    return " ".join(tokens) or None


def _key(name: str | None) -> str | None:
    from c360.standardize.names import name_key

    return (name_key(name) or None) if name else None


def _names(
    row: dict[str, Any],
    first: str | None,
    middle: str | None,
    last: str | None,
    nickname: str | None = None,
) -> None:
    first_key, last_key, nick_key = _key(first), _key(last), _key(nickname)
    first_keys = [k for k in dict.fromkeys((first_key, nick_key)) if k]
    row["first_name"] = _romanized(first)
    row["first_name_keys"] = first_keys or None
    row["first_key"] = first_key
    row["surname"] = _romanized(last)
    row["surname_keys"] = [last_key] if last_key else None
    row["surname_key"] = last_key
    parts = [_key(p) for p in (first, middle, last) if p]
    tokens = sorted(t for p in parts if p for t in p.split())
    row["name_key"] = " ".join(tokens) or None


def _part(extra: dict[str, Any], name: str) -> dict[str, Any]:
    value = extra.get(name)
    return value if isinstance(value, dict) else {}


def _empty_row(source: str, record_id: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row["source"], row["record_id"] = source, record_id
    return row


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def store_rows(url: str) -> Iterator[dict[str, Any]]:
    """The person-bearing records c360 stored, one flat row each (``unique_id`` unset)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            sources = {
                int(i): str(n) for i, n in conn.execute(text("SELECT id, name FROM sources"))
            }
            identifiers: dict[tuple[int, str], dict[str, str]] = defaultdict(dict)
            for kind, value, source_id, record_id in conn.execute(
                text(
                    "SELECT type, value, source_id, record_id FROM record_identifiers "
                    "WHERE type IN ('customer_id', 'line_user_id', 'zalo_user_id')"
                )
            ):
                identifiers[(int(source_id), str(record_id))].setdefault(str(kind), str(value))
            result = conn.execution_options(stream_results=True, yield_per=5000).execute(
                text("SELECT source_id, record_id, kind, fields, extra FROM source_records")
            )
            for source_id, record_id, kind, fields_json, extra_json in result:
                if kind in NON_PERSON_KINDS:
                    continue
                source = sources[int(source_id)]
                fields, extra = _json(fields_json), _json(extra_json)
                ids = identifiers.get((int(source_id), str(record_id)), {})
                yield _store_row(source, str(record_id), fields, extra, ids)
    finally:
        engine.dispose()


def _store_row(
    source: str,
    record_id: str,
    fields: dict[str, Any],
    extra: dict[str, Any],
    ids: dict[str, str],
) -> dict[str, Any]:
    row = _empty_row(source, record_id)
    _names(
        row,
        _text(fields.get("first_name")),
        _text(fields.get("middle_name")),
        _text(fields.get("last_name")),
        _text(fields.get("nickname")),
    )
    row["birth_date"] = _text(fields.get("birth_date"))
    email_extra = _part(extra, "email")
    row["email"] = _text(email_extra.get("match_key")) or _text(fields.get("email"))
    row["phone"] = _text(fields.get("phone"))
    row["postcode"] = _text(fields.get("postal_code"))
    row["province"] = _text(fields.get("province"))
    address = _part(extra, "address")
    house = _text(address.get("house_number"))
    if house is None:
        line = _text(fields.get("address_line1"))
        found = _HOUSE.match(line) if line else None
        house = found[1] if found else None
    if house and row["province"]:
        row["address_key"] = f"{house.lower()}|{row['province']}"
    customer = ids.get("customer_id")
    if customer:
        row["customer_id"] = f"{source}:{customer}"
    if ids.get("line_user_id"):
        row["chat_id"] = f"line:{ids['line_user_id']}"
    elif ids.get("zalo_user_id"):
        row["chat_id"] = f"zalo:{ids['zalo_user_id']}"
    return row


def web_rows(
    path: Path, *, source: str = "web", user_is_shop_customer: bool = True
) -> Iterator[dict[str, Any]]:
    """One row per anonymousId and per userId of a Segment-style event stream."""
    from c360.standardize.email import email as std_email
    from c360.standardize.phone import phone as std_phone

    first_user: dict[str, tuple[str, str]] = {}  # anonymousId -> (timestamp, userId)
    user_ids: set[str] = set()
    identities: dict[str, None] = {}  # every id, in order of first appearance
    traits: dict[str, dict[str, Any]] = defaultdict(dict)
    with path.open("rb") as lines:
        for line in lines:
            if not line.strip():
                continue
            message = orjson.loads(line)
            anonymous, user = _text(message.get("anonymousId")), _text(message.get("userId"))
            stamp = str(message.get("timestamp") or "")
            for identity in (anonymous, user):
                if identity is not None:
                    identities.setdefault(identity)
            if user:
                user_ids.add(user)
            if anonymous and user:
                seen = first_user.get(anonymous)
                if seen is None or stamp < seen[0]:
                    first_user[anonymous] = (stamp, user)
            if message.get("type") == "identify" and isinstance(message.get("traits"), dict):
                for identity in (anonymous, user):
                    if identity is not None:
                        for name, value in message["traits"].items():
                            traits[identity].setdefault(name, value)
    for identity in identities:
        row = _empty_row(source, identity)
        if identity in first_user:  # an anonymousId: the userId it was first seen with
            row["user_id"] = first_user[identity][1]
        elif identity in user_ids:
            row["user_id"] = identity
            if user_is_shop_customer:
                row["customer_id"] = f"shop:{identity}"
        got = traits.get(identity, {})
        if got.get("email"):
            e = std_email(got["email"])
            row["email"] = e.extra.get("match_key") or e.value
        if got.get("phone"):
            row["phone"] = std_phone(got["phone"]).value
        first = _text(got.get("first_name") or got.get("firstName"))
        last = _text(got.get("last_name") or got.get("lastName"))
        if first or last:
            _names(row, first, None, last)
        yield row


def build_table(
    store_url: str, web_events: Path | None, *, web_user_is_shop_customer: bool = True
) -> FlatTable:
    # Sorted, so that row order (hence unique_id, and Splink's sampling) does not depend on
    # the store's scan order: SQLite and PostgreSQL give the same table.
    rows = sorted(store_rows(store_url), key=lambda row: (row["source"], row["record_id"]))
    if web_events is not None and web_events.exists():
        rows.extend(web_rows(web_events, user_is_shop_customer=web_user_is_shop_customer))
    for i, row in enumerate(rows):
        row["unique_id"] = i
    per_source = Counter(row["source"] for row in rows)
    filled = {c: sum(1 for row in rows if row[c] is not None) for c in COLUMNS[3:]}
    return FlatTable(rows, {"records": len(rows), "per_source": dict(per_source), "filled": filled})


# --------------------------------------------------------------------------------------------
# Splink.


@dataclass(slots=True)
class SplinkRun:
    links: dict[str, dict[Key, str]]
    """Variant -> record -> cluster id. ``splink``: the probabilistic model alone, clustered at
    the threshold; ``splink_ids``: the same predictions plus deterministic links between
    records that share a customer_id (one system's account) or a web user_id."""
    timings: dict[str, float]
    details: dict[str, Any]


def settings() -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    def same_system_id(column: str) -> Any:
        """Null unless both sides carry an id of the same system (``source:value``)."""
        return cl.CustomComparison(
            output_column_name=column,
            comparison_description=f"{column} within one source system",
            comparison_levels=[
                cll.CustomLevel(
                    f'"{column}_l" IS NULL OR "{column}_r" IS NULL OR '
                    f"split_part(\"{column}_l\", ':', 1) <> split_part(\"{column}_r\", ':', 1)",
                    label_for_charts=f"{column} missing or from different systems",
                ).configure(is_null_level=True),
                cll.ExactMatchLevel(column),
                cll.ElseLevel(),
            ],
        )

    location = cl.CustomComparison(
        output_column_name="location",
        comparison_description="postcode, else province",
        comparison_levels=[
            cll.CustomLevel(
                '("postcode_l" IS NULL OR "postcode_r" IS NULL) AND '
                '("province_l" IS NULL OR "province_r" IS NULL)',
                label_for_charts="postcode and province missing",
            ).configure(is_null_level=True),
            cll.ExactMatchLevel("postcode").configure(label_for_charts="postcode equal"),
            cll.ExactMatchLevel("province").configure(label_for_charts="province equal"),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("first_name", dmeta_col_name="first_name_keys").configure(
                term_frequency_adjustments=True
            ),
            cl.NameComparison("surname", dmeta_col_name="surname_keys").configure(
                term_frequency_adjustments=True
            ),
            cl.DateOfBirthComparison(
                "birth_date", input_is_string=True, datetime_format="%Y-%m-%d"
            ),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
            location,
            cl.ExactMatch("address_key").configure(term_frequency_adjustments=True),
            same_system_id("customer_id"),
            cl.ExactMatch("user_id"),
            cl.ExactMatch("chat_id"),
        ],
        blocking_rules_to_generate_predictions=prediction_rules(block_on),
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def prediction_rules(block_on: Callable[..., Any]) -> list[Any]:
    return [
        block_on("phone"),
        block_on("email"),
        block_on("customer_id"),
        block_on("user_id"),
        block_on("chat_id"),
        block_on("name_key"),
        block_on("first_key", "surname_key"),
        block_on("first_key", "birth_date"),
        block_on("surname_key", "birth_date"),
        block_on("first_key", "postcode"),
        block_on("surname_key", "postcode"),
        block_on("first_key", "address_key"),
    ]


def deterministic_rules(block_on: Callable[..., Any]) -> list[Any]:
    return [
        block_on("customer_id"),
        block_on("user_id"),
        block_on("email", "first_key"),
        block_on("phone", "first_key", "surname_key"),
        block_on("first_key", "surname_key", "birth_date"),
    ]


def training_rules(block_on: Callable[..., Any]) -> list[Any]:
    return [block_on("phone"), block_on("email"), block_on("first_name", "surname")]


def run_splink(
    table: FlatTable,
    *,
    cluster_threshold: float = CLUSTER_THRESHOLD,
    predict_threshold: float = PREDICT_THRESHOLD,
    prior_recall: float = PRIOR_RECALL,
    u_max_pairs: float = U_MAX_PAIRS,
    seed: int = SEED,
    model_path: Path | None = None,
    log: Callable[[str], None] = lambda _: None,
    splink_log_level: int = logging.WARNING,
) -> SplinkRun:
    import pyarrow as pa  # type: ignore[import-untyped]
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    def column_type(name: str) -> Any:
        if name == "unique_id":
            return pa.int64()
        return pa.list_(pa.string()) if name.endswith("_keys") else pa.string()

    schema = pa.schema([(c, column_type(c)) for c in COLUMNS])
    arrow = pa.Table.from_pylist(table.rows, schema=schema)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    db_api = DuckDBAPI()
    records = db_api.register(arrow, dataset_display_name="records")
    linker = Linker(records, settings(), log_level=splink_log_level)

    log(f"splink: prior from deterministic rules (recall {prior_recall})")
    linker.training.estimate_probability_two_random_records_match(
        deterministic_rules(block_on), recall=prior_recall
    )
    log(f"splink: u by random sampling (max_pairs {u_max_pairs:.0e}, seed {seed})")
    linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
    for rule in training_rules(block_on):
        sql = rule.get_blocking_rule("duckdb").blocking_rule_sql
        log(f"splink: m by expectation maximisation, blocked on {sql}")
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    timings["train_s"] = time.perf_counter() - started

    log(f"splink: predict (threshold_match_probability {predict_threshold})")
    mark = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=predict_threshold)
    timings["predict_s"] = time.perf_counter() - mark

    log(f"splink: cluster_pairwise_predictions_at_threshold({cluster_threshold})")
    mark = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=cluster_threshold
    )
    probabilistic = clusters.as_duckdbpyrelation().select("unique_id, cluster_id").fetchall()
    timings["cluster_s"] = time.perf_counter() - mark
    timings["total_s"] = time.perf_counter() - started

    log("splink + ID rules: deterministic_link on customer_id and user_id, then clustering")
    mark = time.perf_counter()
    id_rules = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=[block_on("customer_id"), block_on("user_id")],
    )
    deterministic = Linker(records, id_rules, log_level=splink_log_level)
    id_pairs = deterministic.inference.deterministic_link()
    edges = pa.concat_tables(
        [
            predictions.as_pyarrow_table().select(  # type: ignore[no-untyped-call]
                ["unique_id_l", "unique_id_r", "match_probability"]
            ),
            id_pairs.as_pyarrow_table()  # type: ignore[no-untyped-call]
            .select(["unique_id_l", "unique_id_r"])
            .append_column(
                "match_probability", pa.array([1.0] * id_pairs_count(id_pairs), pa.float64())
            ),
        ],
        promote_options="permissive",
    )
    nodes = arrow.select(["unique_id"])
    hybrid_clusters = cluster_pairwise_predictions_at_threshold(
        nodes,
        edges,
        db_api=db_api,
        node_id_column_name="unique_id",
        threshold_match_probability=cluster_threshold,
    )
    hybrid = hybrid_clusters.as_duckdbpyrelation().select("unique_id, cluster_id").fetchall()
    timings["id_rules_s"] = time.perf_counter() - mark
    timings["total_with_id_rules_s"] = timings["total_s"] + timings["id_rules_s"]

    keys = table.keys()
    [(pair_count, above)] = (
        predictions.as_duckdbpyrelation()
        .aggregate(f"count(*), count(*) FILTER (WHERE match_probability >= {cluster_threshold})")
        .fetchall()
    )
    model = linker.misc.save_model_to_json(
        str(model_path) if model_path is not None else None, overwrite=True
    )
    details = {
        "probability_two_random_records_match": model.get("probability_two_random_records_match"),
        "pairs_scored_above_predict_threshold": int(pair_count),
        "pairs_at_or_above_cluster_threshold": int(above),
        "id_rule_pairs": id_pairs_count(id_pairs),
        "cluster_threshold": cluster_threshold,
        "predict_threshold": predict_threshold,
        "prior_recall": prior_recall,
        "u_max_pairs": u_max_pairs,
        "seed": seed,
        "match_weights": match_weights(model),
    }
    return SplinkRun(
        links={
            "splink": {keys[int(uid)]: str(cluster) for uid, cluster in probabilistic},
            "splink_ids": {keys[int(uid)]: str(cluster) for uid, cluster in hybrid},
        },
        timings=timings,
        details=details,
    )


def id_pairs_count(pairs: Any) -> int:
    [(count,)] = pairs.as_duckdbpyrelation().aggregate("count(*)").fetchall()
    return int(count)


def match_weights(model: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Comparison -> level label -> trained match weight (log2 m/u), for the report."""
    out: dict[str, dict[str, float | None]] = {}
    for comparison in model.get("comparisons", []):
        levels: dict[str, float | None] = {}
        for level in comparison.get("comparison_levels", []):
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = math.log2(m / u) if m and u else None
            levels[str(level.get("label_for_charts", level.get("sql_condition")))] = (
                round(weight, 2) if weight is not None else None
            )
        out[str(comparison.get("output_column_name"))] = levels
    return out
