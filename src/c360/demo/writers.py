"""Streaming writers for the demo files: CSV in any encoding, JSON lines, Parquet and XLSX.

Each writer takes rows one at a time and holds at most a small buffer, so a million customers
never sit in memory. Output is byte-for-byte deterministic: no clocks, no random temp names
(the XLSX writer is our own for that reason: openpyxl stamps the time into the file).
"""

import csv
import io
import zipfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import orjson
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

_BUFFER = 1 << 20


class CsvSink:
    """A CSV file written row by row; ``transform`` rewrites each value before encoding."""

    def __init__(
        self,
        path: Path,
        header: Sequence[str],
        *,
        encoding: str = "utf-8",
        delimiter: str = ",",
        lineterminator: str = "\n",
        transform: Callable[[str], str] | None = None,
    ) -> None:
        self.path = path
        self.header = tuple(header)
        self.rows = 0
        self._transform = transform
        self._file = open(  # noqa: SIM115 - closed by close()
            path, "w", encoding=encoding, newline="", buffering=_BUFFER
        )
        self._writer = csv.writer(self._file, delimiter=delimiter, lineterminator=lineterminator)
        self._writerow = self._writer.writerow
        self._write(self.header)

    def _write(self, values: Sequence[str]) -> None:
        if self._transform is not None:
            values = [self._transform(v) for v in values]
        self._writer.writerow(values)

    def row(self, values: Sequence[str]) -> None:
        if self._transform is None:
            self._writerow(values)
        else:
            self._write(values)
        self.rows += 1

    def close(self) -> None:
        self._file.close()


class JsonlSink:
    """One JSON object per line, UTF-8, keys in the order given."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._file = open(path, "wb", buffering=_BUFFER)  # noqa: SIM115 - closed by close()

    def row(self, obj: dict[str, Any]) -> None:
        self._file.write(orjson.dumps(obj) + b"\n")
        self.rows += 1

    def close(self) -> None:
        self._file.close()


class ParquetSink:
    """A Parquet file written in row groups of ``batch`` rows."""

    def __init__(self, path: Path, schema: pa.Schema, *, batch: int = 65_536) -> None:
        self.path = path
        self.rows = 0
        self._schema = schema
        self._batch = batch
        self._columns: list[list[Any]] = [[] for _ in schema.names]
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")

    def row(self, values: Sequence[Any]) -> None:
        for column, value in zip(self._columns, values, strict=True):
            column.append(value)
        self.rows += 1
        if len(self._columns[0]) >= self._batch:
            self._flush()

    def _flush(self) -> None:
        if not self._columns[0]:
            return
        table = pa.Table.from_arrays(
            [pa.array(c, type=f.type) for c, f in zip(self._columns, self._schema, strict=True)],
            schema=self._schema,
        )
        self._writer.write_table(table)
        self._columns = [[] for _ in self._schema.names]

    def close(self) -> None:
        self._flush()
        self._writer.close()


Cell = str | int | float | datetime | None

_FIXED_TIME = (2024, 1, 1, 0, 0, 0)
_EXCEL_EPOCH = datetime(1899, 12, 30)
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OOXML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_OOXML}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_OOXML}.worksheet+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{_OOXML}.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PKG_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PKG_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL_NS}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f"<styleSheet {_NS}>"
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class XlsxSink:
    """A one-sheet XLSX workbook streamed into its zip: strings inline, datetimes as date cells."""

    def __init__(self, path: Path, sheet: str, header: Sequence[str]) -> None:
        self.path = path
        self.rows = 0
        self._letters = [_column_letter(i) for i in range(len(header))]
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        workbook = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<workbook {_NS} xmlns:r="{_REL_NS}"><sheets>'
            f'<sheet name="{escape(sheet, {chr(34): "&quot;"})}" sheetId="1" r:id="rId1"/>'
            "</sheets></workbook>"
        )
        for name, text in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _ROOT_RELS),
            ("xl/workbook.xml", workbook),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
            ("xl/styles.xml", _STYLES),
        ):
            self._zip.writestr(self._info(name), text)
        raw = self._zip.open(self._info("xl/worksheets/sheet1.xml"), "w", force_zip64=True)
        self._sheet = io.TextIOWrapper(raw, encoding="utf-8", newline="", write_through=False)
        width = len(header)
        self._sheet.write(
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<worksheet {_NS}><sheetViews><sheetView workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            "</sheetView></sheetViews>"
            f'<cols><col min="1" max="{width}" width="18" customWidth="1"/></cols><sheetData>'
        )
        self._line = 0
        self._write(list(header), style=' s="2"')

    @staticmethod
    def _info(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def _write(self, values: Sequence[Cell], style: str = "") -> None:
        self._line += 1
        line = self._line
        parts = [f'<row r="{line}">']
        for letter, value in zip(self._letters, values, strict=True):
            if value is None or value == "":
                continue
            ref = f"{letter}{line}"
            if isinstance(value, str):
                parts.append(
                    f'<c r="{ref}" t="inlineStr"{style}><is><t xml:space="preserve">'
                    f"{escape(value)}</t></is></c>"
                )
            elif isinstance(value, datetime):
                serial = (value - _EXCEL_EPOCH).total_seconds() / 86_400
                parts.append(f'<c r="{ref}" s="1"><v>{serial!r}</v></c>')
            else:
                parts.append(f'<c r="{ref}"><v>{value}</v></c>')
        parts.append("</row>")
        self._sheet.write("".join(parts))

    def row(self, values: Sequence[Cell]) -> None:
        self._write(values)
        self.rows += 1

    def close(self) -> None:
        self._sheet.write("</sheetData></worksheet>")
        self._sheet.close()
        self._zip.close()
