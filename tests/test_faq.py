"""The FAQ: checking a file, importing it, and what the bot does with a question: the answer,
suggestions (猜你想问) or "not sure", decided by a matcher that calibrates itself on the FAQ."""
import dataclasses
import subprocess
import sys

from sqlalchemy.orm import Session

import pytest
import yaml

from bot import faq, faq_matcher, faq_store
from bot.clock import utc_now
from bot.decision import decide
from conftest import ROOT, project_env

GOOD = """
entries:
  - id: service_center_hours
    questions: [党群服务中心几点开门, 服务中心周末上班吗]
    answer: 周一至周五 9:00-17:00。
    contact: 光明社区居委会 010-80000101
  - id: garbage_sorting
    questions: [厨余垃圾几点扔, 垃圾分类怎么分]
    answer: 厨余垃圾早7-9点、晚6-8点投放。
    community: 光明社区
"""


def write(tmp_path, text):
    path = tmp_path / "faq.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_reads_back_what_dump_writes(tmp_path):
    entries = faq.load(write(tmp_path, GOOD))
    assert [entry.id for entry in entries] == ["service_center_hours", "garbage_sorting"]
    assert faq.load(write(tmp_path, faq.dump(entries))) == entries


@pytest.mark.parametrize("body, message", [
    (GOOD.replace("id: garbage_sorting", "id: service_center_hours"), "duplicate id"),
    (GOOD.replace("answer: 周一至周五 9:00-17:00。", "answer: ''"), "(service_center_hours): the answer is empty"),
    (GOOD.replace("[厨余垃圾几点扔, 垃圾分类怎么分]", "[厨余垃圾几点扔]"), "(garbage_sorting): needs at least two"),
    (GOOD.replace("[厨余垃圾几点扔, 垃圾分类怎么分]", "[厨余垃圾几点扔, 厨余垃圾几点扔]"), "(garbage_sorting): needs at least two"),
    (GOOD.replace("垃圾分类怎么分", "服务中心周末上班吗"), "also under service_center_hours"),
    (GOOD.replace("id: garbage_sorting", "id: Garbage-Sorting"), "id must be"),
    ("entries: [", "not valid YAML"),
    ("other: 1", "entries"),
])
def test_a_bad_file_fails_naming_the_entry(tmp_path, body, message):
    with pytest.raises(faq.FaqFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        faq.load(write(tmp_path, body))


def run_bot(tmp_path, *args):
    env = {**project_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_the_command_line_imports_a_file_once_and_exports_it_back(tmp_path):
    result = run_bot(tmp_path, "faq", "import", str(write(tmp_path, GOOD)))
    assert result.returncode == 0 and "常见问题新增 2 条" in result.stdout
    again = run_bot(tmp_path, "faq", "import", "--if-empty", str(write(tmp_path, GOOD.replace("周一至周五", "每天"))))
    assert again.returncode == 0 and "不导入" in again.stdout
    assert run_bot(tmp_path, "faq", "export", str(tmp_path / "out.yml")).returncode == 0
    assert faq.load(tmp_path / "out.yml") == faq.load(write(tmp_path, GOOD))


def test_the_command_line_reports_a_bad_file_and_imports_nothing(tmp_path):
    result = run_bot(tmp_path, "faq", "import", str(write(tmp_path, "entries: []")))
    assert result.returncode == 1 and "错误：" in result.stderr
    assert run_bot(tmp_path, "faq", "export", str(tmp_path / "out.yml")).returncode == 0
    assert "entries: []" in (tmp_path / "out.yml").read_text(encoding="utf-8")


def parse(intent, text, *reports, confidence=0.9):
    """A parse result as Rasa gives it: the intent, and the report intents' confidences."""
    ranking = [{"name": intent, "confidence": confidence}] + [{"name": name, "confidence": c} for name, c in reports]
    return {"text": text, "intent": ranking[0], "intent_ranking": ranking}


@pytest.fixture(scope="module")
def entries():
    return faq.load(ROOT / "faq" / "sample_faq.yml")


@pytest.fixture(scope="module")
def sample(entries):
    """The matcher of the sample site's FAQ."""
    return faq_matcher.Matcher(entries)


@pytest.fixture(scope="module")
def two_each(entries):
    """The sample's entries with only their first two questions each, as a terse file has them."""
    return faq_matcher.Matcher([dataclasses.replace(entry, questions=entry.questions[:2]) for entry in entries])


def choose(matcher, intent, text, *reports, community=None, confidence=0.9):
    question = parse(intent, text, *reports, confidence=confidence)
    return faq_matcher.choose_for(question, decide(question), matcher, community)


def resolves(choice, entry_id) -> bool:
    """The resident gets the entry: as the answer, or among the suggestions."""
    return (choice.answer is not None and choice.answer.id == entry_id) or entry_id in [e.id for e in choice.suggestions]


@pytest.mark.parametrize("question, entry", [("老年卡丢了怎么补", "senior_card"), ("物业费的收费标准是多少", "property_fee")])
def test_a_question_asked_as_the_faq_asks_it_is_answered(sample, question, entry):
    assert choose(sample, "ask_info", question).answer.id == entry


@pytest.mark.parametrize("question, entry", [("家里暖和要等到哪天", "heating_season_dates"),
                                             ("剩饭剩菜倒哪个桶", "garbage_sorting_categories"),
                                             ("老人坐公交免费的那个证怎么弄", "senior_card"),
                                             ("冬天家里什么时候能热起来", "heating_season_dates")])
def test_a_question_in_other_words_gets_its_answer_or_it_among_the_suggestions(sample, two_each, question, entry):
    assert resolves(choose(sample, "ask_info", question), entry)
    assert resolves(choose(two_each, "ask_info", question), entry)  # a terse file calibrates itself


def test_a_file_whose_questions_are_near_copies_still_suggests_to_residents_own_words(entries):
    # clerks often write an entry's questions as one sentence twice: its questions are nearer each
    # other than any resident's words are to them, and must not set how near a suggestion must be
    copies = faq_matcher.Matcher([dataclasses.replace(entry, questions=(entry.questions[0], f"请问{entry.questions[0]}"))
                                  for entry in entries])
    for question, entry in [("家里暖和要等到哪天", "heating_season_dates"), ("剩饭剩菜倒哪个桶", "garbage_sorting_categories"),
                            ("老人坐公交免费的那个证怎么弄", "senior_card")]:
        assert resolves(choose(copies, "ask_info", question), entry), question
    off_the_subjects = choose(copies, "ask_info", "帮我写一首关于秋天的诗")
    assert off_the_subjects.answer is None and off_the_subjects.suggestions == ()


def test_between_near_entries_the_resident_chooses_from_numbered_suggestions(sample):
    choice = choose(sample, "ask_info", "暖气的事问一下")  # the season, its fee, getting ready?
    assert choice.answer is None and len(choice.suggestions) >= 2
    reply = faq_matcher.suggestions_reply(choice)
    assert reply.startswith("猜你想问：\n1. ") and "回复序号" in reply
    assert [faq_matcher.picked_number(text, 3) for text in ("2", "第二个", " 3 ", "③", "4", "2号楼")] == [2, 2, 3, 3, None, None]


@pytest.mark.parametrize("question", ["帮我写一首关于秋天的诗", "附近哪家火锅店好吃"])
def test_a_question_the_faq_does_not_cover_is_not_answered(sample, question):
    choice = choose(sample, "ask_info", question)
    assert choice.answer is None and choice.suggestions == ()


@pytest.mark.parametrize("question", ["居住证到期了能在本地考驾照吗", "志愿者有没有保险", "明年的高考是几号"])
def test_a_question_near_an_entry_that_it_does_not_answer_gets_no_direct_answer(sample, two_each, question):
    assert choose(sample, "ask_info", question).answer is None
    assert choose(two_each, "ask_info", question).answer is None


def test_a_report_is_never_answered_from_the_faq(sample):
    assert choose(sample, "report_sanitation", "楼下堆了好多装修垃圾 好几天没人清") == faq_matcher.NOTHING
    assert choose(sample, "report_gas", "楼道里有煤气味 怎么办", confidence=0.6) == faq_matcher.NOTHING  # urgent


def test_a_question_taken_for_an_unsure_report_is_answered_only_when_the_faq_is_sure(sample):
    # a report, the model sure of that but not of its category
    assert choose(sample, "report_property_service", "物业费的收费标准是多少", ("report_water", 0.2),
                  confidence=0.6).answer.id == "property_fee"
    unsure = choose(sample, "report_power", "5号楼楼道灯坏了好几天", ("report_facilities", 0.2), confidence=0.6)
    assert unsure.answer is None and unsure.suggestions == ()  # filed, not guessed at


def test_a_sure_report_that_also_asks_gets_the_answer_beside_its_ticket(sample):
    assert choose(sample, "report_property_service", "物业费的收费标准是多少", confidence=0.9).answer.id == "property_fee"
    telling = choose(sample, "report_property_service", "物业费收得太贵了 收费标准也不公示", confidence=0.9)
    assert telling == faq_matcher.NOTHING  # it asks nothing: filed, nothing added


@pytest.mark.parametrize("text, asks", [("金毛这种大狗小区让养吗", True), ("电费欠了咋交", True), ("垃圾往哪扔", True),
                                        ("暖气费多少钱一平米？", True), ("电梯怎么又坏了", False), ("这是咋回事啊", False),
                                        ("5号楼楼道灯坏了好几天", False), ("@小助手 楼下垃圾三天没人收", False),
                                        ("能不能申请退一部分取暖费", True), ("能不能把楼梯间的灯修一下", False),
                                        ("那辆车天天堵着消防通道 能不能管管", False), ("3号楼怎么停水了 也没通知", False),
                                        ("咋没人来修", False)])
def test_whether_a_message_also_asks_something(text, asks):
    assert faq_matcher.asks(text) is asks


@pytest.mark.parametrize("intent, question, entry", [("greet", "@社区小助手 下午好 老年卡丢了怎么补", "senior_card"),
                                                     ("inform", "我住翠柳苑 物业费的收费标准是多少", "property_fee")])
def test_a_greeting_or_a_compound_named_that_goes_on_to_ask_is_answered(sample, intent, question, entry):
    assert choose(sample, intent, question).answer.id == entry


@pytest.mark.parametrize("intent, question, entry", [("chitchat", "小助手 你知道老年卡丢了去哪补吗", "senior_card"),
                                                     ("neighbour_post", "邻居们 物业费的收费标准是多少啊", "property_fee")])
def test_small_talk_that_asks_is_asked_of_the_faq(sample, intent, question, entry):
    assert resolves(choose(sample, intent, question), entry)


@pytest.mark.parametrize("intent, question, entry", [("ask_ticket_status", "报修的进度在哪里查", "ticket_progress"),
                                                     ("unsatisfied", "对处理结果不满意怎么评价", "satisfaction_rating")])
def test_a_status_or_rating_message_that_asks_how_is_asked_of_the_faq(sample, intent, question, entry):
    assert resolves(choose(sample, intent, question), entry)


@pytest.mark.parametrize("intent, text", [("ask_ticket_status", "我上周报的路灯修好没"), ("unsatisfied", "不满意 还是很多"),
                                          ("satisfied", "满意 谢谢")])
def test_a_status_or_rating_message_that_does_not_ask_how_is_not_answered_from_the_faq(sample, intent, text):
    assert choose(sample, intent, text) == faq_matcher.NOTHING


@pytest.mark.parametrize("intent, text", [("chitchat", "今天天气真好 老年卡办下来了开心"), ("thank", "老年卡的事谢谢你们啊"),
                                          ("announcement", "物业费收费标准调整的通知请大家看一下吗")])
def test_small_talk_that_does_not_ask_thanks_and_notices_are_not_answered_from_the_faq(sample, intent, text):
    assert choose(sample, intent, text) == faq_matcher.NOTHING


@pytest.mark.parametrize("intent, text", [("greet", "@社区小助手 早上好"), ("inform", "我住长青家园7栋"), ("inform", "翠柳苑")])
def test_a_greeting_or_a_compound_named_on_its_own_is_not_answered_from_the_faq(sample, intent, text):
    assert choose(sample, intent, text) == faq_matcher.NOTHING


def test_an_entry_for_another_community_is_not_given(sample):
    question = "社区服务中心几点开门"
    assert choose(sample, "ask_info", question, community="和谐社区").answer.id == "service_center_hexie"
    assert choose(sample, "ask_info", question, community="光明社区").answer.id == "service_center_guangming"
    elsewhere = choose(sample, "ask_info", question, community="幸福社区")  # no entry names it
    assert all(entry.community is None for entry in (elsewhere.answer, *elsewhere.suggestions) if entry)


def test_words_naming_one_of_the_suggestions_pick_it(sample):
    offered = ["heating_season_dates", "heating_fee", "heating_preparation"]
    assert sample.pick("暖气费怎么交", offered).id == "heating_fee"
    assert sample.pick("帮我写一首关于秋天的诗", offered) is None


def test_an_edit_of_the_faq_in_the_database_answers_the_next_question(engine, tmp_path):
    question = "小区里能不能养鸡"
    with Session(engine, future=True) as session, session.begin():
        faq_store.import_entries(session, faq.load(write(tmp_path, GOOD)), "test", utc_now())
    with Session(engine, future=True) as session:
        before = faq_matcher.current(session)
        assert before.choose(question).answer is None
    with Session(engine, future=True) as session, session.begin():
        faq_store.add_entry(session, "poultry", [question, "小区可以养家禽吗"], "小区内禁止饲养家禽。", None, "zhang", utc_now())
    with Session(engine, future=True) as session:
        assert faq_matcher.current(session).choose(question).answer.id == "poultry"
        assert faq_store.changes(session)[0].actor == "zhang"


def test_without_a_faq_in_the_database_the_bot_answers_from_the_file(engine, monkeypatch, tmp_path):
    monkeypatch.setenv("FAQ_FILE", str(write(tmp_path, GOOD)))
    with Session(engine, future=True) as session:
        assert set(faq_matcher.current(session).entries) == {"service_center_hours", "garbage_sorting"}


def test_embeddings_are_kept_for_the_next_process_and_a_cache_that_cannot_be_written_costs_only_time(
        tmp_path, monkeypatch):
    from bot import embeddings
    questions = ["暖气什么时候来", "老年卡在哪办"]
    monkeypatch.setenv("EMBEDDING_CACHE", str(tmp_path / "cache"))
    first = embeddings.embed(questions)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 2  # a file for each text
    assert (embeddings.embed(questions) == first).all()
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("EMBEDDING_CACHE", str(tmp_path / "a_file" / "cache"))
    assert abs(embeddings.embed(questions) - first).max() < 1e-5
