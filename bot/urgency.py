"""Urgent situations (紧急情况): life or property in danger right now.

Each rule names the danger, the category it belongs to, the words residents use for it and
the emergency number that fits. The org directory may supply a compound's own gas or lift
company hotline; without one the public number is given.
"""
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Danger:
    kind: str
    category: str
    pattern: re.Pattern
    advice_zh: str
    public_number: str
    hotline_key: str | None = None  # a directory hotline that comes first when known


_NEGATION = re.compile(r"(没有|没|不是|不会|并非|别|防止|预防|以防|快)$")
# "要是起火就完了", "真着火了怎么办": a fear, not a danger happening now
_HYPOTHETICAL = re.compile(r"(要是|如果|万一|假如|一旦|哪天|到时候|真要|真(?!的))[^，。,.!！？?\n]{0,8}$")

_CLAUSE = r"[^，。,.!！？?\n]"  # within one clause

DANGERS = [
    Danger(
        "fire", "safety_security",
        re.compile(r"(?<![打点不没])着火|起火|失火|火灾|(发生|有|出现|报)火警|火警了|烧起来|着起来|冒(黑|浓|白)?烟|浓烟|黑烟|"
                   r"烟雾很大|烧焦味|焦糊味"),
        "请立即远离火源、走楼梯撤离，并拨打火警电话", "119",
    ),
    Danger(
        "gas_leak", "gas",
        re.compile(rf"(煤气|燃气|天然气|液化气){_CLAUSE}{{0,4}}(味|泄漏|泄露|漏了|漏气|呲|嘶嘶)|漏气|"
                   rf"闻到{_CLAUSE}{{0,4}}(煤气|燃气|天然气)|臭鸡蛋味"),
        "请立即开窗通风，不要开关电器、不要在室内打电话，撤离后拨打燃气抢修电话或", "119",
        "gas_company",
    ),
    Danger(
        "trapped_in_lift", "elevator",
        re.compile(rf"(困|关|卡)在{_CLAUSE}{{0,8}}(电梯|梯)|电梯{_CLAUSE}{{0,6}}(困|关|卡)(住)?(了)?(人|老人|小孩|孩子|住)|"
                   rf"被困|电梯[^\n]{{0,20}}(里[面头]?[^\n]{{0,8}}出不来|被关在|关在里面|困在里面|卡在{_CLAUSE}{{0,6}}(中间|半空|当中))|"
                   rf"电梯{_CLAUSE}{{0,4}}(突然)?(下坠|坠落|冲顶|溜梯)|电梯{_CLAUSE}{{0,4}}开着门{_CLAUSE}{{0,2}}(上|下|走|跑)"),
        "请安抚被困人员不要扒门，按电梯内紧急呼叫按钮，并拨打电梯维保电话或", "119",
        "lift_company",
    ),
    Danger(
        "sparks", "power",
        re.compile(rf"火花|(电线|线路|插座|插头|电箱|电表箱|配电|开关|电闸){_CLAUSE}{{0,6}}(打火|冒火|跳火|拉弧|冒烟|烧|着了)|"
                   r"漏电|电到人|触电"),
        "请不要靠近、不要用水扑救，能断电的先拉闸，并拨打", "119",
    ),
    Danger(
        "open_manhole", "facilities",
        re.compile(rf"井盖{_CLAUSE}{{0,6}}(没了|丢|不见|被偷|掉|塌|破|碎|翻|掀|缺|移位|空)|没(有)?井盖|"
                   rf"下水井{_CLAUSE}{{0,4}}(敞|开着)"),
        "请在旁边设置提醒、看住行人和孩子，并拨打", "110",
    ),
    Danger(
        "falling_masonry", "facilities",
        re.compile(rf"(瓷砖|墙皮|外墙|墙砖|砖头|水泥块|玻璃|广告牌|空调外机|窗户){_CLAUSE}{{0,6}}"
                   r"(掉下|掉落|往下掉|掉了?[一几两好]?[块片]|脱落|砸|坠落|摇摇欲坠|快掉)"),
        "请远离下方、拉起警戒，并拨打", "110",
    ),
    Danger(
        "dog_bite", "pets",
        re.compile(rf"(狗|犬){_CLAUSE}{{0,8}}(?<![不没别])咬(?!人吗)|咬{_CLAUSE}{{0,4}}(狗|犬)"),
        "请立即用清水和肥皂冲洗伤口15分钟，尽快到医院打狂犬疫苗，需要时拨打急救电话", "120",
    ),
    Danger(
        "elderly_unresponsive", "care_request",
        re.compile(r"(老人|老太太|老大爷|大爷|奶奶|爷爷|大妈|老头|老太|独居)[^\n]{0,30}?"
                   r"(敲门{0,1}[^\n]{0,4}(不应|没人应|没反应|没人开)|没人应|不开门|屋里没(有)?动静|"
                   r"(好|两|三|几)天没(见|看见|看到)?[^\n]{0,3}(出门|下楼|出来|露面|见人|见着)|联系不上|电话[^\n]{0,3}(不接|打不通)|"
                   r"摔倒|晕倒|倒在地)"),
        "请先拨打110或120，并尽量联系家属和楼栋长", "110",
    ),
    Danger(
        "violence", "safety_security",
        re.compile(r"拿刀|持刀|砍人|动刀|要杀|杀人|打人了|打起来了|见血"),
        "请先保护好自己，远离现场，并拨打报警电话", "110",
    ),
]


def find_danger(text: str) -> Danger | None:
    """The first urgent situation the message describes, unless it is negated (没有煤气味)."""
    for danger in DANGERS:
        for match in danger.pattern.finditer(text):
            before = text[max(0, match.start() - 3):match.start()]
            clause = text[max(0, match.start() - 10):match.start()]
            if not _NEGATION.search(before) and not _HYPOTHETICAL.search(clause):
                return danger
    return None


def emergency_message(danger: Danger, hotlines: dict[str, str] | None = None) -> str:
    """The first thing an urgent report hears: what to do now and the number to call."""
    number = danger.public_number
    if danger.hotline_key and hotlines and hotlines.get(danger.hotline_key):
        number = f"{hotlines[danger.hotline_key]}（或{danger.public_number}）"
    return f"【紧急】{danger.advice_zh}{number}！"
