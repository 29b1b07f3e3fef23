"""The console's 常见问题 page in real Chromium: an admin finds the senior card entry by searching,
changes its answer, adds a way of asking it, sees both on the entry's timeline, and the bot
answers that new question with the new answer at once. The console runs as `make run` starts it,
on an SQLite file with the sample site and the sample FAQ. Screenshots go to tests/artifacts/."""
from sqlalchemy.orm import Session

from bot import faq, faq_matcher, faq_store
from bot.clock import utc_now
from conftest import ROOT
from console_browser import log_in, screenshot
from console_site import PASSWORD
from test_console_browser import console_url, page, site  # noqa: F401 - fixtures

NEW_ANSWER = ("老年卡丢了先打社区电话挂失，再带身份证和一张近期免冠照片到社区党群服务中心补办，"
              "也可在政务服务App上申请补卡，约20个工作日制好，社区会电话通知领取。")
NEW_QUESTION = "我爸的老年优待卡丢了，补卡去哪"


def test_an_admin_edits_the_senior_card_entry_and_the_bot_answers_with_it(site, console_url, page):  # noqa: F811
    built, _ = site
    with Session(built.engine, future=True) as s, s.begin():
        faq_store.import_entries(s, faq.load(ROOT / "faq" / "sample_faq.yml"), "test", utc_now())
    log_in(page, console_url, "admin", PASSWORD)
    page.click("nav >> text=常见问题")
    page.fill("input[name=q]", "老年卡")
    page.click("button:has-text('搜索')")
    page.wait_for_url("**/faq?q=*")
    assert page.locator("#entries a", has_text="senior_card").count() == 1
    screenshot(page, "faq_search")
    page.click("#entries a:has-text('senior_card')")
    page.fill("#answer", NEW_ANSWER)
    page.click("button:has-text('保存答案')")
    page.wait_for_selector("text=答案已保存，居民下一次问就按新答案回答。")
    assert page.locator("#answer").input_value() == NEW_ANSWER
    page.fill("input[type=text][name=text]", NEW_QUESTION)
    page.click("button:has-text('添加问法')")
    page.wait_for_selector("text=问法已添加。")
    added = page.locator("#questions tr", has_text=NEW_QUESTION)
    assert added.count() == 1 and added.locator("td").nth(1).inner_text() == "工作台"
    timeline = page.locator("#timeline li")
    assert timeline.filter(has_text="修改答案").filter(has_text="admin").count() == 1
    assert timeline.filter(has_text=f"添加问法：{NEW_QUESTION}").filter(has_text="admin").count() == 1
    screenshot(page, "faq_entry_edited")
    with Session(built.engine, future=True) as s:
        choice = faq_matcher.current(s).choose(NEW_QUESTION)
    answered = choice.answer is not None and choice.answer.id == "senior_card"
    assert answered or "senior_card" in [e.id for e in choice.suggestions], choice
    senior_card = choice.answer if answered else next(e for e in choice.suggestions if e.id == "senior_card")
    assert senior_card.answer == NEW_ANSWER and NEW_QUESTION in senior_card.questions
