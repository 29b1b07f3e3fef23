"""The one decision function: category and urgency from an NLU result."""
from pathlib import Path

import pytest
import yaml

from bot.decision import REPORT_CONFIDENCE, REPORT_SHARE, decide
from bot.taxonomy import CATEGORIES, CATEGORY_IDS, NONE, category_for_intent
from bot.urgency import emergency_message, find_danger

ROOT = Path(__file__).resolve().parent.parent


def parse(text: str, *ranking: tuple[str, float]) -> dict:
    items = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    return {"text": text, "intent": items[0] if items else {}, "intent_ranking": items, "entities": []}


def test_a_confident_report_files_its_category():
    decision = decide(parse("7号楼暖气不热", ("report_heating", 0.93), ("report_water", 0.04)))
    assert (decision.category, decision.urgent) == ("heating", False)


def test_a_greeting_or_a_question_files_nothing():
    assert decide(parse("你好", ("greet", 0.98))).category == NONE
    assert decide(parse("党群服务中心几点开门", ("faq", 0.9))).category == NONE


def test_an_unsure_model_files_nothing():
    decision = decide(parse("嗯那个事", ("nlu_fallback", REPORT_CONFIDENCE), ("report_noise", REPORT_CONFIDENCE - 0.1)))
    assert decision.category == NONE and not decision.urgent


def test_the_fallback_classifier_is_looked_past_when_the_report_is_confident_enough():
    decision = decide(parse("井盖", ("nlu_fallback", REPORT_CONFIDENCE), ("report_facilities", REPORT_SHARE + 0.1)))
    assert decision.category == "facilities"


def test_a_report_the_model_splits_between_two_categories_is_filed_under_the_likelier():
    decision = decide(parse("信箱锈得打不开了 钥匙插不进去", ("report_facilities", 0.45), ("report_gas", 0.4),
                            ("ask_info", 0.15)))
    assert (decision.category, decision.confidence) == ("facilities", 0.45)


def test_talk_a_report_intent_wins_by_a_hair_is_not_filed_but_asked_about():
    decision = decide(parse("我们小时候哪有暖气 冬天手都冻僵了", ("report_heating", 0.52), ("chitchat", 0.45),
                            ("report_water", 0.03)))
    assert (decision.category, decision.likely_category) == (NONE, "heating")


@pytest.mark.parametrize("text, category, number", [
    ("3号楼2单元冒黑烟了 好像着火了", "safety_security", "119"),
    ("楼道里一股煤气味 好冲", "gas", "119"),
    ("电梯困人了 里面有个老人", "elevator", "119"),
    ("一楼电表箱在冒火花 噼里啪啦的", "power", "119"),
    ("小区东门那个井盖没了 晚上看不见", "facilities", "110"),
    ("12栋外墙瓷砖往下掉 差点砸到人", "facilities", "110"),
    ("孩子被楼下的狗咬了一口", "pets", "120"),
    ("7号楼发生火警了 快来人", "safety_security", "119"),
    ("5栋独居的王奶奶敲门不应 两天没见了", "care_request", "110"),
    ("3号楼楼顶有个人站在边上 好像要跳楼", "safety_security", "110"),
    ("有个孩子爬到12楼窗户外面了 家里没人", "safety_security", "110"),
    ("对门大姐吞了一瓶安眠药 叫不醒", "safety_security", "120"),
    ("楼下的小伙子在家割腕了", "safety_security", "120"),
    ("隔壁大哥在家上吊了 还有气", "safety_security", "120"),
    ("我不想活了", "safety_security", "12356"),
    ("楼道里一股味道 是不是燃气管漏了", "gas", "119"),  # suspected, not denied
    ("回复@物业：还没人来 东梯里那个阿姨还困着 都半小时了", "elevator", "119"),
])
def test_urgent_dangers_are_caught_with_the_number_that_fits(text, category, number):
    unsure = decide(parse(text, ("nlu_fallback", 0.4), ("chitchat", 0.2)))
    assert (unsure.category, unsure.urgent) == (category, True)
    assert number in emergency_message(unsure.danger)


@pytest.mark.parametrize("text", [
    "我爸在卫生间摔倒了 爬不起来", "2单元门口有个人躺地上 叫不醒", "有个小孩掉进小区的水池里了",
    "我家孩子突然浑身抽搐 口吐白沫", "她疼得昏过去了", "孩子热得晕倒了 快来人", "我奶奶在家晕倒了",
    "阿婆跌咗落地 起唔到身", "我人在外地 我爸一个人在家摔倒了爬不起来", "请大家帮忙转发 有个小孩掉进河里了 在东门",
])
def test_someone_ill_or_hurt_now_is_told_to_call_an_ambulance(text):
    unsure = decide(parse(text, ("nlu_fallback", 0.4), ("chitchat", 0.2)))
    assert (unsure.category, unsure.urgent, unsure.danger.kind) == ("care_request", True, "medical_emergency")
    assert unsure.danger.public_number == "120" and "120" in emergency_message(unsure.danger)


@pytest.mark.parametrize("text, kind", [
    ("差点滑倒 地上全是煤气味", "gas_leak"), ("差点着火了 现在还在冒烟", "fire"),
    ("快去看看 电梯里有没有人被困", "trapped_in_lift"), ("物业反应也太差些了 现在电梯里还困着人", "trapped_in_lift"),
])
def test_a_nearly_or_a_question_in_another_clause_leaves_a_danger_urgent(text, kind):
    assert find_danger(text).kind == kind


def test_the_model_category_stands_for_an_urgent_report():
    decision = decide(parse("电梯里有股煤气味", ("report_elevator", 0.8)))
    assert (decision.category, decision.urgent) == ("elevator", True)


@pytest.mark.parametrize("text", [
    "燃气表不走字了", "电梯有异响", "暖气不热", "楼下装修太吵", "没有煤气味了 谢谢", "狗没拴绳",
    "井盖响得厉害", "电动车在楼道充电", "消防通道堵死了 要是着火了消防车都进不来", "两家吵得都快打起来了",
    "热水器打不着火", "腿上被蚊子咬了好几个包", "灶上火苗特别小",
    "火警电话是多少", "家里老人要记的急救 火警 报警电话有哪些",  # the number's name, not a fire
    # the thing named, the danger denied between them
    "北面外墙的瓷砖鼓包了 还没往下掉 早点修", "燃气灶没漏气 就是点不着", "插座没冒烟 就是摸着烫手",
    "物业费又涨了 我都想跳楼了", "有人站在窗台上擦玻璃 水滴到楼下了", "楼下吵架 好多人探头往窗外看",
    # a complaint's figure of speech, a longing
    "楼上装修吵得我都不想活了", "物业费又涨了 我想死的心都有了", "想死你们了 终于放假回来了",
    "不是燃气漏了 是下水道返上来的味",
    # words of someone ill or hurt, in a complaint's figure of speech or about a thing
    "楼下广场舞吵得我快晕过去了", "看到这个物业费我当场休克", "这停车费贵得让人休克", "笑得我昏过去了 这个通知太逗了",
    "物业根本没有意识到问题的严重性", "保安在岗亭睡觉 叫都叫不醒", "门卫大爷睡着了 敲窗户都叫不醒",
    "缴费系统抽风了 付不了款", "卫生间抽风扇不转了", "暑假防溺水宣传什么时候搞", "孩子的球掉进水池了 能帮忙捞一下吗",
    "孩子把手机掉进水里了", "冰雹砸到人家车上了", "门口的摄像头被人砸破了", "手机摔了一下 现在动不了了",
    "推拉门滑轨坏了 门动不了", "台风快来了 阳台上的花盆收一收 别吹下去砸到人",
    "我妈中风以后半边身子动不了 想申请社区医生上门", "冬天烧炉子记得开窗 煤气中毒可不是闹着玩的",
    # 上吊 that hangs a thing from a window, not a person
    "8栋三楼又从窗户上吊个电线下来给电瓶车充电", "楼上吊下来一个插线板 挂在半空",
])
def test_everyday_reports_are_not_urgent(text):
    assert find_danger(text) is None


@pytest.mark.parametrize("text, kind", [
    ("电体困人 5幢 快快快", "trapped_in_lift"), ("楼道里一股煤汽味 熏得头疼", "gas_leak"),
    ("厨房里然气味好重", "gas_leak"), ("井该不见了 下面好深", "open_manhole"),
])
def test_a_danger_word_typed_by_its_sound_is_still_the_danger(text, kind):
    assert find_danger(text).kind == kind


@pytest.mark.parametrize("text", [
    "暖气片摸着是凉的 感觉没气了",  # 没气 sounds like 煤气
    "3单元一楼电线老化了 找人换换",  # 楼电 sounds like 漏电
    "楼下饭店燃起的油烟太呛了",  # 燃起 is a word, not 燃气 mistyped
])
def test_words_that_only_sound_like_a_danger_word_are_left_as_written(text):
    assert find_danger(text) is None


def test_a_very_confident_non_report_is_not_overruled_by_a_danger_word():
    assert decide(parse("着火了怎么报警 119吗", ("faq", 0.95))).category == NONE


def test_a_danger_is_urgent_even_when_the_model_leans_to_another_intent():
    decision = decide(parse("8号楼前的井盖不见了 快来处理", ("ask_ticket_status", 0.6)))
    assert (decision.category, decision.urgent) == ("facilities", True)


def test_the_directory_hotline_comes_first_when_known():
    danger = find_danger("闻到燃气味了")
    assert "96777" in emergency_message(danger, {"gas_company": "96777"})


def test_every_category_has_its_intent_in_the_domain():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert {c.intent for c in CATEGORIES.values()} <= set(domain["intents"])
    assert [category_for_intent(f"report_{c}").id for c in CATEGORY_IDS] == list(CATEGORY_IDS)
    assert category_for_intent("greet") is None


def test_the_fallback_never_hides_an_intent_sure_enough_to_file():
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    fallback = next(c for c in config["pipeline"] if c["name"] == "FallbackClassifier")
    assert fallback["threshold"] <= REPORT_CONFIDENCE


def test_a_request_for_a_person_inside_a_report_is_both():
    text = "转人工 9栋楼道灯不亮好几天了"
    decision = decide(parse(text, ("report_power", 0.52), ("request_human", 0.43), ("chitchat", 0.02)))
    assert (decision.category, decision.asks_for_person) == ("power", True)
    decision = decide(parse("我要找人工，A座楼下的垃圾三天没人收了", ("request_human", 0.7), ("report_sanitation", 0.28)))
    assert (decision.category, decision.asks_for_person) == ("sanitation", True)


def test_a_request_for_a_person_alone_is_not_a_report():
    for text in ("转人工", "我要找人工！！", "人工客服 谢谢"):
        decision = decide(parse(text, ("request_human", 0.6), ("report_power", 0.3)))
        assert (decision.category, decision.asks_for_person) == (NONE, True)


@pytest.mark.parametrize("text", [
    "上次2号楼着火以后楼道里的灯一直没修", "去年电梯困过人 到现在也没人来查",  # over
    "万一着火了人都跑不出去", "要是漏电了电到孩子怎么办", "电梯三天两头坏 就怕哪天老人关在里面出不来",  # feared
    "燃气泄漏打什么电话", "电梯困人怎么自救",  # asked about in general
    "老爸退休后总闷着 就怕他想不开",  # feared
    "上个月我爸晕倒过 现在好了", "万一我妈在家摔倒了爬不起来怎么办", "楼上扔下来个瓶子 差点砸到人",
    "我妈刚才差一点儿就晕倒了 现在坐着歇会",  # nearly
    "看新闻说外地有个小区燃气爆炸了 好吓人", "昨晚做梦梦见家里着火了 吓醒了",  # elsewhere, dreamt
])
def test_a_danger_that_is_over_feared_or_asked_about_is_not_urgent(text):
    assert find_danger(text) is None


@pytest.mark.parametrize("text", ["家里煤气味好大怎么办", "上次修好了 现在又冒烟了", "樓道裡著火了",
                                  "听说5号楼电梯困人了 里面有小孩", "朋友圈说我们小区3号楼着火了",
                                  "电梯里我妈害怕得直哭 出不来"])
def test_a_danger_happening_now_is_urgent_however_it_is_asked_or_written(text):
    assert decide(parse(text, ("report_safety_security", 0.6))).urgent


def learned(danger: str, p: float, modality: str = "now", q: float = 0.9) -> dict:
    return {"danger": danger, "danger_confidence": p, "modality": modality, "modality_confidence": q}


def test_the_learned_danger_finds_what_the_rules_have_no_word_for():
    message = {**parse("楼下的柯基把我手咬破了", ("report_pets", 0.8)), "urgency": learned("dog_bite", 0.9)}
    decision = decide(message)
    assert decision.urgent and decision.danger.public_number == "120"
    unsure = {**parse("楼下的柯基又在叫", ("report_pets", 0.8)), "urgency": learned("dog_bite", 0.2)}
    assert not decide(unsure).urgent


def test_someone_hurt_in_a_fight_hears_the_police_when_the_learned_model_names_the_fight():
    text = "楼下有人被捅了一刀 流了好多血"
    ruled = decide(parse(text, ("report_safety_security", 0.8)))
    assert ruled.danger.kind == "medical_emergency"  # the rules hear only the harm
    told = decide({**parse(text, ("report_safety_security", 0.8)), "urgency": learned("violence", 0.9)})
    assert told.urgent and told.danger.kind == "violence" and "110" in emergency_message(told.danger)
    unsure = decide({**parse(text, ("report_safety_security", 0.8)), "urgency": learned("violence", 0.1)})
    assert unsure.danger.kind == "medical_emergency"


def test_a_learned_danger_the_rules_found_negated_stays_set_aside():
    message = {**parse("没有煤气味了 谢谢", ("report_gas", 0.7)), "urgency": learned("gas_leak", 0.8)}
    assert not decide(message).urgent


def test_only_a_sure_learned_modality_sets_aside_a_danger_the_rules_found():
    text = "后来楼道里又冒烟了"
    assert decide({**parse(text, ("report_safety_security", 0.8)), "urgency": learned("fire", 0.9, "past", 0.6)}).urgent
    assert not decide({**parse(text, ("report_safety_security", 0.8)),
                       "urgency": learned("fire", 0.9, "past", 0.97)}).urgent


def test_talk_about_a_danger_elsewhere_is_not_urgent_when_intent_and_modality_agree():
    text = "朋友圈说隔壁小区着火了 我们楼也老 有点怕"
    talk = parse(text, ("neighbour_post", 0.7), ("report_safety_security", 0.2))
    assert (decide(talk).category, decide(talk).urgent) == ("safety_security", True)  # no learned reading: the rules stand
    mentioned = decide({**talk, "urgency": learned("fire", 0.6, "mentioned", 0.6)})
    assert (mentioned.category, mentioned.urgent) == (NONE, False)
    # either reading alone leaves the danger standing
    assert decide({**talk, "urgency": learned("fire", 0.9, "now", 0.9)}).urgent
    report = parse(text, ("report_safety_security", 0.7), ("neighbour_post", 0.2))
    assert decide({**report, "urgency": learned("fire", 0.6, "mentioned", 0.6)}).urgent


def test_a_danger_happening_now_told_with_a_question_is_urgent_however_sure_the_question():
    question = parse("9号楼楼道里有股煤气味 抢修电话多少", ("ask_info", 0.95))
    now = decide({**question, "urgency": learned("gas_leak", 0.9, "now", 0.65)})
    assert (now.category, now.urgent) == ("gas", True)
    assert not decide({**question, "urgency": learned("gas_leak", 0.9, "asked", 0.7)}).urgent


def test_a_probable_report_of_no_sure_category_names_its_likeliest():
    decision = decide(parse("那个梯子又不对劲了", ("nlu_fallback", 0.4), ("report_elevator", 0.35),
                            ("report_facilities", 0.3)))
    assert (decision.category, decision.likely_category) == (NONE, "elevator")
    assert decide(parse("你好呀", ("greet", 0.9), ("report_noise", 0.05))).likely_category is None


def test_a_message_that_only_names_a_compound_answers_where_and_is_no_danger():
    # "火星花园" answering "哪个小区": a model that reads 火星 as sparks files nothing
    message = {**parse("火星花园", ("report_power", 0.85)), "urgency": learned("sparks", 0.95),
               "entities": [{"entity": "compound", "start": 0, "end": 4, "value": "火星花园"}]}
    decision = decide(message)
    assert (decision.category, decision.urgent, decision.intent) == (NONE, False, "inform")
    assert decision.only_a_place


def test_an_unsure_message_the_model_leans_to_inform_on_is_not_taken_for_a_place():
    decision = decide(parse("那个啥", ("nlu_fallback", 0.4), ("inform", 0.35)))
    assert decision.intent == "inform" and not decision.only_a_place


def test_a_danger_said_beside_a_compound_name_is_still_urgent():
    text = "火星花园3号楼电梯困人了"
    places = [{"entity": "compound", "start": 0, "end": 4, "value": "火星花园"},
              {"entity": "building", "start": 4, "end": 7, "value": "3"}]
    decision = decide({**parse(text, ("report_elevator", 0.9)), "entities": places})
    assert decision.urgent and decision.category == "elevator"
