"""Customer-data files read row by row, losing nothing.

Every record of a file comes out as a :class:`Row` or, when it cannot be read as one, as a
:class:`BadRow` that keeps the record's raw bytes, so the importer quarantines it and carries on:
a wrong byte, a stray quote or a short line costs that record, never the import, and never
silently changes a value.

Formats: CSV (``,`` ``;`` tab ``|``; ``.csv`` ``.tsv`` ``.txt``), JSON Lines (``.jsonl``
``.ndjson``, and ``.json`` when it holds one object per line), Parquet and Excel (``.xlsx``
``.xlsm``).

Reason codes of a BadRow:

``undecodable``     a byte of the record does not decode in the file's encoding
``malformed_csv``   broken CSV quoting: text after a closing quote, a quote never closed, a
                    field over the csv module's size limit
``field_count``     a CSV or sheet row with more fields than the header, or several short CSV
                    lines that add up to one record cut by line breaks outside quotes
``malformed_json``  a JSON Lines line that is not JSON
``not_an_object``   a JSON Lines line that is JSON but not an object

Text is decoded block by block (1 MiB, cut at a line end) and each block decoded at once; only a
block that fails is decoded again line by line, so one bad byte costs the record on its line and
the rest of the file reads at full speed. Decoded text is normalised to NFC (cp1258 writes
Vietnamese with combining marks; Macs write NFD).

CSV: the header is the first non-blank record; lines holding nothing but delimiters and
whitespace are skipped; a record short of fields gets None for the missing trailing ones; values
are str exactly as written (the standardizers trim). JSON Lines are parsed with msgspec, which
keeps integers beyond 64 bits exact where orjson turns them into floats. Sheet cells that are
empty are None, as Parquet nulls are.
"""

import codecs
import csv
import io
import json
import re
import unicodedata
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol, Self, TypeGuard

import msgspec
import orjson
from charset_normalizer import from_bytes

from c360.errors import InvalidInput

FORMATS = ("csv", "jsonl", "parquet", "xlsx")
_FORMAT_BY_SUFFIX = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}
_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}

_BLOCK_BYTES = 1 << 20
_SAMPLE_BYTES = 1 << 20
_PROBE_BYTES = 64 << 10
_SCORE_BYTES = 64 << 10
_SNIFF_CHARS = 64 << 10
_SNIFF_RECORDS = 200
_BLOCKS_KEPT = 8
_MAX_PIECES = 8
_PARQUET_BATCH_ROWS = 32_768


@dataclass(frozen=True, slots=True)
class Row:
    """One record. ``line``: CSV/JSONL the physical line it starts on, xlsx the sheet row, parquet
    the 1-based row index. ``values``: str for CSV, JSON types for JSONL, Python values (int,
    float, str, bool, datetime, date, None, ...) for Parquet and xlsx."""

    line: int
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BadRow:
    """A record that could not be read: quarantined with its raw bytes (for xlsx, which has no
    row bytes, the row's cells as a JSON array)."""

    line: int
    reason: str
    detail: str
    raw: bytes


class _Reader(Protocol):
    columns: list[str]

    def rows(self) -> Iterator[Row | BadRow]: ...

    def position(self) -> int: ...

    def close(self) -> None: ...


class SourceFile:
    """An opened source file; iterate :meth:`rows` once at a time (each call starts over)."""

    def __init__(
        self,
        *,
        path: Path,
        format: str,
        encoding: str | None,
        delimiter: str | None,
        size_bytes: int,
        reader: _Reader,
    ) -> None:
        self.path = path
        self.format = format
        self.encoding = encoding
        self.delimiter = delimiter
        self.size_bytes = size_bytes
        self._reader = reader

    @property
    def columns(self) -> list[str]:
        """The header; for JSON Lines the keys seen so far (it grows while rows are read)."""
        return self._reader.columns

    def rows(self) -> Iterator[Row | BadRow]:
        return self._reader.rows()

    def position(self) -> int:
        """Bytes consumed so far (for Parquet and xlsx a proportional estimate)."""
        return min(self._reader.position(), self.size_bytes)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_source_file(
    path: Path,
    *,
    format: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> SourceFile:
    """Open ``path`` and read its header, so a mapping can be checked before any row is read.

    The format comes from the suffix unless given. ``encoding`` and ``delimiter`` (CSV/JSONL)
    win over detection; ``sheet`` picks an xlsx sheet (the first by default).
    """
    path = Path(path)
    fmt = _choose_format(path, format)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except OSError as exc:
        raise InvalidInput(f"{path} cannot be read: {exc.strerror or exc}") from None
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file")
    reader: _Reader
    if fmt in ("parquet", "xlsx"):
        reader = _ParquetReader(path, size) if fmt == "parquet" else _XlsxReader(path, size, sheet)
        return SourceFile(
            path=path, format=fmt, encoding=None, delimiter=None, size_bytes=size, reader=reader
        )
    try:
        file = path.open("rb")
    except OSError as exc:
        raise InvalidInput(f"{path} cannot be read: {exc.strerror or exc}") from None
    try:
        sample = _read_sample(file, size)
        chosen = _check_encoding(encoding) if encoding else detect_encoding(sample)
        plan = _plan_decoding(chosen, sample)
        sep = None
        if fmt == "csv":
            if delimiter:
                sep = _check_delimiter(delimiter)
            elif path.suffix.lower() == ".tsv":
                sep = "\t"
            else:
                sep = _sniff_delimiter(plan.text(sample))
            reader = _CsvReader(path, file, plan, sep)
        else:
            if format is None and path.suffix.lower() == ".json":
                _require_json_lines(path, sample, plan)
            reader = _JsonlReader(path, file, plan, sample)
    except BaseException:
        file.close()
        raise
    return SourceFile(
        path=path, format=fmt, encoding=chosen, delimiter=sep, size_bytes=size, reader=reader
    )


def _choose_format(path: Path, given: str | None) -> str:
    if given is not None:
        fmt = given.strip().lower()
        if fmt not in FORMATS:
            raise InvalidInput(
                f"{path}: unknown format {given!r}; the formats accepted are {', '.join(FORMATS)}"
            )
        return fmt
    fmt_or_none = _FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if fmt_or_none is None:
        suffixes = " ".join(sorted(_FORMAT_BY_SUFFIX))
        raise InvalidInput(
            f"{path}: cannot tell the format from the suffix {path.suffix or '(none)'!r}; files "
            f"accepted are {suffixes} (CSV, JSON Lines, Parquet, Excel), or give the format"
        )
    return fmt_or_none


# --- encodings ---------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_THAI_LETTER = re.compile("[\u0e01-\u0e5b]")
# Above/below vowels and tone marks sit on a consonant (or on another such mark), and leading
# vowels stand before a consonant: Vietnamese or Latin bytes read as cp874 break both rules.
_THAI_MISPLACED_MARK = re.compile(
    "(?<![\u0e01-\u0e3a\u0e47-\u0e4e])[\u0e31\u0e34-\u0e3a\u0e47-\u0e4e]"
)
_THAI_STRANDED_VOWEL = re.compile("[\u0e40-\u0e44](?![\u0e01-\u0e2e])")
_VIETNAMESE_LOWER = "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
_VIETNAMESE_LETTER = re.compile(f"[{_VIETNAMESE_LOWER}{_VIETNAMESE_LOWER.upper()}]")
# Vowels with a tone mark that only Vietnamese uses (Latin Extended Additional): cp1252 French,
# Spanish or Portuguese text never produces them, so they tell cp1258 from its Western cousins.
_VIETNAMESE_ONLY = re.compile("[\u1ea0-\u1ef9]")


def detect_encoding(sample: bytes) -> str:
    """The encoding of a file whose first bytes (and a few probes further in) are ``sample``.

    The rule, in order:

    1. a byte order mark decides: ``utf-8-sig``, ``utf-16`` or ``utf-32``;
    2. a sample that is valid UTF-8 is ``utf-8`` (pure ASCII lands here too); an incomplete
       character at its very end is allowed after at least 16 multibyte characters, as a
       sample may cut one;
    3. only the sample's lines holding non-ASCII bytes are scored, twice:

       - Thai: decoded as cp874 (the Windows superset of TIS-620), the share of non-ASCII
         characters that are Thai letters (U+0E01–U+0E5B) in a place Thai allows them (a vowel
         or tone mark on a consonant, a leading vowel before one);
       - Vietnamese: decoded as cp1258 and composed to NFC, the share of non-ASCII characters
         that are Vietnamese letters, counted only if at least one vowel with a Vietnamese-only
         tone mark (U+1EA0–U+1EF9) appears;

       a Thai share of at least 0.8 and above the Vietnamese one means ``cp874``; otherwise a
       Vietnamese share of at least 0.8 means ``cp1258``;
    4. anything else is charset-normalizer's best guess, or ``utf-8`` when it has none (rows
       that do not decode are then quarantined, never garbled).

    Step 3 exists because charset-normalizer calls short Thai samples cp932 or big5 and short
    Vietnamese ones cp1006; the structural Thai test cannot be fooled by cp1258 bytes, which
    put Thai tone marks after Latin letters and hit bytes cp874 leaves undefined.
    """
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if _is_utf8(sample):
        return "utf-8"
    lines = b"\n".join(line for line in sample.split(b"\n") if not line.isascii())
    lines = lines[:_SCORE_BYTES]
    thai = _thai_share(lines)
    vietnamese = _vietnamese_share(lines)
    if thai >= 0.8 and thai > vietnamese:
        return "cp874"
    if vietnamese >= 0.8:
        return "cp1258"
    best = from_bytes(sample).best()
    if best is None:
        return "utf-8"
    return codecs.lookup(best.encoding).name


def _is_utf8(sample: bytes) -> bool:
    """Valid UTF-8, or valid up to a character cut by the end of the sample; the cut is forgiven
    only after plenty of multibyte characters, as two or three legacy bytes at the end of a
    short sample can pass for the start of one."""
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data" or exc.start < len(sample) - 3:
            return False
        return _count_non_ascii(sample[: exc.start].decode("utf-8")) >= 16
    return True


def _count_non_ascii(text: str) -> int:
    return len(text) - len(text.encode("ascii", "ignore"))


def _thai_share(data: bytes) -> float:
    text = data.decode("cp874", "replace")
    non_ascii = _count_non_ascii(text)
    if not non_ascii:
        return 0.0
    thai = len(_THAI_LETTER.findall(text))
    misplaced = len(_THAI_MISPLACED_MARK.findall(text)) + len(_THAI_STRANDED_VOWEL.findall(text))
    return max(thai - misplaced, 0) / non_ascii


def _vietnamese_share(data: bytes) -> float:
    text = unicodedata.normalize("NFC", data.decode("cp1258", "replace"))
    non_ascii = _count_non_ascii(text)
    if not non_ascii or not _VIETNAMESE_ONLY.search(text):
        return 0.0
    return len(_VIETNAMESE_LETTER.findall(text)) / non_ascii


def _check_encoding(name: str) -> str:
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise InvalidInput(
            f"unknown encoding {name!r}; use a Python codec name such as utf-8, cp874 (Thai), "
            "tis-620, cp1258 (Vietnamese) or utf-16"
        ) from None
    if not info._is_text_encoding:
        raise InvalidInput(f"{name!r} is not a text encoding")
    return name


def _read_sample(file: IO[bytes], size: int) -> bytes:
    """The head of the file plus probes from its middle and end, each cut at line ends so no
    character is split: a file whose first megabyte is ASCII can still be cp874 further on."""
    file.seek(0)
    head = file.read(_SAMPLE_BYTES)
    if size <= len(head):
        return head
    cut = head.rfind(b"\n") + 1
    parts = [head[:cut] if cut else head]
    for at in (size // 2, size - _PROBE_BYTES):
        file.seek(max(at, 0))
        probe = file.read(_PROBE_BYTES)
        first, last = probe.find(b"\n") + 1, probe.rfind(b"\n") + 1
        if 0 < first < last:
            parts.append(probe[first:last])
    file.seek(0)
    return b"".join(parts)


_ASCII_PROBE = '\r\n,;\t|"{}[]:azAZ09 '


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to turn the file's bytes into text.

    ``codec`` decodes blocks; ``skip`` is a UTF-8 BOM to step over; ``transcode`` is set for
    encodings that are not ASCII-compatible (UTF-16/32), which are first re-encoded to UTF-8 so
    line ends can be found in bytes.
    """

    name: str
    codec: str
    skip: int
    transcode: bool

    def text(self, sample: bytes) -> str:
        """The start of the sample as text for sniffing, cut at a line end when it is cut."""
        head = sample[self.skip : self.skip + 4 * _SNIFF_CHARS]
        text = head.decode(self.name if self.transcode else self.codec, "replace")
        if len(text) > _SNIFF_CHARS or self.skip + len(head) < len(sample):
            text = text[:_SNIFF_CHARS]
            text = text[: text.rfind("\n") + 1] or text
        return unicodedata.normalize("NFC", text)


def _plan_decoding(name: str, sample: bytes) -> _Plan:
    codec = codecs.lookup(name).name
    if codec in ("utf-8", "utf-8-sig"):
        return _Plan(name, "utf-8", 3 if sample.startswith(codecs.BOM_UTF8) else 0, False)
    try:
        compatible = _ASCII_PROBE.encode(codec) == _ASCII_PROBE.encode("ascii")
    except (UnicodeError, LookupError):
        compatible = False
    return _Plan(name, codec if compatible else "utf-8", 0, not compatible)


def _keep_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Carry undecodable bytes through transcoding as lone surrogates, which are invalid UTF-8,
    so the record holding them is quarantined as undecodable instead of being dropped."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(chr(0xDC00 + b) for b in bad), exc.end


codecs.register_error("c360.keep", _keep_bytes)


# --- text blocks (CSV and JSON Lines) ----------------------------------------------------------


class _Block:
    """A run of whole lines with what is needed to hand back any line's raw bytes."""

    __slots__ = ("_bounds", "data", "first_line", "lines", "offset")

    def __init__(self, offset: int, first_line: int, lines: int, data: bytes) -> None:
        self.offset = offset
        self.first_line = first_line
        self.lines = lines
        self.data = data
        self._bounds: list[int] | None = None

    def bounds(self, newline: re.Pattern[bytes]) -> list[int]:
        """Where each line starts, plus the end: computed only when a line is wanted."""
        if self._bounds is None:
            bounds = [0, *(m.end() for m in newline.finditer(self.data))]
            if bounds[-1] != len(self.data):
                bounds.append(len(self.data))
            self._bounds = bounds
        return self._bounds


class _Blocks:
    """A text file as NFC text, one block of whole lines at a time.

    ``undecodable`` collects, in line order, the lines of failed blocks that did not decode:
    the record parser pops them to turn the records that hold them into BadRows.
    """

    def __init__(self, file: IO[bytes], plan: _Plan, *, csv_newlines: bool) -> None:
        self._file = file
        self._plan = plan
        self._csv_newlines = csv_newlines
        self._newline = re.compile(rb"\r\n|\r|\n" if csv_newlines else rb"\n")
        self.kept: deque[_Block] = deque(maxlen=_BLOCKS_KEPT)
        self.undecodable: deque[tuple[int, str]] = deque()
        self.consumed = 0

    def texts(self) -> Iterator[str]:
        for _block, text, _clean in self._decoded():
            yield text

    def utf8(self) -> Iterator[bytes]:
        """The blocks as NFC UTF-8, for parsers that read bytes: a clean UTF-8 block is passed
        through without being encoded again."""
        passthrough = self._plan.codec == "utf-8"
        for block, text, clean in self._decoded(ascii_unread=passthrough):
            yield block.data if passthrough and clean else text.encode("utf-8")

    def _decoded(self, *, ascii_unread: bool = False) -> Iterator[tuple[_Block, str, bool]]:
        """(block, its NFC text, whether that text is exactly the block's bytes decoded); with
        ``ascii_unread`` an ASCII block is not decoded at all and comes with an empty text."""
        line = 1
        codec = self._plan.codec
        for offset, data in self._byte_blocks():
            count = self._count_lines(data)
            block = _Block(offset, line, count, data)
            self.kept.append(block)
            line += count
            self.consumed = self._file.tell()
            if ascii_unread and data.isascii():
                yield block, "", True
                continue
            clean = True
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                text, clean = self._decode_by_line(block), False
            if not text.isascii():
                # normalize() hands back the very same object when a quick check finds nothing
                # to compose, so this costs one pass (is_normalized would add a second).
                composed = unicodedata.normalize("NFC", text)
                if composed is not text:
                    text, clean = composed, False
            yield block, text, clean

    def raw(self, first: int, last: int) -> bytes:
        """The bytes of lines ``first``..``last`` as far as the kept blocks still hold them."""
        parts = []
        for block in self.kept:
            block_last = block.first_line + block.lines - 1
            if block_last < first or block.first_line > last:
                continue
            bounds = block.bounds(self._newline)
            lo = max(first, block.first_line) - block.first_line
            hi = min(last, block_last) - block.first_line
            parts.append(block.data[bounds[lo] : bounds[hi + 1]])
        return b"".join(parts)

    def _count_lines(self, data: bytes) -> int:
        if self._csv_newlines:
            count = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
            return count + (1 if data and not data.endswith((b"\n", b"\r")) else 0)
        return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)

    def _decode_by_line(self, block: _Block) -> str:
        codec, data = self._plan.codec, block.data
        bounds = block.bounds(self._newline)
        where = " of the file re-encoded as UTF-8" if self._plan.transcode else ""
        parts = []
        for index in range(len(bounds) - 1):
            piece = data[bounds[index] : bounds[index + 1]]
            try:
                parts.append(piece.decode(codec))
            except UnicodeDecodeError as exc:
                at = block.offset + bounds[index] + exc.start
                self.undecodable.append(
                    (
                        block.first_line + index,
                        f"line {block.first_line + index}: byte 0x{piece[exc.start]:02X} at byte "
                        f"offset {at}{where} does not decode as {self._plan.name}",
                    )
                )
                parts.append(piece.decode(codec, "replace"))
        return "".join(parts)

    def _byte_blocks(self) -> Iterator[tuple[int, bytes]]:
        """Blocks of about a megabyte that end at a line end (or at the end of the file)."""
        offset = self._plan.skip
        carry = b""
        for chunk in self._chunks():
            data = carry + chunk if carry else chunk
            cut = data.rfind(b"\n") + 1
            if not cut:
                carry = data
                continue
            yield offset, data[:cut] if cut < len(data) else data
            offset += cut
            carry = data[cut:]
        if carry:
            yield offset, carry

    def _chunks(self) -> Iterator[bytes]:
        file = self._file
        file.seek(self._plan.skip)
        if not self._plan.transcode:
            while chunk := file.read(_BLOCK_BYTES):
                yield chunk
            return
        decoder = codecs.getincrementaldecoder(self._plan.name)("c360.keep")
        while chunk := file.read(_BLOCK_BYTES):
            yield decoder.decode(chunk).encode("utf-8", "surrogatepass")
        yield decoder.decode(b"", True).encode("utf-8", "surrogatepass")


def _take_undecodable(undecodable: deque[tuple[int, str]], last: int) -> str:
    """Pop the undecodable lines up to ``last`` and describe the first."""
    detail = undecodable[0][1]
    while undecodable and undecodable[0][0] <= last:
        undecodable.popleft()
    return detail


# --- CSV ---------------------------------------------------------------------------------------


class _Problem:
    """A record that could not be parsed, carried through the record stream in place of fields."""

    __slots__ = ("detail", "reason")

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail


_Record = tuple[int, int, list[str] | _Problem]


def _check_delimiter(given: str) -> str:
    delimiter = _DELIMITER_NAMES.get(given.lower(), given)
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise InvalidInput(
            f"delimiter {given!r} is not usable: give one character such as , ; | or tab"
        )
    return delimiter


def _sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV sample.

    Each candidate (``,`` ``;`` tab ``|``) is tried on the first records, quotes and embedded
    line breaks parsed as the reader will; those that split the header into at least two
    fields compete, and the one that splits the following records most consistently into the
    header's width wins, then the wider header, then the order above; none means ``,``. Unlike
    ``csv.Sniffer`` this is not fooled by a comma in a header like ``name;address, city`` or by
    a quoted header that spans lines.
    """
    scores = {delimiter: _consistency(text, delimiter) for delimiter in _DELIMITERS}
    candidates = [delimiter for delimiter, (_, width) in scores.items() if width >= 2]
    if not candidates:
        return ","
    return max(candidates, key=lambda d: (*scores[d], -_DELIMITERS.index(d)))


def _consistency(text: str, delimiter: str) -> tuple[float, int]:
    """(share of records after the header with the header's width, the header's width), with
    the reader's own strict quoting: a record it would reject counts against the delimiter."""
    widths: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    while len(widths) <= _SNIFF_RECORDS:
        try:
            fields = next(reader, None)
        except csv.Error:
            if not widths:
                return 0.0, 0
            widths.append(-1)
            continue
        if fields is None:
            break
        if fields:
            widths.append(len(fields))
    if not widths or widths[0] < 2:
        return 0.0, 0
    if len(widths) == 1:
        return 1.0, widths[0]
    return sum(w == widths[0] for w in widths[1:]) / (len(widths) - 1), widths[0]


def _name_columns(raw: list[str]) -> list[str]:
    """Header cells as usable, unique column names.

    Whitespace and BOMs around a name go; an empty name becomes ``column_<n>`` (1-based
    position); a repeated name becomes ``name_2``, ``name_3``... skipping any suffix that
    another header already uses, so every column keeps its data.
    """
    names = [
        unicodedata.normalize("NFC", cell.replace("\ufeff", "").strip()) or f"column_{index}"
        for index, cell in enumerate(raw, 1)
    ]
    originals = set(names)
    taken: set[str] = set()
    unique = []
    for name in names:
        if name in taken:
            suffix = 2
            while f"{name}_{suffix}" in taken or f"{name}_{suffix}" in originals:
                suffix += 1
            name = f"{name}_{suffix}"
        taken.add(name)
        unique.append(name)
    return unique


_split_lines = partial(io.StringIO, newline="")


def _is_blank(fields: list[str]) -> bool:
    return not "".join(fields).strip()


class _CsvReader:
    def __init__(self, path: Path, file: IO[bytes], plan: _Plan, delimiter: str) -> None:
        self._path = path
        self._file = file
        self._plan = plan
        self._delimiter = delimiter
        self._blocks: _Blocks | None = None
        _, records = self._open_records()
        header = self._read_header(records)
        self.columns: list[str] = _name_columns(header) if header is not None else []

    def position(self) -> int:
        return self._blocks.consumed if self._blocks is not None else 0

    def close(self) -> None:
        self._file.close()

    def _open_records(self) -> tuple[_Blocks, Iterator[_Record]]:
        blocks = _Blocks(self._file, self._plan, csv_newlines=True)
        lines = chain.from_iterable(map(_split_lines, blocks.texts()))
        reader = csv.reader(lines, delimiter=self._delimiter, quotechar='"', strict=True)
        return blocks, _csv_records(reader, blocks)

    def _read_header(self, records: Iterator[_Record]) -> list[str] | None:
        for start, _end, fields in records:
            if isinstance(fields, _Problem):
                raise InvalidInput(
                    f"{self._path}: the header (line {start}) cannot be read: {fields.detail}"
                    + ("; give the encoding" if fields.reason == "undecodable" else "")
                )
            if not _is_blank(fields):
                return fields
        return None

    def rows(self) -> Iterator[Row | BadRow]:
        blocks, records = self._open_records()
        self._blocks = blocks
        if self._read_header(records) is None:
            return
        names = self.columns
        width = len(names)
        run: list[_Record] = []  # consecutive short records, judged together once they end
        spill = -1  # last line of a run of short records too long to judge
        for record in records:
            fields = record[2]
            if type(fields) is list and len(fields) == width:
                first = fields[0]
                if first and not first.isspace():
                    if run:
                        yield from self._settle(run, blocks)
                    yield Row(record[0], dict(zip(names, fields, strict=True)))
                    continue
            if self._is_short(fields):
                if run and run[-1][1] + 1 == record[0]:
                    run.append(record)
                    if len(run) > _MAX_PIECES:  # too long for one cut record: all short rows
                        spill = record[1]
                        yield from self._settle(run, blocks)
                    continue
                if spill + 1 == record[0]:
                    spill = record[1]
                    out = self._classify(record, blocks)
                    if out is not None:
                        yield out
                    continue
                if run:
                    yield from self._settle(run, blocks)
                run.append(record)
                continue
            if run:
                yield from self._settle(run, blocks)
            out = self._classify(record, blocks)
            if out is not None:
                yield out
        if run:
            yield from self._settle(run, blocks)
        blocks.consumed = self._file.tell()

    def _is_short(self, fields: list[str] | _Problem) -> TypeGuard[list[str]]:
        return (
            isinstance(fields, list)
            and 0 < len(fields) < len(self.columns)
            and not _is_blank(fields)
        )

    def _classify(self, record: _Record, blocks: _Blocks) -> Row | BadRow | None:
        start, end, fields = record
        if isinstance(fields, _Problem):
            return BadRow(start, fields.reason, fields.detail, blocks.raw(start, end))
        names = self.columns
        if not fields or _is_blank(fields):
            return None
        if len(fields) > len(names):
            detail = f"line {start} has {len(fields)} fields, the header has {len(names)}"
            return BadRow(start, "field_count", detail, blocks.raw(start, end))
        padding: list[str | None] = [None] * (len(names) - len(fields))
        return Row(start, dict(zip(names, [*fields, *padding], strict=True)))

    def _settle(self, run: list[_Record], blocks: _Blocks) -> Iterator[Row | BadRow]:
        """Judge a run of consecutive short records, then empty it.

        A short record is usually a spreadsheet that dropped trailing empty cells: its missing
        fields become None. But when all the short lines between two whole records join into
        exactly one header's worth of fields (the last field of one line going on in the first
        of the next), they are one record cut by line breaks outside quotes, typically a pasted
        address: filling them with None would put half a record in the wrong columns and make a
        customer of the other half, so they are quarantined together as one ``field_count``
        BadRow. Judging the whole run, not any two neighbours, keeps files full of short rows
        from being quarantined by chance.
        """
        joined = sum(len(fields) for _, _, fields in run if isinstance(fields, list)) - len(run) + 1
        if 1 < len(run) <= _MAX_PIECES and joined == len(self.columns):
            start, last = run[0][0], run[-1][1]
            detail = (
                f"lines {start}-{last} look like one record of {len(self.columns)} fields cut "
                "by line breaks outside quotes; quote the field that holds them"
            )
            yield BadRow(start, "field_count", detail, blocks.raw(start, last))
        else:
            for record in run:
                out = self._classify(record, blocks)
                if out is not None:
                    yield out
        run.clear()


def _csv_records(reader: Any, blocks: _Blocks) -> Iterator[_Record]:
    """(first line, last line, fields) of each record, with a :class:`_Problem` in place of the
    fields of a record the csv module rejects or that holds an undecodable line."""
    undecodable = blocks.undecodable
    end = 0
    while True:
        try:
            for fields in reader:
                start, end = end + 1, reader.line_num
                if undecodable and undecodable[0][0] <= end:
                    detail = _take_undecodable(undecodable, end)
                    yield start, end, _Problem("undecodable", detail)
                else:
                    yield start, end, fields
            return
        except csv.Error as exc:
            start, end = end + 1, reader.line_num
            if undecodable and undecodable[0][0] <= end:
                yield start, end, _Problem("undecodable", _take_undecodable(undecodable, end))
            else:
                where = f"line {start}" if start == end else f"lines {start}-{end}"
                yield start, end, _Problem("malformed_csv", f"{where}: {exc}")


# --- JSON Lines --------------------------------------------------------------------------------

# msgspec rather than orjson: orjson turns integers beyond 64 bits (long customer or order ids)
# into floats, silently dropping digits; msgspec keeps them exact at nearly the same speed.
_decode_json = msgspec.json.Decoder().decode


def _require_json_lines(path: Path, sample: bytes, plan: _Plan) -> None:
    text = plan.text(sample).lstrip()
    if text.startswith("{") and isinstance(_parse_leniently(text.split("\n", 1)[0]), dict):
        return
    raise InvalidInput(
        f"{path} is a JSON document, not JSON Lines; write one object per line (JSON Lines) "
        "or give the format explicitly"
    )


class _JsonlReader:
    def __init__(self, path: Path, file: IO[bytes], plan: _Plan, sample: bytes) -> None:
        self._path = path
        self._file = file
        self._plan = plan
        self._blocks: _Blocks | None = None
        self.columns: list[str] = []
        for line in plan.text(sample).split("\n"):
            value = _parse_leniently(line)
            if isinstance(value, dict):
                self.columns.extend(str(key) for key in value)
                break

    def position(self) -> int:
        return self._blocks.consumed if self._blocks is not None else 0

    def close(self) -> None:
        self._file.close()

    def rows(self) -> Iterator[Row | BadRow]:
        blocks = self._blocks = _Blocks(self._file, self._plan, csv_newlines=False)
        undecodable = blocks.undecodable
        columns = self.columns
        seen = set(columns)
        decode = _decode_json
        line = 0
        for payload in blocks.utf8():
            lines = payload.split(b"\n")
            if not lines[-1]:
                lines.pop()
            for source in lines:
                line += 1
                if undecodable and undecodable[0][0] <= line:
                    detail = _take_undecodable(undecodable, line)
                    yield BadRow(line, "undecodable", detail, blocks.raw(line, line))
                    continue
                try:
                    value = decode(source)
                except msgspec.DecodeError as exc:
                    if not source.strip():
                        continue
                    value = _parse_leniently(source)
                    if value is None:
                        detail = f"line {line} is not valid JSON: {exc}"
                        yield BadRow(line, "malformed_json", detail, blocks.raw(line, line))
                        continue
                if value.__class__ is dict:
                    if not seen.issuperset(value):
                        fresh = [key for key in value if key not in seen]
                        columns.extend(fresh)
                        seen.update(fresh)
                    yield Row(line, value)
                else:
                    detail = f"line {line} is a JSON {_json_kind(value)}, not an object"
                    yield BadRow(line, "not_an_object", detail, blocks.raw(line, line))
        blocks.consumed = self._file.tell()


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    return "null" if value is None else "number"


def _parse_leniently(source: str | bytes) -> Any:
    """What the standard library makes of a line msgspec refused (NaN, Infinity, 1e400), or
    None when it is not JSON at all: many exporters write those values, and they are data."""
    try:
        return json.loads(source)
    except (ValueError, RecursionError):
        return None


# --- Parquet -----------------------------------------------------------------------------------


class _ParquetReader:
    """Reads record batches, so a file of ten million rows never sits in memory at once."""

    def __init__(self, path: Path, size: int) -> None:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        self._path = path
        self._size = size
        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInput(f"{path} is not a readable Parquet file: {exc}") from None
        self._total = max(int(self._file.metadata.num_rows), 1)
        self._done = 0
        self.columns = _name_columns([str(name) for name in self._file.schema_arrow.names])

    def position(self) -> int:
        return self._size * self._done // self._total

    def close(self) -> None:
        self._file.close()

    def rows(self) -> Iterator[Row | BadRow]:
        import pyarrow as pa

        names = self.columns
        line = 0
        self._done = 0
        try:
            for batch in self._file.iter_batches(batch_size=_PARQUET_BATCH_ROWS):
                columns = [_to_python(column) for column in batch.columns]
                for values in zip(*columns, strict=True):
                    line += 1
                    yield Row(line, dict(zip(names, values, strict=True)))
                self._done = line
        except pa.ArrowException as exc:
            raise InvalidInput(
                f"{self._path}: Parquet data unreadable after row {line}: {exc}"
            ) from None


def _to_python(column: Any) -> list[Any]:
    """A column's values as Python objects: strings in NFC, nanosecond timestamps cut to the
    microseconds ``datetime`` holds (customer data has no use for the rest)."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_timestamp(kind) and kind.unit == "ns":
        column = column.cast(pa.timestamp("us", kind.tz), safe=False)
    values: list[Any] = column.to_pylist()
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        # One check over the whole column; a line feed between values keeps them apart, as it
        # never composes with anything.
        joined = "\n".join(filter(None, values))
        if not joined.isascii() and unicodedata.normalize("NFC", joined) is not joined:
            values = [value and unicodedata.normalize("NFC", value) for value in values]
    return values


# --- xlsx --------------------------------------------------------------------------------------


class _XlsxReader:
    def __init__(self, path: Path, size: int, sheet: str | None) -> None:
        from python_calamine import CalamineError, CalamineWorkbook

        self._path = path
        self._size = size
        try:
            self._book = CalamineWorkbook.from_path(str(path))
        except (CalamineError, OSError, ValueError) as exc:
            raise InvalidInput(f"{path} is not a readable Excel workbook: {exc}") from None
        sheets = self._book.sheet_names
        if sheet is None and not sheets:
            raise InvalidInput(f"{path} has no sheets")
        if sheet is not None and sheet not in sheets:
            listed = ", ".join(repr(name) for name in sheets)
            raise InvalidInput(f"{path} has no sheet {sheet!r}; its sheets are {listed}")
        self.sheet = sheet if sheet is not None else sheets[0]
        try:
            self._sheet = self._book.get_sheet_by_name(self.sheet)
        except CalamineError as exc:
            raise InvalidInput(f"{path}: sheet {self.sheet!r} cannot be read: {exc}") from None
        end = self._sheet.end
        self._total = max(end[0] + 1 if end else 0, 1)
        self._done = 0
        self._header_row = 0
        self.columns: list[str] = []
        for number, cells in enumerate(self._sheet.iter_rows(), 1):
            if cells.count("") != len(cells):
                while cells and cells[-1] == "":
                    cells.pop()
                self.columns = _name_columns([_header_text(cell) for cell in cells])
                self._header_row = number
                break

    def position(self) -> int:
        return self._size * self._done // self._total

    def close(self) -> None:
        self._book.close()

    def rows(self) -> Iterator[Row | BadRow]:
        if not self._header_row:
            return
        names = self.columns
        width = len(names)
        for number, cells in enumerate(self._sheet.iter_rows(), 1):
            self._done = number
            if number <= self._header_row or cells.count("") == len(cells):
                continue
            if len(cells) > width and cells[width:].count("") != len(cells) - width:
                used = len(cells)
                while cells[used - 1] == "":
                    used -= 1
                detail = f"row {number} has {used} cells, the header has {width}"
                raw = orjson.dumps(cells, default=str)
                yield BadRow(number, "field_count", detail, raw)
                continue
            values: dict[str, Any] = {}
            for name, cell in zip(names, cells, strict=False):
                if isinstance(cell, str):
                    values[name] = _sheet_text(cell)
                else:
                    values[name] = cell
            for name in names[len(cells) :]:
                values[name] = None
            yield Row(number, values)


def _sheet_text(cell: str) -> str | None:
    """Empty cells are None, as in Parquet; text is NFC like every decoded file."""
    if not cell:
        return None
    return cell if cell.isascii() else unicodedata.normalize("NFC", cell)


def _header_text(cell: object) -> str:
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)
