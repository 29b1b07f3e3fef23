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


def test_community_words_typed_by_sound_are_respelled():
    # what the rules, the FAQ and the models' characters read: the word meant
    assert normalize("楼道里一股煤汽味") == "楼道里一股煤气味"
    assert normalize("燃汽泄漏了") == "燃气泄漏了"
    assert normalize("咱楼电悌年检是哪个月") == "咱楼电梯年检是哪个月"
    assert normalize("物叶费多少钱一平") == "物业费多少钱一平"
    assert normalize("暖器片不热") == "暖气片不热"


def test_words_meant_as_written_are_not_respelled():
    # 小区 sounds like 小去 and 门禁 like 门进, 起火 like 起或, 水管 like 谁管: each is meant here
    for text in ("从小去姥姥家住", "无障碍通道从哪个门进", "宠物进电梯请抱起或牵短绳", "乱停车到底谁管",
                 "三楼到五楼的灯不亮", "7号楼暖气又不热了"):
        assert normalize(text) == text


def test_a_street_offices_own_words_are_respelled_too(tmp_path, monkeypatch):
    import bot.respell

    vocabulary = tmp_path / "words.txt"
    vocabulary.write_text("小区 1500 n\n晾衣杆 2000 n\n", encoding="utf-8")
    monkeypatch.setattr(bot.respell, "VOCABULARY", vocabulary)
    bot.respell._words.cache_clear()
    try:
        assert bot.respell.respell("楼顶的凉衣杆断了") == "楼顶的晾衣杆断了"
    finally:
        bot.respell._words.cache_clear()


def test_a_message_typed_in_pinyin_alone_is_read_in_characters():
    assert normalize("dianti huai le") == "电梯坏了"
    assert "燃气" in normalize("ranqi xielou le kuai lai ren")
    assert normalize("loudaodengbuliangle") == "楼道灯不亮了"
    assert normalize("7hao lou tingshui le").startswith("7号楼")  # after a number, the words that follow one
    assert normalize("louxia de gou yao ren le").startswith("楼下的狗")  # residents' words before a general one's
    assert normalize("chu fang you huo") == "厨房有火"  # and as they follow the word before (诱惑 alone)


def test_english_initials_and_mixed_messages_are_left_as_written():
    # English fits pinyin's letters (nice: 你测, like: 立刻) but says none of the residents' words
    for text in ("ok", "hello", "I love china", "nice", "like", "take care", "police", "thx", "wy的人呢 垃圾三天没收",
                 "nq费交了吗", "man", "pm2.5 超标了"):
        assert normalize(text) == text


def test_pinyin_is_read_however_it_is_typed():
    assert normalize("xi an") == normalize("Xi'an") == "西安"  # a space or an apostrophe ends a syllable
    assert normalize("xiè xie") == "谢谢"  # tone marks
    assert normalize("A3 dianti huai le") == "A3 电梯坏了"  # a building's letter is no 啊
    assert normalize("jiuming a") == "救命啊"  # but a lone a is
    assert normalize("dianti huai le \ud83d") == "电梯坏了"  # half an emoji, cut by a client
