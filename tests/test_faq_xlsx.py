"""The FAQ as an Excel workbook: what `write` makes `read` reads back, and a bad workbook is
refused naming its row, by the same rules as a FAQ file."""
import io

import pytest
from openpyxl import Workbook

from bot import faq, faq_xlsx
from bot.faq import Entry, FaqFileError
from bot.faq_xlsx import HEADER
from conftest import ROOT


def sheet(*rows) -> bytes:
    """A workbook of one sheet with these rows."""
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_sample_faq_reads_back_as_it_was_written(tmp_path):
    entries = faq.load(ROOT / "faq" / "sample_faq.yml")
    entries.append(Entry("tricky", ("=1+1 是多少", "@小助手 +86 的号码"), "=SUM(A1)\n第二行", "-123", "@link", "光明社区"))
    assert faq_xlsx.read(faq_xlsx.write(entries)) == entries
    (tmp_path / "faq.xlsx").write_bytes(faq_xlsx.write(entries))
    assert faq_xlsx.read(tmp_path / "faq.xlsx") == entries


def test_columns_may_come_in_any_order_blank_rows_and_optional_columns_left_out():
    data = sheet(("answer", "ID", "questions"), ("答案", "fee", "怎么交\r\n在哪交\n"), (None, None, None),
                 ("答案二", "water", "水费\n水费在哪交"))
    assert faq_xlsx.read(data) == [Entry("fee", ("怎么交", "在哪交"), "答案"),
                                   Entry("water", ("水费", "水费在哪交"), "答案二")]


@pytest.mark.parametrize("rows, problem", [
    ([], "第1行 (row 1): 表头缺少 (the header lacks) id, questions, answer"),
    ([("id", "questions")], "表头缺少 (the header lacks) answer"),
    ([HEADER + ("notes",)], "不认识的列 (unknown column) 'notes'"),
    ([HEADER], "表格里没有条目 (no entries below the header)"),
    ([HEADER, ("fee", "怎么交\n在哪交", "答"), ("Fee", "a\nb", "答")], "第3行 (row 3) (Fee): id must be lowercase"),
    ([HEADER, ("fee", "怎么交", "答")], "第2行 (row 2) (fee): needs at least two different questions"),
    ([HEADER, ("fee", "怎么交\n在哪交", " ")], "第2行 (row 2) (fee): the answer is empty"),
    ([HEADER, ("fee", "怎么交\n在哪交", "答"), ("fee", "a\nb", "答")], "第3行 (row 3) (fee): duplicate id 'fee'"),
    ([HEADER, ("fee", "怎么交\n在哪交", "答"), ("water", "怎么交\n水费", "答")], "question '怎么交' is also under fee"),
])
def test_a_bad_workbook_is_refused_naming_the_row(rows, problem):
    with pytest.raises(FaqFileError) as refused:
        faq_xlsx.read(sheet(*rows))
    assert problem in str(refused.value)


def test_a_file_that_is_not_a_workbook_is_refused(tmp_path):
    for source in (b"", b"PK\x03\x04 truncated", tmp_path / "missing.xlsx"):
        with pytest.raises(FaqFileError, match="不是能打开的 Excel 文件"):
            faq_xlsx.read(source)
