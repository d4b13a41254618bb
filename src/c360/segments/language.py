"""The segment condition language: a readable text form and an equivalent JSON form.

Both forms parse into the same tree of frozen pydantic models (:data:`Condition`);
:func:`to_text` and :func:`to_json` write it back, so ``parse(to_text(c)) == c`` and
``from_json(to_json(c)) == c`` for every condition. The text of a condition is canonical
once written by :func:`to_text` (one space between words, ``(`` around every ``and``/``or``
inside another one, singular units for 1).

A condition is data: it names traits, events, properties, segments and consent purposes, and
holds literals. Nothing in it is ever looked up as a Python attribute, evaluated, imported,
opened or fetched; the evaluators (:mod:`c360.segments.evaluate`, :mod:`c360.segments.sql`)
only read the values it holds, and literals reach SQL as bound parameters.

Text form (``docs/segments.md`` has the full reference)::

    country = "TH" and lifetime_value >= 20000
    province in ["Bangkok", "Chiang Mai"] or email exists
    city = "ha noi" ignoring case and accents
    signed_up_at within last 6 months and not last_purchase_at before 2026-01-01
    birth_date anniversary within next 7 days
    did "Product Added" where category = "shoes" at least 1 times in last 1 day
        and not did "Order Completed" in last 1 day
    did "Order Completed" with sum of revenue >= 1000 in last 90 days
    did "Product Viewed" then "Product Added" within 2 hours
    in segment "vip" and consented to "marketing" via "line"
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from c360.errors import InvalidInput

MAX_TEXT_CHARS = 20_000
MAX_DEPTH = 32
MAX_LIST_ITEMS = 1_000
MAX_NAME_CHARS = 200
MAX_STRING_CHARS = 1_000

Unit = Literal["minutes", "hours", "days", "weeks", "months", "years"]
Fold = Literal["case", "accents", "case_accents"]
CompareOp = Literal["=", "!=", "<", "<=", ">", ">="]
Scalar = StrictBool | StrictInt | float | str

_NAME = re.compile(r"^[^\W\d]\w*(\.[^\W\d]\w*)*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$")
_WORDS = frozenset(
    [
        "and",
        "or",
        "not",
        "in",
        "segment",
        "did",
        "then",
        "within",
        "where",
        "at",
        "least",
        "most",
        "exactly",
        "times",
        "with",
        "sum",
        "average",
        "min",
        "max",
        "of",
        "last",
        "next",
        "before",
        "after",
        "anniversary",
        "exists",
        "contains",
        "starts",
        "ends",
        "consented",
        "to",
        "via",
        "ignoring",
        "case",
        "accents",
        "true",
        "false",
        "ever",
    ]
)


class ConditionError(InvalidInput):
    """A condition that cannot be read, with where (line and column) and what to do."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(f"{where}{message}")
        self.line = line
        self.column = column
        self.reason = message


class _Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_name(value: str) -> str:
    if len(value) > MAX_NAME_CHARS or not _NAME.match(value) or value.split(".")[0] in _WORDS:
        raise ValueError(
            f"{value!r} is not a name: use letters, digits and _ (not first), parts joined by "
            f"dots, at most {MAX_NAME_CHARS} characters, and not a word of the language"
        )
    return value


def _check_text(value: str) -> str:
    if len(value) > MAX_STRING_CHARS:
        raise ValueError(f"text longer than {MAX_STRING_CHARS} characters")
    if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValueError("text may not hold NUL characters or lone surrogates")
    return value


def _check_scalar(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    if isinstance(value, str):
        _check_text(value)
    return value


class Span(_Node):
    """A length of time: ``6 months``, ``1 day``."""

    n: Annotated[StrictInt, Field(ge=1, le=100_000)]
    unit: Unit


# --- tests on a value (a trait, or an event property) --------------------------------------


class Compare(_Node):
    type: Literal["compare"] = "compare"
    path: str
    op: CompareOp
    value: Scalar
    fold: Fold | None = None

    _name = field_validator("path")(_check_name)
    _value = field_validator("value")(_check_scalar)

    @model_validator(mode="after")
    def _fold_needs_text(self) -> Compare:
        if self.fold is not None and not isinstance(self.value, str):
            raise ValueError("'ignoring case/accents' applies to text values only")
        if isinstance(self.value, bool) and self.op not in ("=", "!="):
            raise ValueError("true and false compare with = or != only")
        return self


class OneOf(_Node):
    type: Literal["in"] = "in"
    path: str
    values: Annotated[tuple[Scalar, ...], Field(min_length=1, max_length=MAX_LIST_ITEMS)]
    fold: Fold | None = None

    _name = field_validator("path")(_check_name)

    @field_validator("values")
    @classmethod
    def _values(cls, values: tuple[Any, ...]) -> tuple[Any, ...]:
        for value in values:
            _check_scalar(value)
        return values


class Exists(_Node):
    type: Literal["exists"] = "exists"
    path: str

    _name = field_validator("path")(_check_name)


class TextMatch(_Node):
    type: Literal["text"] = "text"
    path: str
    op: Literal["contains", "starts_with", "ends_with"]
    value: str
    fold: Fold | None = None

    _name = field_validator("path")(_check_name)
    _value = field_validator("value")(_check_text)


class ValueAnd(_Node):
    type: Literal["and"] = "and"
    of: Annotated[tuple[ValueCondition, ...], Field(min_length=2, max_length=MAX_LIST_ITEMS)]


class ValueOr(_Node):
    type: Literal["or"] = "or"
    of: Annotated[tuple[ValueCondition, ...], Field(min_length=2, max_length=MAX_LIST_ITEMS)]


class ValueNot(_Node):
    type: Literal["not"] = "not"
    of: ValueCondition


ValueCondition = Annotated[
    Compare | OneOf | Exists | TextMatch | ValueAnd | ValueOr | ValueNot,
    Field(discriminator="type"),
]
"""A test of event properties (``where``): comparisons joined by and/or/not."""


# --- tests on a profile -------------------------------------------------------------------


class TimeTest(_Node):
    """``signed_up_at within last 6 months``, ``last_purchase_at before 2026-01-01``."""

    type: Literal["time"] = "time"
    path: str
    op: Literal["within_last", "within_next", "before", "after"]
    span: Span | None = None
    at: str | None = None

    _name = field_validator("path")(_check_name)

    @model_validator(mode="after")
    def _operand(self) -> TimeTest:
        relative = self.op in ("within_last", "within_next")
        if relative and (self.span is None or self.at is not None):
            raise ValueError(f"{self.op} takes a span (n and unit), not a date")
        if not relative:
            if self.at is None or self.span is not None:
                raise ValueError(f"{self.op} takes a date ('at'), not a span")
            _check_date(self.at)
        return self


class Anniversary(_Node):
    """``birth_date anniversary within next 7 days`` (today counts; in the segment's zone)."""

    type: Literal["anniversary"] = "anniversary"
    path: str
    span: Span

    _name = field_validator("path")(_check_name)

    @field_validator("span")
    @classmethod
    def _days(cls, span: Span) -> Span:
        if (
            span.unit not in ("days", "weeks")
            or (span.n * (7 if span.unit == "weeks" else 1)) > 366
        ):
            raise ValueError("an anniversary window is counted in days or weeks, up to a year")
        return span


class Count(_Node):
    op: Literal[">=", "<=", "="]
    n: Annotated[StrictInt, Field(ge=0, le=1_000_000_000)]


class Aggregate(_Node):
    fn: Literal["sum", "average", "min", "max"]
    path: str
    op: CompareOp
    value: StrictInt | float

    _name = field_validator("path")(_check_name)
    _value = field_validator("value")(_check_scalar)


class Did(_Node):
    """``did "Product Added" where category = "shoes" at least 2 times in last 7 days``."""

    type: Literal["did"] = "did"
    event: str
    where: ValueCondition | None = None
    count: Count | None = None
    aggregate: Aggregate | None = None
    window: Span | None = None

    _event = field_validator("event")(_check_text)

    @model_validator(mode="after")
    def _one_measure(self) -> Did:
        if self.count is not None and self.aggregate is not None:
            raise ValueError("give a count or an aggregate, not both")
        return self


class Step(_Node):
    event: str
    where: ValueCondition | None = None

    _event = field_validator("event")(_check_text)


class Sequence(_Node):
    """``did "Product Viewed" then "Product Added" within 2 hours [in last 7 days]``."""

    type: Literal["sequence"] = "sequence"
    first: Step
    then: Step
    within: Span
    window: Span | None = None


class InSegment(_Node):
    type: Literal["in_segment"] = "in_segment"
    segment: str

    _segment = field_validator("segment")(_check_text)


class Consented(_Node):
    type: Literal["consent"] = "consent"
    purpose: str
    channel: str | None = None

    _purpose = field_validator("purpose")(_check_text)

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        return None if value is None else _check_text(value)


class And(_Node):
    type: Literal["and"] = "and"
    of: Annotated[tuple[Condition, ...], Field(min_length=2, max_length=MAX_LIST_ITEMS)]


class Or(_Node):
    type: Literal["or"] = "or"
    of: Annotated[tuple[Condition, ...], Field(min_length=2, max_length=MAX_LIST_ITEMS)]


class Not(_Node):
    type: Literal["not"] = "not"
    of: Condition


Condition = Annotated[
    Compare
    | OneOf
    | Exists
    | TextMatch
    | TimeTest
    | Anniversary
    | Did
    | Sequence
    | InSegment
    | Consented
    | And
    | Or
    | Not,
    Field(discriminator="type"),
]

ValueAnd.model_rebuild()
ValueOr.model_rebuild()
ValueNot.model_rebuild()
Did.model_rebuild()
Step.model_rebuild()
And.model_rebuild()
Or.model_rebuild()
Not.model_rebuild()

_ADAPTER: Any = None


def _adapter() -> Any:
    global _ADAPTER
    if _ADAPTER is None:
        from pydantic import TypeAdapter

        _ADAPTER = TypeAdapter(Condition)
    return _ADAPTER


def _check_date(value: str) -> None:
    if not _DATE.match(value):
        raise ValueError(f"{value!r} is not a date: write 2026-01-01 or 2026-01-01T09:30:00+07:00")
    try:
        if "T" in value:
            datetime.fromisoformat(value)
        else:
            date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a real date ({exc})") from None


# --- the text form ------------------------------------------------------------------------

_GRAMMAR = r"""
?start: condition

?condition: disjunction
?disjunction: conjunction (_OR conjunction)*        -> or_
?conjunction: negation (_AND negation)*             -> and_
?negation: _NOT negation                            -> not_
         | primary
?primary: "(" condition ")"
        | test
        | did
        | sequence
        | _IN _SEGMENT STRING                       -> in_segment
        | _CONSENTED _TO STRING (_VIA STRING)?      -> consented

test: NAME _test_op
_test_op: compare | one_of | exists | text | time | anniversary
compare: COMPARE_OP literal fold?
one_of: _IN "[" literal ("," literal)* ","? "]" fold?
exists: _EXISTS
text: TEXT_OP STRING fold?
time: _WITHIN DIRECTION span                         -> time_relative
    | BEFORE_AFTER DATE                              -> time_absolute
anniversary: _ANNIVERSARY _WITHIN _NEXT span
fold: _IGNORING FOLD_WHAT

did: _DID STRING where? measure? window?
where: _WHERE value_primary
measure: _AT _LEAST INT _TIMES                       -> at_least
       | _AT _MOST INT _TIMES                        -> at_most
       | _EXACTLY INT _TIMES                         -> exactly
       | _WITH AGG_FN _OF NAME COMPARE_OP number     -> aggregate
window: _IN _LAST span
sequence: _DID STRING where? _THEN STRING where? _WITHIN span window?

?value_condition: value_disjunction
?value_disjunction: value_conjunction (_OR value_conjunction)*   -> or_
?value_conjunction: value_negation (_AND value_negation)*       -> and_
?value_negation: _NOT value_negation                             -> not_
               | value_primary
?value_primary: "(" value_condition ")"
              | test

span: INT UNIT
?literal: STRING -> string
        | number
        | TRUE -> true
        | FALSE -> false
?number: SIGNED_NUMBER -> number

_OR.2: /or\b/
_AND.2: /and\b/
_NOT.2: /not\b/
_IN.2: /in\b/
_SEGMENT.2: /segment\b/
_CONSENTED.2: /consented\b/
_TO.2: /to\b/
_VIA.2: /via\b/
_EXISTS.2: /exists\b/
_WITHIN.2: /within\b/
_ANNIVERSARY.2: /anniversary\b/
_NEXT.2: /next\b/
_LAST.2: /last\b/
_IGNORING.2: /ignoring\b/
_DID.2: /did\b/
_WHERE.2: /where\b/
_AT.2: /at\b/
_LEAST.2: /least\b/
_MOST.2: /most\b/
_EXACTLY.2: /exactly\b/
_TIMES.2: /times?\b/
_WITH.2: /with\b/
_OF.2: /of\b/
_THEN.2: /then\b/
TRUE.2: /true\b/
FALSE.2: /false\b/
DIRECTION.2: /(last|next)\b/
BEFORE_AFTER.2: /(before|after)\b/
TEXT_OP.2: /(contains|starts with|ends with)\b/
FOLD_WHAT.3: /(case\s+and\s+accents|accents\s+and\s+case|case|accents)\b/
AGG_FN.2: /(sum|average|min|max)\b/
UNIT.2: /(minutes?|hours?|days?|weeks?|months?|years?)\b/
COMPARE_OP: "!=" | ">=" | "<=" | "=" | ">" | "<"
DATE.3: /\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?/
NAME: /[^\W\d]\w*(\.[^\W\d]\w*)*/
INT: /\d+/
SIGNED_NUMBER: /-?\d+(\.\d+)?([eE][+-]?\d+)?/
STRING: /"(\\.|[^"\\\n])*"/

%import common.WS
%ignore WS
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)

_EXPECTED_WORDS = {
    "STRING": 'a "quoted text"',
    "NAME": "a trait name",
    "COMPARE_OP": "=, !=, <, <=, > or >=",
    "SIGNED_NUMBER": "a number",
    "INT": "a whole number",
    "UNIT": "a unit (minutes, hours, days, weeks, months, years)",
    "DATE": "a date like 2026-01-01",
    "RPAR": ")",
    "LPAR": "(",
    "RSQB": "]",
    "LSQB": "[",
    "COMMA": ",",
    "$END": "the end",
    "DIRECTION": "last or next",
    "BEFORE_AFTER": "before or after",
    "TEXT_OP": "contains, starts with or ends with",
    "FOLD_WHAT": "case, accents, or case and accents",
    "AGG_FN": "sum, average, min or max",
}


def _unit(token: str) -> str:
    return token if token.endswith("s") else token + "s"


def _string(token: Token) -> str:
    try:
        value = json.loads(str(token))
    except json.JSONDecodeError:
        raise ConditionError(
            'this text has an escape JSON does not know (use \\" \\\\ \\n \\t or \\uXXXX)',
            token.line,
            token.column,
        ) from None
    assert isinstance(value, str)
    return value


@v_args(inline=True)
class _Build(Transformer[Token, Any]):
    def string(self, token: Token) -> str:
        return _string(token)

    def number(self, token: Token) -> int | float:
        text = str(token)
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        value = float(text)
        if not math.isfinite(value):
            raise ConditionError("this number is too large", token.line, token.column)
        return value

    def true(self, _token: Token) -> bool:
        return True

    def false(self, _token: Token) -> bool:
        return False

    def span(self, n: Token, unit: Token) -> dict[str, Any]:
        return {"n": int(n), "unit": _unit(str(unit))}

    def fold(self, what: Token) -> tuple[str, str]:
        words = set(str(what).split()) - {"and"}
        return ("fold", "case_accents" if len(words) == 2 else words.pop())

    def compare(self, op: Token, value: Any, fold: Any = None) -> dict[str, Any]:
        out = {"type": "compare", "op": str(op), "value": value}
        return _with_fold(out, fold)

    def one_of(self, *items: Any) -> dict[str, Any]:
        fold = None
        if items and isinstance(items[-1], tuple) and items[-1][:1] == ("fold",):
            fold, items = items[-1], items[:-1]
        return _with_fold({"type": "in", "values": list(items)}, fold)

    def exists(self) -> dict[str, Any]:
        return {"type": "exists"}

    def text(self, op: Token, value: Token, fold: Any = None) -> dict[str, Any]:
        name = str(op).replace(" ", "_")
        return _with_fold({"type": "text", "op": name, "value": _string(value)}, fold)

    def time_relative(self, direction: Token, span: dict[str, Any]) -> dict[str, Any]:
        return {"type": "time", "op": f"within_{direction}", "span": span}

    def time_absolute(self, op: Token, at: Token) -> dict[str, Any]:
        return {"type": "time", "op": str(op), "at": str(at)}

    def anniversary(self, span: dict[str, Any]) -> dict[str, Any]:
        return {"type": "anniversary", "span": span}

    def test(self, name: Token, body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "path": str(name)}

    def where(self, condition: Any) -> tuple[str, Any]:
        return ("where", condition)

    def at_least(self, n: Token) -> tuple[str, Any]:
        return ("count", {"op": ">=", "n": int(n)})

    def at_most(self, n: Token) -> tuple[str, Any]:
        return ("count", {"op": "<=", "n": int(n)})

    def exactly(self, n: Token) -> tuple[str, Any]:
        return ("count", {"op": "=", "n": int(n)})

    def aggregate(self, fn: Token, path: Token, op: Token, value: Any) -> tuple[str, Any]:
        return ("aggregate", {"fn": str(fn), "path": str(path), "op": str(op), "value": value})

    def window(self, span: dict[str, Any]) -> tuple[str, Any]:
        return ("window", span)

    def did(self, event: Token, *parts: tuple[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "did", "event": _string(event)}
        for key, value in parts:
            out["count" if key == "count" else key] = value
        return out

    def sequence(self, *items: Any) -> dict[str, Any]:
        steps: list[dict[str, Any]] = []
        out: dict[str, Any] = {"type": "sequence"}
        for item in items:
            if isinstance(item, Token) and item.type == "STRING":
                steps.append({"event": _string(item)})
            elif isinstance(item, tuple) and item[0] == "where":
                steps[-1]["where"] = item[1]
            elif isinstance(item, tuple) and item[0] == "window":
                out["window"] = item[1]
            else:
                out["within"] = item
        out["first"], out["then"] = steps
        return out

    def in_segment(self, name: Token) -> dict[str, Any]:
        return {"type": "in_segment", "segment": _string(name)}

    def consented(self, purpose: Token, channel: Token | None = None) -> dict[str, Any]:
        out = {"type": "consent", "purpose": _string(purpose)}
        if channel is not None:
            out["channel"] = _string(channel)
        return out

    def or_(self, *items: Any) -> Any:
        return items[0] if len(items) == 1 else {"type": "or", "of": list(items)}

    def and_(self, *items: Any) -> Any:
        return items[0] if len(items) == 1 else {"type": "and", "of": list(items)}

    def not_(self, item: Any) -> dict[str, Any]:
        return {"type": "not", "of": item}


def _with_fold(out: dict[str, Any], fold: Any) -> dict[str, Any]:
    if fold is not None:
        out["fold"] = fold[1]
    return out


def parse(text: str) -> Condition:
    """Read a condition's text form; a mistake raises :class:`ConditionError` with its line
    and column."""
    if not isinstance(text, str):
        raise ConditionError("a condition is text")
    if len(text) > MAX_TEXT_CHARS:
        raise ConditionError(f"a condition is at most {MAX_TEXT_CHARS} characters")
    if not text.strip():
        raise ConditionError('the condition is empty: write a test such as country = "TH"')
    _check_nesting(text)
    try:
        tree = _PARSER.parse(text)
        data = _Build().transform(tree)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, ConditionError):
            raise exc.orig_exc from None
        raise ConditionError(str(exc.orig_exc)) from None
    except RecursionError:
        raise ConditionError(f"conditions nest at most {MAX_DEPTH} deep") from None
    return _validated(data, text)


def _check_nesting(text: str) -> None:
    depth = 0
    in_string = escaped = False
    line, column = 1, 0
    for char in text:
        column += 1
        if char == "\n":
            line, column = line + 1, 0
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "([":
            depth += 1
            if depth > MAX_DEPTH:
                raise ConditionError(f"brackets nest at most {MAX_DEPTH} deep", line, column)
        elif char in ")]":
            depth -= 1


def _syntax_error(text: str, exc: UnexpectedInput) -> ConditionError:
    line, column = exc.line, exc.column
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        char = text[pos] if pos < len(text) else ""
        if char == "'":
            return ConditionError('write text in double quotes: "like this"', line, column)
        return ConditionError(f"unexpected character {char!r}", line, column)
    expected = sorted(
        {_EXPECTED_WORDS.get(name, name.strip("_").lower()) for name in exc.expected}
        if isinstance(exc, UnexpectedToken | UnexpectedEOF)
        else set()
    )
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        where = _end_position(text)
        return ConditionError(
            f"the condition ends too early; expected {_listing(expected)}", *where
        )
    assert isinstance(exc, UnexpectedToken)
    return ConditionError(
        f"unexpected {str(exc.token)!r}; expected {_listing(expected)}", line, column
    )


def _end_position(text: str) -> tuple[int, int]:
    stripped = text.rstrip()
    line = stripped.count("\n") + 1
    return line, len(stripped) - (stripped.rfind("\n") + 1) + 1


def _listing(items: list[str]) -> str:
    if len(items) > 8:
        items = [*items[:8], "..."]
    return ", ".join(items) if items else "something else"


def _validated(data: Any, text: str | None = None) -> Condition:
    try:
        condition: Condition = _adapter().validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if text is not None:
            raise ConditionError(message) from None
        raise ConditionError(f"{place}: {message}") from None
    return condition


# --- the JSON form ------------------------------------------------------------------------


def from_json(data: Any) -> Condition:
    """Read a condition's JSON form (a dict as :func:`to_json` writes it)."""
    if not isinstance(data, dict):
        raise ConditionError('a condition in JSON is an object with a "type"')
    _check_json_depth(data)
    return _validated(data)


def _check_json_depth(data: Any) -> None:
    stack: list[tuple[Any, int]] = [(data, 0)]
    count = 0
    while stack:
        item, depth = stack.pop()
        count += 1
        if depth > 3 * MAX_DEPTH or count > 50_000:
            raise ConditionError(f"conditions nest at most {MAX_DEPTH} deep")
        if isinstance(item, dict):
            stack.extend((value, depth + 1) for value in item.values())
        elif isinstance(item, list):
            stack.extend((value, depth + 1) for value in item)


def to_json(condition: Condition) -> dict[str, Any]:
    """The JSON form: plain dicts and lists, defaults left out."""
    data: dict[str, Any] = condition.model_dump(mode="json", exclude_none=True)
    return data


# --- writing the text form ----------------------------------------------------------------


def to_text(condition: Condition) -> str:
    """The canonical text form."""
    return _text(condition)


def _text(node: Any) -> str:
    if isinstance(node, And | ValueAnd):
        return " and ".join(_child(c) for c in node.of)
    if isinstance(node, Or | ValueOr):
        return " or ".join(_child(c) for c in node.of)
    if isinstance(node, Not | ValueNot):
        return "not " + _child(node.of)
    if isinstance(node, Compare):
        return f"{node.path} {node.op} {_literal(node.value)}{_fold(node.fold)}"
    if isinstance(node, OneOf):
        values = ", ".join(_literal(v) for v in node.values)
        return f"{node.path} in [{values}]{_fold(node.fold)}"
    if isinstance(node, Exists):
        return f"{node.path} exists"
    if isinstance(node, TextMatch):
        op = node.op.replace("_", " ")
        return f"{node.path} {op} {_quoted(node.value)}{_fold(node.fold)}"
    if isinstance(node, TimeTest):
        if node.span is not None:
            direction = node.op.removeprefix("within_")
            return f"{node.path} within {direction} {_span(node.span)}"
        return f"{node.path} {node.op} {node.at}"
    if isinstance(node, Anniversary):
        return f"{node.path} anniversary within next {_span(node.span)}"
    if isinstance(node, Did):
        parts = [f"did {_quoted(node.event)}"]
        if node.where is not None:
            parts.append(f"where {_where(node.where)}")
        if node.count is not None:
            word = {">=": "at least", "<=": "at most", "=": "exactly"}[node.count.op]
            parts.append(f"{word} {node.count.n} {'time' if node.count.n == 1 else 'times'}")
        if node.aggregate is not None:
            agg = node.aggregate
            parts.append(f"with {agg.fn} of {agg.path} {agg.op} {_literal(agg.value)}")
        if node.window is not None:
            parts.append(f"in last {_span(node.window)}")
        return " ".join(parts)
    if isinstance(node, Sequence):
        parts = [f"did {_quoted(node.first.event)}"]
        if node.first.where is not None:
            parts.append(f"where {_where(node.first.where)}")
        parts.append(f"then {_quoted(node.then.event)}")
        if node.then.where is not None:
            parts.append(f"where {_where(node.then.where)}")
        parts.append(f"within {_span(node.within)}")
        if node.window is not None:
            parts.append(f"in last {_span(node.window)}")
        return " ".join(parts)
    if isinstance(node, InSegment):
        return f"in segment {_quoted(node.segment)}"
    if isinstance(node, Consented):
        via = f" via {_quoted(node.channel)}" if node.channel is not None else ""
        return f"consented to {_quoted(node.purpose)}{via}"
    raise TypeError(f"not a condition: {type(node).__name__}")


def _child(node: Any) -> str:
    if isinstance(node, And | Or | ValueAnd | ValueOr):
        return f"({_text(node)})"
    return _text(node)


def _where(node: Any) -> str:
    # a where clause holds one test, or brackets around several
    if isinstance(node, Compare | OneOf | Exists | TextMatch):
        return _text(node)
    return f"({_text(node)})"


def _span(span: Span) -> str:
    unit = span.unit[:-1] if span.n == 1 else span.unit
    return f"{span.n} {unit}"


def _fold(fold: str | None) -> str:
    if fold is None:
        return ""
    return (
        " ignoring "
        + {"case": "case", "accents": "accents", "case_accents": "case and accents"}[fold]
    )


def _quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


# --- what a condition refers to -----------------------------------------------------------


def walk(condition: Any) -> list[Any]:
    """Every node of ``condition`` (depth first, the root first)."""
    out: list[Any] = []
    stack = [condition]
    while stack:
        node = stack.pop()
        out.append(node)
        if isinstance(node, And | Or | ValueAnd | ValueOr):
            stack.extend(reversed(node.of))
        elif isinstance(node, Not | ValueNot):
            stack.append(node.of)
        elif isinstance(node, Did) and node.where is not None:
            stack.append(node.where)
        elif isinstance(node, Sequence):
            stack.extend(s.where for s in (node.then, node.first) if s.where is not None)
    return out


def segments_named(condition: Condition) -> set[str]:
    """The segments ``condition`` depends on (``in segment "..."``)."""
    return {n.segment for n in walk(condition) if isinstance(n, InSegment)}


def purposes_named(condition: Condition) -> set[str]:
    """The consent purposes ``condition`` asks about (``consented to "..."``)."""
    return {n.purpose for n in walk(condition) if isinstance(n, Consented)}


def depends_on_time(condition: Condition) -> bool:
    """Whether the answer can change with time alone (a window, a relative date)."""
    for node in walk(condition):
        if isinstance(node, Anniversary | Sequence):
            return True
        if isinstance(node, TimeTest) and node.span is not None:
            return True
        if isinstance(node, Did):
            return True  # events dated in the future count once their moment comes
    return False
