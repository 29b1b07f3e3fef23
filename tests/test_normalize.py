"""One normalisation for everything the bot reads (bot/normalize.py)."""
from bot.normalize import for_classification, normalize, pinyin


def test_traditional_characters_and_cantonese_read_as_mandarin():
    assert normalize("樓道燈壞咗好幾日，暖氣都唔熱") == "楼道灯坏了好几日,暖气都不热"
    assert normalize("隔籬阿婆冇人應門") == "隔篱阿婆没人应门"


def test_full_width_digits_and_letters_become_half_width():
    assert normalize("７号楼Ａ座") == "7号楼A座"


def test_emoji_and_repeated_punctuation_are_reduced():
    assert normalize("电梯又坏了！！！😡😡😡") == "电梯又坏了!"
    assert normalize("👍👍") == ""


def test_mentions_are_left_out_for_classification_only():
    assert for_classification("@物业 3栋漏水") == "3栋漏水"
    assert for_classification("@张三\u20053栋漏水") == "3栋漏水"
    assert normalize("@物业 3栋漏水") == "@物业 3栋漏水"


def test_homophone_typos_sound_like_the_word():
    assert pinyin("燃汽") == pinyin("燃气")
    assert pinyin("电悌") == pinyin("电梯")
    assert pinyin("物叶费") == pinyin("物业费")


def test_plain_text_is_unchanged():
    assert normalize("3号楼2单元暖气不热") == "3号楼2单元暖气不热"


def test_cantonese_words_are_read_after_their_characters_are_simplified():
    # 唔係 is 唔系 once simplified: the Cantonese word list must still know it
    assert normalize("唔係漏氣，係咪報警器冇電") == "不是漏气,是不是报警器没有电"


def test_cantonese_questions_ask_as_mandarin_does():
    # the FAQ and the question intents know 怎么 / 哪里 / 多少, not 點樣 / 邊度 / 幾多
    assert normalize("點樣申請長者卡") == "怎么申请长者卡"
    assert normalize("管理費喺邊度交，幾多錢") == "管理费在哪里交,多少钱"
    assert normalize("使唔使預約") == "要不要预约"
