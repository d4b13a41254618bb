"""The condition language: every construct, both forms, exact round trips, clear errors, and
hostile input that never gets further than a ConditionError."""

import ast
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import c360.segments
from c360.segments import language as L
from c360.segments.language import ConditionError, from_json, parse, to_json, to_text

CONSTRUCTS = {
    'country = "TH"': {"type": "compare", "path": "country", "op": "=", "value": "TH"},
    "lifetime_value >= 20000": {
        "type": "compare",
        "path": "lifetime_value",
        "op": ">=",
        "value": 20000,
    },
    "average_order_value < 99.5": {
        "type": "compare",
        "path": "average_order_value",
        "op": "<",
        "value": 99.5,
    },
    "vip != true": {"type": "compare", "path": "vip", "op": "!=", "value": True},
    'province in ["Bangkok", "Chiang Mai"]': {
        "type": "in",
        "path": "province",
        "values": ["Bangkok", "Chiang Mai"],
    },
    "email exists": {"type": "exists", "path": "email"},
    'full_name contains "ศรี"': {
        "type": "text",
        "path": "full_name",
        "op": "contains",
        "value": "ศรี",
    },
    'last_name starts with "nguyen" ignoring case and accents': {
        "type": "text",
        "path": "last_name",
        "op": "starts_with",
        "value": "nguyen",
        "fold": "case_accents",
    },
    'email ends with "@gmail.com" ignoring case': {
        "type": "text",
        "path": "email",
        "op": "ends_with",
        "value": "@gmail.com",
        "fold": "case",
    },
    'city = "Da Nang" ignoring accents': {
        "type": "compare",
        "path": "city",
        "op": "=",
        "value": "Da Nang",
        "fold": "accents",
    },
    'rfm.label = "Champions"': {
        "type": "compare",
        "path": "rfm.label",
        "op": "=",
        "value": "Champions",
    },
    "signed_up_at within last 6 months": {
        "type": "time",
        "path": "signed_up_at",
        "op": "within_last",
        "span": {"n": 6, "unit": "months"},
    },
    "renewal_at within next 1 week": {
        "type": "time",
        "path": "renewal_at",
        "op": "within_next",
        "span": {"n": 1, "unit": "weeks"},
    },
    "last_purchase_at before 2026-01-01": {
        "type": "time",
        "path": "last_purchase_at",
        "op": "before",
        "at": "2026-01-01",
    },
    "last_purchase_at after 2026-01-01T09:30:00+07:00": {
        "type": "time",
        "path": "last_purchase_at",
        "op": "after",
        "at": "2026-01-01T09:30:00+07:00",
    },
    "birth_date anniversary within next 7 days": {
        "type": "anniversary",
        "path": "birth_date",
        "span": {"n": 7, "unit": "days"},
    },
    'did "Product Added" at least 1 time in last 1 day': {
        "type": "did",
        "event": "Product Added",
        "count": {"op": ">=", "n": 1},
        "window": {"n": 1, "unit": "days"},
    },
    'not did "Order Completed" in last 1 day': {
        "type": "not",
        "of": {"type": "did", "event": "Order Completed", "window": {"n": 1, "unit": "days"}},
    },
    'did "Product Viewed" where category = "shoes" at most 3 times': {
        "type": "did",
        "event": "Product Viewed",
        "where": {"type": "compare", "path": "category", "op": "=", "value": "shoes"},
        "count": {"op": "<=", "n": 3},
    },
    'did "Email Opened" exactly 0 times in last 90 days': {
        "type": "did",
        "event": "Email Opened",
        "count": {"op": "=", "n": 0},
        "window": {"n": 90, "unit": "days"},
    },
    'did "Order Completed" with sum of revenue >= 1000 in last 30 days': {
        "type": "did",
        "event": "Order Completed",
        "aggregate": {"fn": "sum", "path": "revenue", "op": ">=", "value": 1000},
        "window": {"n": 30, "unit": "days"},
    },
    'did "Order Completed" with average of revenue > 500.5': {
        "type": "did",
        "event": "Order Completed",
        "aggregate": {"fn": "average", "path": "revenue", "op": ">", "value": 500.5},
    },
    'did "Product Viewed" where (price > 100 and not brand = "x") then "Product Added" '
    "within 2 hours in last 7 days": {
        "type": "sequence",
        "first": {
            "event": "Product Viewed",
            "where": {
                "type": "and",
                "of": [
                    {"type": "compare", "path": "price", "op": ">", "value": 100},
                    {
                        "type": "not",
                        "of": {"type": "compare", "path": "brand", "op": "=", "value": "x"},
                    },
                ],
            },
        },
        "then": {"event": "Product Added"},
        "within": {"n": 2, "unit": "hours"},
        "window": {"n": 7, "unit": "days"},
    },
    'in segment "vip"': {"type": "in_segment", "segment": "vip"},
    'consented to "marketing" via "line"': {
        "type": "consent",
        "purpose": "marketing",
        "channel": "line",
    },
    'consented to "analytics"': {"type": "consent", "purpose": "analytics"},
    '(country = "TH" or country = "VN") and not open_tickets > 0': {
        "type": "and",
        "of": [
            {
                "type": "or",
                "of": [
                    {"type": "compare", "path": "country", "op": "=", "value": "TH"},
                    {"type": "compare", "path": "country", "op": "=", "value": "VN"},
                ],
            },
            {
                "type": "not",
                "of": {"type": "compare", "path": "open_tickets", "op": ">", "value": 0},
            },
        ],
    },
}


@pytest.mark.parametrize("text", sorted(CONSTRUCTS))
def test_every_construct_has_one_json_form_and_round_trips(text: str) -> None:
    condition = parse(text)
    assert to_json(condition) == CONSTRUCTS[text]
    assert to_text(condition) == text
    assert from_json(CONSTRUCTS[text]) == condition
    assert parse(to_text(from_json(to_json(condition)))) == condition


def test_text_is_made_canonical() -> None:
    loose = 'did  "A"   at least 2 TIMES'.replace("TIMES", "times")
    assert to_text(parse(loose)) == 'did "A" at least 2 times'
    assert to_text(parse("x within last 1 days")) == "x within last 1 day"
    assert to_text(parse("a = 1 or b = 2 and c = 3")) == "a = 1 or (b = 2 and c = 3)"
    assert to_text(parse("((a = 1))")) == "a = 1"
    assert to_text(parse("a = 1\n  and\n  b = 2")) == "a = 1 and b = 2"


def test_and_binds_tighter_than_or_and_not_tighter_than_and() -> None:
    condition = parse("not a = 1 and b = 2 or c = 3")
    assert to_json(condition)["type"] == "or"
    first = to_json(condition)["of"][0]
    assert first["type"] == "and" and first["of"][0]["type"] == "not"


def test_escapes_and_scripts_in_strings_survive() -> None:
    condition = parse('note = "say \\"hi\\" \\u0e01 \\n done" and name = "Nguyễn Thị Ánh"')
    values = [c["value"] for c in to_json(condition)["of"]]
    assert values == ['say "hi" ก \n done', "Nguyễn Thị Ánh"]
    assert parse(to_text(condition)) == condition


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("country = ", (1, 10), "ends too early"),
        ("country = 'TH'", (1, 11), "double quotes"),
        ('country = "TH" and', (1, 19), "ends too early"),
        ("a = 1\nand b = 2 c = 3", (2, 11), "unexpected 'c'"),
        ("did Product", (1, 5), 'a "quoted text"'),
        ('__import__("os").system("id")', (1, 11), "unexpected '('"),
        ("x = 1e999", (1, 5), "too large"),
        ("x within 6 months", (1, 10), "last or next"),
        ("in segment vip", (1, 12), "quoted text"),
        ("country = TH", (1, 11), "unexpected 'TH'"),
        ('country == "TH"', (1, 10), "unexpected '='"),
        ("(" * 40 + "x = 1" + ")" * 40, (1, 33), "nest at most 32"),
    ],
)
def test_syntax_errors_point_at_line_and_column(
    text: str, where: tuple[int, int], says: str
) -> None:
    with pytest.raises(ConditionError) as caught:
        parse(text)
    assert (caught.value.line, caught.value.column) == where
    assert says in str(caught.value)
    assert str(caught.value).startswith(f"line {where[0]}, column {where[1]}: ")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("x within last 0 days", "greater than or equal to 1"),
        ("x before 2026-02-30", "not a real date"),
        ('did "x" where y within last 1 day', "does not match"),
        ("and = 1", "not a name"),
        ("flag > true", "compare with = or != only"),
        ("x = 5 ignoring case", "text values only"),
        ("birth_date anniversary within next 2 months", "days or weeks"),
        ("", "empty"),
        ("x = 1" + " or x = 1" * 3000, "at most 20000 characters"),
    ],
)
def test_meaning_errors_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ConditionError, match=says):
        parse(text)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ([], "an object"),
        ({"type": "eval", "code": "1"}, "does not match any of the expected tags"),
        ({"type": "compare", "path": "x", "op": "=", "value": "1", "extra": 1}, "extra"),
        ({"type": "compare", "path": "__class__.__init__", "op": "=", "value": 1}, None),
        ({"type": "compare", "path": "x", "op": "===", "value": 1}, "op"),
        ({"type": "compare", "path": "x", "op": "=", "value": {"a": 1}}, "value"),
        ({"type": "compare", "path": "x", "op": "=", "value": float("nan")}, "finite"),
        ({"type": "not", "of": {"type": "not", "of": {}}}, None),
    ],
)
def test_json_form_is_validated(data: object, says: str | None) -> None:
    if data == {"type": "compare", "path": "__class__.__init__", "op": "=", "value": 1}:
        # a name is only ever a key to look up in the profile's document, never an attribute
        assert from_json(data).path == "__class__.__init__"  # type: ignore[union-attr]
        return
    with pytest.raises(ConditionError) as caught:
        from_json(data)
    if says is not None:
        assert says in str(caught.value)


def test_deep_json_is_refused_without_recursion() -> None:
    data: dict[str, object] = {"type": "exists", "path": "x"}
    for _ in range(5000):
        data = {"type": "not", "of": data}
    with pytest.raises(ConditionError, match="nest"):
        from_json(data)


HOSTILE = [
    '__import__("os").system("touch /tmp/pwned")',
    "x = 1; import os",
    "{{7*7}}",
    "${jndi:ldap://evil/a}",
    "script.exec = \"Runtime.getRuntime().exec('id')\"",
    'x = "\'; DROP TABLE profiles; --"',
    "open('/etc/passwd')",
    "lambda: 0",
    "().__class__.__bases__[0].__subclasses__()",
    'x = "\\x00"',
    "\x00",
    "a" * 5000,
    "not " * 5000 + "x exists",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_only_ever_a_condition_or_an_error(text: str) -> None:
    try:
        condition = parse(text)
    except ConditionError:
        return
    # what parses is plain data: names and literals, nothing callable
    assert json.loads(json.dumps(to_json(condition))) == to_json(condition)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        condition = parse(text)
    except ConditionError:
        return
    assert parse(to_text(condition)) == condition


_TOKENS = st.sampled_from(
    [
        "x",
        "country",
        "=",
        "!=",
        ">=",
        "<",
        "in",
        "[",
        "]",
        ",",
        "(",
        ")",
        '"TH"',
        "1",
        "-2.5",
        "true",
        "and",
        "or",
        "not",
        "exists",
        "contains",
        "starts with",
        "did",
        '"A"',
        "where",
        "then",
        "within",
        "last",
        "next",
        "6",
        "months",
        "day",
        "before",
        "2026-01-01",
        "anniversary",
        "segment",
        "consented",
        "to",
        "via",
        "at",
        "least",
        "most",
        "times",
        "with",
        "sum",
        "of",
        "ignoring",
        "case",
        "accents",
        "__import__",
        "eval",
        "exec",
        ".",
        ";",
        "'",
        "$",
        "{",
        "}",
        "\\",
    ]
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(_TOKENS, max_size=25))
def test_token_soup_parses_or_fails_cleanly(tokens: list[str]) -> None:
    text = " ".join(tokens)
    try:
        condition = parse(text)
    except ConditionError as exc:
        assert exc.reason
        return
    assert parse(to_text(condition)) == condition
    assert from_json(to_json(condition)) == condition


_FORBIDDEN_NAMES = {"eval", "exec", "compile", "getattr", "setattr", "__import__", "open"}
_FORBIDDEN_METHODS = {
    "import_module",
    "system",
    "popen",
    "urlopen",
    "create_connection",
    "read_text",
    "eval",
    "exec",
}
_FORBIDDEN_MODULES = {
    "importlib",
    "subprocess",
    "socket",
    "httpx",
    "urllib",
    "requests",
    "pickle",
    "os",
    "jinja2",
    "builtins",
}


def test_the_segments_package_has_no_path_to_code_files_or_network() -> None:
    """The guarantee by construction: nothing in c360.segments evaluates, imports, opens or
    fetches anything named by a condition (or at all)."""
    package = Path(c360.segments.__file__).parent
    sources = sorted(package.glob("*.py"))
    assert len(sources) >= 5
    for source in sources:
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func, where = node.func, f"{source.name}:{node.lineno}"
                if isinstance(func, ast.Name):
                    assert func.id not in _FORBIDDEN_NAMES, f"{where} calls {func.id}"
                elif isinstance(func, ast.Attribute):
                    assert func.attr not in _FORBIDDEN_METHODS, f"{where} calls .{func.attr}"
                    # regular expressions are compiled from the package's own constants
                    owner = func.value.id if isinstance(func.value, ast.Name) else None
                    assert func.attr != "compile" or owner == "re", f"{where} calls .compile"
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                for module in names:
                    root = module.split(".")[0]
                    assert root not in _FORBIDDEN_MODULES, f"{source.name} imports {module}"


def test_walk_and_dependencies() -> None:
    condition = parse('in segment "vip" and (in segment "new" or did "A" where b exists)')
    assert L.segments_named(condition) == {"vip", "new"}
    assert L.depends_on_time(condition)
    assert not L.depends_on_time(parse('country = "TH" and in segment "vip"'))
    assert L.depends_on_time(parse("x within last 1 day"))
    assert not L.depends_on_time(parse("x before 2026-01-01"))


@pytest.mark.parametrize("literal", ['"a\\u0000b"', '"\\ud800"'])
def test_text_that_no_store_can_hold_is_refused(literal: str) -> None:
    with pytest.raises(ConditionError, match="NUL characters or lone surrogates"):
        parse(f"email = {literal}")
