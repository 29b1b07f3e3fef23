"""The FAQ as an Excel workbook (常见问题.xlsx), for staff who keep it in a spreadsheet: one sheet,
a header row `id | questions | answer | contact | link | community`, then an entry a row with
its questions one per line in their cell. `read` checks it as `bot.faq.load` checks a FAQ file;
`write` makes the workbook `read` reads back.
"""
import io
import re
import zipfile
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils.exceptions import InvalidFileException

from bot import faq
from bot.faq import Entry, FaqFileError

HEADER = ("id", "questions", "answer", "contact", "link", "community")
REQUIRED = HEADER[:3]
WIDTHS = (18, 40, 60, 24, 30, 14)
_WHERE = re.compile(r"^entries\[\d+\] ")  # faq's own way of naming an entry, replaced by the row


def read(source: str | Path | bytes) -> list[Entry]:
    """The entries of a workbook (a path or its bytes), checked; a bad one raises FaqFileError
    naming the row."""
    try:
        book = load_workbook(io.BytesIO(source) if isinstance(source, bytes) else source, read_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise FaqFileError("不是能打开的 Excel 文件 (not a readable .xlsx workbook)") from None
    try:
        rows = list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()
    columns = _columns(rows[0] if rows else ())
    seen: set[str] = set()
    entries = [_entry(number, row, columns, seen) for number, row in enumerate(rows[1:], start=2)
               if any(_text(value) for value in row)]
    if not entries:
        raise FaqFileError("表格里没有条目 (no entries below the header)")
    faq._no_question_twice(entries)
    return entries


def _columns(header: tuple) -> dict[str, int]:
    """Where each field is, by the header row's names (columns may come in any order)."""
    columns = {}
    for index, value in enumerate(header):
        name = _text(value).lower()
        if name in HEADER:
            columns[name] = index
        elif name:
            raise FaqFileError(f"第1行 (row 1): 不认识的列 (unknown column) {name!r}，表头应为 {' | '.join(HEADER)}")
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise FaqFileError(f"第1行 (row 1): 表头缺少 (the header lacks) {', '.join(missing)}，"
                           f"表头应为 {' | '.join(HEADER)}")
    return columns


def _entry(number: int, row: tuple, columns: dict[str, int], seen: set[str]) -> Entry:
    item = {name: _text(row[index]) if index < len(row) else "" for name, index in columns.items()}
    item["questions"] = item["questions"].splitlines()
    try:
        return faq._entry(item, number, seen)
    except FaqFileError as error:
        raise FaqFileError(f"第{number}行 (row {number}) {_WHERE.sub('', str(error))}") from None


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def write(entries: list[Entry]) -> bytes:
    """A workbook of `entries` that `read` reads back."""
    book = Workbook()
    sheet = book.active
    sheet.title = "常见问题"
    sheet.append(HEADER)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for entry in entries:
        sheet.append(["\n".join(entry.questions) if name == "questions" else getattr(entry, name) or None
                      for name in HEADER])
        for cell in sheet[sheet.max_row]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if cell.data_type == "f":  # an answer starting with "=" is text, not a formula
                cell.data_type = "s"
    for letter, width in zip("ABCDEF", WIDTHS):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
