"""Urgent situations (紧急情况): life or property in danger right now.

Each rule names the danger, the category it belongs to, the words residents use for it and
the emergency number that fits. The org directory may supply a compound's own gas or lift
company hotline; without one the public number is given.
"""
import re
from dataclasses import dataclass

from bot.respell import syllable


@dataclass(frozen=True)
class Danger:
    kind: str
    category: str
    pattern: re.Pattern
    advice_zh: str
    public_number: str
    hotline_key: str | None = None  # a directory hotline that comes first when known


# "是不是燃气管漏了" suspects the danger, it does not deny it: 不是 after 是 is no negation.
_NEGATION = re.compile(r"(没有|没人|无人|没|(?<!是)不是|不会|并非|别|防止|预防|以防|快)$")
# "要是起火就完了", "真着火了怎么办": a fear, not a danger happening now
_HYPOTHETICAL = re.compile(r"(要是|如果|万一|假如|一旦|哪天|到时候|真要|真(?!的)|担心|担忧|害怕|生怕|怕|早晚|迟早|容易)"
                           r"[^，。,.!！？?\n]{0,8}$")
# A condition inside the words a rule matched, between the thing and what would happen to it
# ("电梯三天两头坏 就怕哪天她关在里面出不来"). Fear as a feeling (害怕, 吓) is left out: it is how
# people in a real emergency talk.
_CONDITION_WITHIN = re.compile(r"要是|如果|万一|假如|一旦|哪天|到时候|真要|就怕|生怕")
# "独居老人联系不上的话…", "燃气漏了的话找谁": a condition, said after the danger.
_CONDITION_AFTER = re.compile(r"^[^，。,.!！？?\n]{0,4}的话")
# "差点砸到人", "险些晕倒", "差一点儿就晕倒了" (Cantonese 差啲, 差少少): it nearly happened. Only right
# before the words (the pattern ends the text before them):
# "差点滑倒 地上全是煤气味" and "差点着火了 现在还在冒烟" are dangers.
_NEARLY = re.compile(r"(差点儿?|差一点儿?|险些|差些|差少少)[就又都也]?$")

_CLAUSE = r"[^，。,.!！？?\n]"  # within one clause
# Between a thing and what happens to it: "墙皮起壳了还没往下掉", "燃气灶没漏气": the thing is
# named, the danger is denied.
_NOT = r"(?<![没未不])"
# who or what a falling thing struck: not 摄像头, 头顶, 人家的车, 人行道, 孩子的自行车
_NOT_A_THINGS_HEAD = r"(?<![像车外里上码镜龙石探])"  # 摄像头, 车头, 外头, 码头 …: no one's head
_STRUCK = rf"({_NOT_A_THINGS_HEAD}头(?![顶盔])|脑袋|人(?![家行])|孩子(?![家的])|小孩(?![家的])|老人(?![家的]))"
# "吵得我都要晕倒了", "看到这个月的水费我当场休克", "贵得让人休克": a complaint's figure of speech
_NOT_A_FIGURE = (r"(?<![要快])(?<!得我)(?<!得人)(?<!直接)(?<!当场)(?<!让人)(?<!让我)(?<!简直)(?<!整个人都)"
                 r"(?<!笑得)(?<!气得)(?<!吵得)")

MEDICAL = "medical_emergency"  # someone ill or hurt: the harm that other dangers cause too

DANGERS = [
    Danger(
        "fire", "safety_security",
        re.compile(r"(?<![打点不没])着火|起火|失火|火灾|(发生|有|出现|报)火警|火警了|烧起来|着起来|冒(黑|浓|白)?烟|浓烟|黑烟|"
                   r"烟雾很大|烧焦味|焦糊味"),
        "请立即远离火源、走楼梯撤离，并拨打火警电话", "119",
    ),
    Danger(
        "gas_leak", "gas",
        re.compile(rf"(煤气|燃气|天然气|液化气){_CLAUSE}{{0,4}}{_NOT}(味|泄漏|泄露|漏了|漏气|呲|嘶嘶)|漏气|"
                   rf"闻到{_CLAUSE}{{0,4}}(煤气|燃气|天然气)|臭鸡蛋味|(煤气|燃气|天然气|一氧化碳)中毒了"),
        "请立即开窗通风，不要开关电器、不要在室内打电话，撤离后拨打燃气抢修电话或", "119",
        "gas_company",
    ),
    Danger(
        "trapped_in_lift", "elevator",
        re.compile(rf"(困|关|卡)在{_CLAUSE}{{0,8}}(电梯|梯)|电梯{_CLAUSE}{{0,6}}(困|关|卡)(住)?(了)?(人|老人|小孩|孩子|住)|"
                   rf"被困|电梯[^\n]{{0,20}}(里[面头]?[^\n]{{0,8}}出不来|被关在|关在里面|困在里面|卡在{_CLAUSE}{{0,6}}(中间|半空|当中))|"
                   rf"梯(里|内)[面头]?{_CLAUSE}{{0,10}}困着|"
                   rf"电梯{_CLAUSE}{{0,4}}(突然)?(下坠|坠落|冲顶|溜梯)|电梯{_CLAUSE}{{0,4}}开着门{_CLAUSE}{{0,2}}(上|下|走|跑)"),
        "请安抚被困人员不要扒门，按电梯内紧急呼叫按钮，并拨打电梯维保电话或", "119",
        "lift_company",
    ),
    Danger(
        "sparks", "power",
        re.compile(rf"火花|(电线|线路|插座|插头|电箱|电表箱|配电|开关|电闸){_CLAUSE}{{0,6}}{_NOT}(打火|冒火|跳火|拉弧|冒烟|烧|着了)|"
                   r"漏电|电到人|触电"),
        "请不要靠近、不要用水扑救，能断电的先拉闸，并拨打", "119",
    ),
    Danger(
        "open_manhole", "facilities",
        re.compile(rf"井盖{_CLAUSE}{{0,6}}{_NOT}(没了|丢|不见|被偷|掉|塌|破|碎|翻|掀|缺|移位|空)|没(有)?井盖|"
                   rf"下水井{_CLAUSE}{{0,4}}(敞|开着)"),
        "请在旁边设置提醒、看住行人和孩子，并拨打", "110",
    ),
    Danger(
        "falling_masonry", "facilities",
        re.compile(rf"(瓷砖|墙皮|外墙|墙砖|砖头|水泥块|玻璃|广告牌|空调外机|窗户){_CLAUSE}{{0,6}}"
                   rf"{_NOT}(掉下|掉落|往下掉|掉了?[一几两好]?[块片]|脱落|砸|坠落|摇摇欲坠|快掉)"),
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
                   r"(好|两|三|几)天没(见|看见|看到)?[^\n]{0,3}(出门|下楼|出来|露面|见人|见着)|联系不上|电话[^\n]{0,3}(不接|打不通))"),
        "请先拨打110或120，并尽量联系家属和楼栋长", "110",
    ),
    Danger(
        # someone at the edge of a height: on a roof's edge, outside a window or a railing, or
        # saying they will jump. Said of someone else: "我都想跳楼了" is a complaint, not this.
        "jump_or_fall", "safety_security",
        re.compile(r"(有人|有个|一个|那个|邻居|小孩|孩子|老人|男的|女的|小伙|姑娘|学生)[^\n]{0,12}?"
                   r"((要|想|准备|打算|扬言|闹着|嚷着|喊着)[^\n，。]{0,4}?(跳楼|跳下去|往下跳)|"
                   r"(站|坐|蹲|爬|翻|挂|在)[^\n，。]{0,6}?(楼顶|天台|房顶|屋顶)[^\n，。]{0,2}边|"
                   r"(站|坐|蹲|爬|翻|挂)[^\n，。]{0,6}?(护栏外|栏杆外|窗户外|窗外|窗台外)|"
                   r"探出[^\n，。]{0,2}(窗外|窗户外|护栏外|栏杆外)|(楼顶|天台)[^\n]{0,6}(要跳|往下跳))|"
                   r"(阳台|窗台|窗户)[^\n，。]{0,8}?(人|老人|老太太|大爷|孩子|小孩)[^\n，。]{0,3}往外(爬|翻)"),
        "请让人在旁边稳住他、别刺激他，别让围观的人靠近边缘，并马上拨打报警电话", "110",
    ),
    Danger(
        # the resident themself: "我不想活了". Before self_harm, which would take "我…一个人活不下去"
        # for someone else. Not the complaint's figure of speech after 得 ("吵得我都不想活了", "我想
        # 死的心都有了"), nor "想死你们了" (missed you).
        "in_crisis", "safety_security",
        re.compile(r"(?<![得的])(我|俺)(真的|真|实在|都|就|已经|快|现在|一个人|也|是){0,2}"
                   r"(不想活|活不下去|想死(?!的心|你|您|他|她|我|它|咱|大家)|想自杀|要自杀|想轻生|想一了百了|想了结自己|"
                   r"想结束(自己|生命)|撑不下去了|想伤害(我)?自己)|(真|好|就|都)?想一了百了|活着(真|太|好|都)?没(意思|意义|盼头)|"
                   r"不如死了算了|(?<!得)想死了算了|(^|[\s，。,！!])(真)?想死[了啊]?$|想(伤害|结束)(我)?自己"),
        "您说的我们很重视。请先到有人的地方，别一个人待着；想找人说说话可以拨打"
        "心理援助热线12356（24小时），有危险请马上拨打",
        "110",
    ),
    Danger(
        # someone who has harmed themself or says they will, by other means than a height: by what
        # they did, or by what someone (not the complaint's figure of speech) says. One who only
        # fears it ("担心我妈想不开") is a care matter, set aside as feared.
        "self_harm", "safety_security",
        re.compile(r"(有人|有个|一个|那个|邻居|对门|隔壁|小孩|孩子|老人|老太太|大爷|大妈|大姐|大哥|男的|女的|小伙|"
                   r"姑娘|学生|我(妈|爸|老公|老婆|媳妇|爱人|儿子|女儿|哥|姐|弟|妹|家)|他|她)[^\n]{0,12}?"
                   r"(?<!得我)(?<!得俺)(?<!得人)(?<!我都)(?<!人都)(?<!得我都)(?<!得人都)"
                   r"(自杀|轻生|寻短见|想不开|跳河|跳江|跳湖|不想活|活不下去)|"
                   r"割腕|割脉|(?<!楼)上吊(?![个下着一两几根条只串把块张])|烧炭|服毒|留了?(张|封)?遗书|(吞|喝)了?[^\n，。]{0,4}?(安眠药|农药|百草枯|敌敌畏|老鼠药)|"
                   r"说(要|想)自杀|闹着?(要)?自杀|吞了?(一把|一瓶|整瓶|好多|一堆)药|吃了?(一把|一瓶|整瓶|好多|一堆)(安眠)?药|药全?吞了"),
        "请别让他一个人待着，收走刀具、药物等危险物品，可以拨打心理援助热线12356；已经受伤或服了药的，马上拨打急救电话",
        "120",
    ),
    Danger(
        "violence", "safety_security",
        re.compile(r"拿刀|持刀|砍人|动刀|要杀|杀人|打人了|打起来了|见血"),
        "请先保护好自己，远离现场，并拨打报警电话", "110",
    ),
    Danger(
        # someone ill or hurt now, who needs an ambulance: collapsed, unconscious, fallen and
        # unable to get up, bleeding, in a fit, in the water, struck on the head. Last, so that a
        # bite, a lift, a fight or an old neighbour behind a closed door keeps its own advice.
        # Not a word that names an illness rather than what is happening (中风 is as often a care
        # question as an emergency).
        MEDICAL, "care_request",
        re.compile(
            # unconscious, unless said as a figure of speech
            rf"{_NOT_A_FIGURE}(晕倒|晕过去|昏倒|昏过去|昏迷|休克|不省人事|人事不省|失去意识|没了意识|意识不清|"
            r"没(有)?了?呼吸|没(有)?了?知觉|心跳(没了|停了(?!半拍))|心脏骤停)|"
            r"(倒在|倒地|躺(在)?地|晕|昏)[^\n，。,]{0,10}(叫不醒|喊不醒|叫不应|喊不应|(叫|喊|拍)[他她]?[^\n，。,\s]{0,2}(没反应|不醒))|"
            # a heart attack (not a stroke's lasting signs: "中风以后半边身子动不了" asks for care)
            r"心脏病(犯了|发作|发)|心梗(了|犯了|发作)|"
            # an old person down, or anyone fallen who cannot get up
            r"(老人|老太太|老大爷|大爷|奶奶|爷爷|老头|老太|姥姥|姥爷|外婆|外公)[^\n，。,]{0,20}?((摔倒|跌倒)(了|在|$|(?=[\s，,。!?！？]))|倒在地|倒地)|"
            rf"(?<!车)(?<!车子)(摔倒|跌倒|滑倒|摔了一跤|跌了一跤|摔了个跟头|摔下来|跌下来|摔在地上|倒在地上|倒地|跌了?落地)了?[\s，,]?{_CLAUSE}{{0,6}}"
            r"(起不来|爬不起来|站不起来|起不了身|起不到身|动不了)|"
            # a fit, the water, bleeding, a blow to the head
            r"(浑身|全身|四肢|手脚|身子|烧)[^\n，。,\s]{0,3}抽搐|抽搐(不止|个不停|起来了)|口吐白沫|吐白沫|癫痫(发作|犯了)|犯了?癫痫|"
            r"(?<!防)溺水|有人落水|(有人|孩子|小孩|老人|娃)[^\n，。,\s的把家]{0,4}(掉|落|跌|栽)(进|到)?了?[^\n，。,\s]{0,4}"
            r"(水里|河里|湖里|池里|池子|水池|河|湖|塘|水库|泳池)|"
            r"血流不止|止不住血|血止不住|大出血|流了(好多|很多|一地|一身|一脸|一大摊)(的)?血(?!汗)|满(头|脸|身)(是|都是)?血|"
            # struck, and it has happened (了): not "别吹下去砸到人", "迟早会砸到人"
            rf"砸(到|中|伤|破)(了{_CLAUSE}{{0,3}}{_STRUCK}|{_CLAUSE}{{0,3}}{_STRUCK}{_CLAUSE}{{0,3}}了)|"
            rf"把人砸(伤|到|中|晕)|{_STRUCK}被{_CLAUSE}{{0,6}}砸(伤|破|晕|中|到)了|"
            rf"{_NOT_A_THINGS_HEAD}(头|脑袋)被[^\n，。,\s]{{0,6}}砸(破|伤|晕|出血)"),
        "请不要随意搬动摔倒或昏迷的人，会急救的先施救，派人到楼下路口接救护车，并马上拨打急救电话", "120",
    ),
]


NO_DANGER = "none"  # the learned model's label for a message that describes no danger
NOW = "now"  # the modality of a danger happening now; the others: "past", "feared", "asked"
DANGER_BY_KIND = {danger.kind: danger for danger in DANGERS}

# The learned model's probability of any danger (against none) from which it counts. Weighed on
# make crossval's held-out parses (bench/threshold_sweep.py): the more talk on a danger's subject
# the training data holds, the lower the model puts every danger, and the bar follows it.
LEARNED_DANGER = 0.4
# How sure the learned modality must be that a danger is not happening now: to set aside the
# learned danger, and (surer) to set aside a danger the rules found.
NOT_NOW = 0.5
NOT_NOW_OVER_RULES = 0.8

# "上次着火以后…", "去年电梯困过人": over; unless the clause comes back to now (现在又冒烟了).
_PAST_BEFORE = re.compile(r"(上次|上回|上一次|以前|之前|昨天|昨晚|去年|前年|那次|那回|曾经|前几年|前些年|前阵子|前段时间|当年|"
                          r"前几天|前两天|上周|上礼拜|上星期|上个月)"
                          r"(?!.*(现在|刚才|刚刚|正在|还在|还是|一直|又|今天|今早|今晚|这会))[^。！!？?\n]{0,14}$")
_PAST_AFTER = re.compile(r"^.{0,2}(以后|之后|后来|那次|那回|过后)")
# A question about dangers in general ("燃气泄漏打什么电话"), with nothing that places it here and now.
_ASKED = re.compile(r"打什么电话|怎么救|怎么急救|打哪个电话|打哪个|电话是多少|号码是多少|找谁处理|怎么预防|如何预防|怎么自救|如何自救|"
                    r"要注意什么|怎么避免|应该往|有什么区别|怎么劝|如何劝")
_HERE_AND_NOW = re.compile(r"现在|刚才|刚刚|正在|还在|快来|救命|赶紧|我家|家里|楼道里|屋里|!")
# A danger seen in the news, a video or a dream ("新闻说隔壁市有个小区着火了", "梦见被关在电梯里"):
# not one to send anyone to, unless the message places it here (楼下, 5号楼, 我们小区) or now.
_DREAMT = re.compile(r"梦见|梦到|做梦|做了个梦|噩梦|梦里")
_SEEN_ELSEWHERE = re.compile(r"新闻|视频|朋友圈|抖音|快手|微博|电视|网上|报道|热搜|听说|据说")
_HERE = re.compile(r"我们|咱|本小区|这个小区|楼下|楼上|楼道|门口|\d+号楼|\d+栋|\d+幢|单元")


# The words of the dangers that residents mistype by sound (电体困人, 一股煤汽味, 燃汽灶): the rules
# read such a span as the word when it sounds the same and keeps one of its characters, more
# eagerly than `bot.respell` does for every community word (a missed gas leak costs more than a
# question asked for nothing: 燃其 is 燃气 here, though 其 is a common word). A span
# that differs in a word of grammar (没气 sounds like 煤气), or is itself a word (燃起), is not a
# typo. Words whose sound other common words share (漏电 and 楼电梯, 火花 and 火化) are left out.
_SOUND_ALIKE_WORDS = ("电梯", "燃气", "煤气", "天然气", "液化气", "井盖")
_NOT_A_TYPO = set("没不无未有的了是在也都就还别")
_WORDS_THAT_SOUND_ALIKE = ("燃起",)


_SOUNDS_OF_WORDS = [(word, [syllable(character) for character in word]) for word in _SOUND_ALIKE_WORDS]


def sounds_restored(text: str) -> str:
    """`text` with sound-alike typos of the danger words written as the words (same length)."""
    sounds = [syllable(character) for character in text]
    characters = list(text)
    for word, target in _SOUNDS_OF_WORDS:
        for start in range(len(text) - len(word) + 1):
            span = characters[start:start + len(word)]
            if (sounds[start:start + len(word)] == target and "".join(span) not in (word, *_WORDS_THAT_SOUND_ALIKE)
                    and any(a == b for a, b in zip(span, word))
                    and not any(a != b and a in _NOT_A_TYPO for a, b in zip(span, word))):
                characters[start:start + len(word)] = word
    return "".join(characters)


def scan(text: str) -> tuple[Danger | None, set[str]]:
    """The first danger the rules find happening now, and the kinds they found only negated or
    not happening now (没有煤气味, 上次着火以后) or not here (新闻说…着火了)."""
    text = sounds_restored(text)
    set_aside: set[str] = set()
    asked = bool(_ASKED.search(text)) and not _HERE_AND_NOW.search(text)
    elsewhere = bool(_DREAMT.search(text)) or (bool(_SEEN_ELSEWHERE.search(text))
                                               and not _HERE_AND_NOW.search(text) and not _HERE.search(text))
    for danger in DANGERS:
        for match in danger.pattern.finditer(text):
            before = text[max(0, match.start() - 3):match.start()]
            clause = text[max(0, match.start() - 10):match.start()]
            if (asked or elsewhere or _NEGATION.search(before) or _HYPOTHETICAL.search(clause)
                    or _NEARLY.search(text[:match.start()])
                    or _PAST_BEFORE.search(text[max(0, match.start() - 20):match.start()])
                    or _CONDITION_WITHIN.search(match.group())
                    or _PAST_AFTER.search(text[match.end():]) or _CONDITION_AFTER.search(text[match.end():])):
                set_aside.add(danger.kind)
                continue
            return danger, set_aside
    return None, set_aside


def rule_danger(text: str) -> Danger | None:
    """The first urgent situation the rules find in the message, unless it is negated (没有煤气味),
    over (上次着火以后), feared (万一着火) or asked about in general (燃气泄漏打什么电话)."""
    return scan(text)[0]


def find_danger(text: str, learned: dict | None = None) -> Danger | None:
    """The danger happening now, from the rules (a floor) and the learned model's `urgency` of
    the parse (`nlu.danger_model`), each heard on whether it is happening now."""
    return assess(text, learned)[0]


def not_now(learned: dict | None) -> float:
    """How sure the learned modality is that the danger named is not happening now (over, feared,
    asked about, mentioned); 0 when it reads it as happening now, or there is no learned reading."""
    if not learned or learned.get("modality", NOW) == NOW:
        return 0.0
    return float(learned.get("modality_confidence") or 0)


def happening_now(learned: dict | None) -> float:
    """How sure the learned modality is that the danger named is happening now; 0 when it reads
    it otherwise, or there is no learned reading."""
    if not learned or learned.get("modality", NOW) != NOW:
        return 0.0
    return float(learned.get("modality_confidence") or 0)


def assess(text: str, learned: dict | None = None) -> tuple[Danger | None, bool]:
    """`find_danger`, and whether the rules found it (True) or only the learned model (False)."""
    ruled, set_aside = scan(text)
    if not learned:
        return ruled, ruled is not None
    elsewhen = not_now(learned)
    kind = _learned_kind(learned)
    if ruled is not None and ruled.kind == MEDICAL and elsewhen < NOT_NOW_OVER_RULES and kind not in (None, MEDICAL):
        # someone bleeding or fainted in a fight, a fire, a lift: the learned kind has the advice
        # and the number that fit (110, 119, the lift company) where the rules only heard the harm
        return DANGER_BY_KIND[kind], True
    if ruled is not None:
        return (None, False) if elsewhen >= NOT_NOW_OVER_RULES else (ruled, True)
    if kind is not None and kind not in set_aside and elsewhen < NOT_NOW:
        return DANGER_BY_KIND[kind], False
    return None, False


def _learned_kind(learned: dict) -> str | None:
    """The danger the learned model names, when it is one the bot has advice for and the model is
    sure enough of it to count."""
    kind = learned.get("danger")
    sure = float(learned.get("danger_confidence") or 0) >= LEARNED_DANGER
    return kind if kind in DANGER_BY_KIND and sure else None


def emergency_message(danger: Danger, hotlines: dict[str, str] | None = None) -> str:
    """The first thing an urgent report hears: what to do now and the number to call."""
    number = danger.public_number
    if danger.hotline_key and hotlines and hotlines.get(danger.hotline_key):
        number = f"{hotlines[danger.hotline_key]}（或{danger.public_number}）"
    return f"【紧急】{danger.advice_zh}{number}！"
