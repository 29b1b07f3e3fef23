"""Messages typed in pinyin and sent without choosing the characters: "ranqi xielou le kuai lai".

A phone's keyboard left in English, or a resident who types the sounds and presses send, gives
the bot Latin letters where it reads Chinese: the models, the urgency rules and the FAQ see no
word they know, and a gas leak typed this way was answered as out of scope. A message made of
pinyin syllables alone (digits and punctuation around them, tone marks or not) is written in
characters here, as a keyboard that has learned its user's words would offer them: the likeliest
words, as often as jieba's dictionary (60 million words of general Chinese) and the examples of
`nlu_data/` (how residents write to the bot) say each is written, the two counted alike. So
"gou yao ren le" is 狗咬人了, not 够; after a number come the words that follow one in the
examples (7hao lou: 7号楼, not 7好楼); the community's words (`nlu_data/jieba/community_words.txt`)
count as common ones. A word written wrong of the right sound (把握 for 把我) is still read by its
sound: the models see a text's pinyin (`bot.normalize.pinyin`), the community's words are
respelled (`bot.respell`), and the urgency rules hear the dangers' words by sound.

The letters must also say something a resident says: at least one word of two syllables or more
from the examples. English fits pinyin's letters more often than one would think (nice → 你测,
like → 立刻, china → 吃那) and mostly says none of the residents' words, so it is left as written
(one that spells a resident's word, women → 我们, is read as that: no report comes of it), as
are a message with any Han character, a lone syllable ("an", "man"), initials ("nq费", "wy"), a
building's letter ("A3"), and anything too long to be typed by hand.
"""
from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path

import jieba
import yaml
from pypinyin.phrases_dict import phrases_dict
from pypinyin.pinyin_dict import pinyin_dict

from bot import respell

# jieba's count below which a word is too rare to offer (its dictionary runs to words seen a
# handful of times in 60 million: 呲溜, 凯里 before 开理 is no help).
RAREST = 20
# The count a community word is given: as likely as a common word, so that "loudao deng" is 楼道灯.
COMMUNITY = 20000
# How much likelier a character is meant in its usual reading than in another one (说 is shuo;
# read shui, as in 游说, it would be every "shui" typed for 水).
OTHER_READING = math.log(0.01)
# How often a word of two syllables or more must be written in the examples to say that the
# letters are a resident's words.
RESIDENTS_WORD = 2
# More letters than a resident types by hand in one message: left as written (the search for
# the likeliest words grows with the length, and the NLU runs on the server's one event loop).
LONGEST_MESSAGE = 300
EXAMPLES = respell.VOCABULARY.parent.parent  # nlu_data/
# Syllables that are no more than a sound in a chat (嗯, 呣, 哼): an English word's letters
# would fit them ("hmm", "ng").
_INTERJECTIONS = {"m", "n", "ng", "hm", "hng"}
# a run of letters; one alone only a, e or o in lower case not touching a digit (啊, 饿, 哦): "A3" and
# "3a" are buildings' letters
_LETTERS = re.compile(r"[a-zA-Z]{2,}|(?<![\w])[aeo](?![\w])")
_BETWEEN_SYLLABLES = re.compile(r"\s*['’]?\s*")  # "huai le", "xi'an": a word may run across
_NUMBER = re.compile(r"\d+$")
_LONGEST_SYLLABLE = 6  # zhuang, shuang, chuang


def _toneless(reading: str) -> str:
    """zhōng → zhong, lǜ → lv (as pinyin keyboards take ü); other characters as they are."""
    return "".join(_toneless_letter(ch) for ch in reading)


@lru_cache(maxsize=512)
def _toneless_letter(ch: str) -> str:
    if ch.isascii() or not unicodedata.name(ch, "").startswith("LATIN"):
        return ch
    decomposed = unicodedata.normalize("NFD", ch).replace("u\u0308", "v").replace("U\u0308", "V")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain if len(plain) == 1 else ch


@lru_cache(maxsize=1)
def _sounds() -> tuple[frozenset[str], dict[str, tuple[str, ...]]]:
    """Every syllable of Mandarin, and each character's readings (its usual one first)."""
    readings = {chr(code): tuple(_toneless(r) for r in values.split(",")) for code, values in pinyin_dict.items()}
    syllables = {reading for values in readings.values() for reading in values} | set(_SPELLED_ALSO.values())
    return frozenset(syllables - _INTERJECTIONS), readings


# Keyboards take lue and nue for lve and nve (略, 虐).
_SPELLED_ALSO = {"lve": "lue", "nve": "nue"}


def _readings_of(word: str, readings: dict[str, tuple[str, ...]]) -> list[tuple[str, ...]]:
    """How the word is read: each reading of a character alone (谁: shei, shui), a word's own."""
    if len(word) == 1:
        return [(reading,) for reading in readings.get(word, ())]
    if word in phrases_dict:  # its reading as a word: 银行 is yin hang
        return [tuple(_toneless(sounds[0]) for sounds in phrases_dict[word])]
    if all(ch in readings for ch in word):
        return [tuple(readings[ch][0] for ch in word)]
    return []


def _example_texts(folder: Path) -> list[str]:
    """The texts of the training examples (Rasa's YAML: `- text` lines under `examples: |`)."""
    texts = []
    for path in sorted([*folder.rglob("*.yml"), *folder.rglob("*.yaml")]):
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # training reports a broken file; here it only teaches fewer words
        items = data.get("nlu") if isinstance(data, dict) else None
        for item in items if isinstance(items, list) else []:
            examples = item.get("examples") if isinstance(item, dict) else None
            if isinstance(examples, str):
                texts += [line.strip()[2:].strip() for line in examples.splitlines() if line.strip().startswith("- ")]
    return texts


@lru_cache(maxsize=1)
def _residents_words() -> tuple[Counter, Counter]:
    """How often each word is written in the examples, and each word right after a number; in
    Mandarin as the models read it (唔 is 不 to them, so "wu" is never 唔)."""
    from bot.normalize import mandarin  # it reads this module's words
    jieba.load_userdict(str(respell.VOCABULARY))  # as the NLU's tokenizer cuts them
    words, after_number = Counter(), Counter()
    for text in _example_texts(EXAMPLES):
        previous = ""
        for word in jieba.lcut(mandarin(text), HMM=False):
            words[word] += 1
            if _NUMBER.match(previous):
                after_number[word] += 1
            previous = word
    return words, after_number


def _likelihoods(general: dict[str, int], residents: Counter) -> dict[str, float]:
    """Each word's log-likelihood in the two counts mixed half and half. A character written
    only in the examples (a dialect's, a typo's) is no word a keyboard offers."""
    general_total, residents_total = sum(general.values()) or 1, sum(residents.values()) or 1
    return {word: math.log(general.get(word, 0) / general_total / 2 + residents.get(word, 0) / residents_total / 2)
            for word in set(general) | set(residents)
            if general.get(word, 0) or (residents.get(word, 0) and (len(word) > 1 or not general))}


Offers = dict[str, list[tuple[float, str, frozenset[int]]]]


def _by_letters(likelihoods: dict[str, float]) -> Offers:
    """The words by their letters: for each way to split the letters into syllables (xian: 先,
    xi|an: 西安), the likeliest word, its log-likelihood and where its syllables end."""
    syllables, readings = _sounds()
    best: dict[tuple[str, frozenset[int]], tuple[float, str]] = {}
    for word, likelihood in likelihoods.items():
        for rank, sounds in enumerate(_readings_of(word, readings)):
            if not all(s in syllables for s in sounds):
                continue
            here = likelihood + (OTHER_READING if rank else 0.0)
            for spelled in {sounds, tuple(_SPELLED_ALSO.get(s, s) for s in sounds)}:
                key = ("".join(spelled), frozenset(sum(len(s) for s in spelled[:i]) for i in range(1, len(spelled))))
                if key not in best or here > best[key][0]:
                    best[key] = (here, word)
    offers: Offers = {}
    for (letters, ends), (likelihood, word) in best.items():
        offers.setdefault(letters, []).append((likelihood, word, ends))
    return offers


@lru_cache(maxsize=1)
def _words() -> tuple[Offers, Offers, frozenset[str], int]:
    """The words to offer by their letters, anywhere and right after a number; the residents'
    words of two syllables or more; the most letters a word has."""
    residents, after_number = _residents_words()
    jieba.dt.check_initialized()
    general = {word: count for word, count in jieba.dt.FREQ.items() if count >= RAREST}
    for word in respell.vocabulary():
        general[word] = max(general.get(word, 0), COMMUNITY)
    offers = _by_letters(_likelihoods(general, residents))
    said = frozenset(word for word, count in residents.items() if len(word) > 1 and count >= RESIDENTS_WORD)
    # words that mostly follow a number (号, 栋, 单元), not every word that once did (3至5楼)
    counters = Counter({word: count for word, count in after_number.items() if count * 2 > residents[word]})
    return offers, _by_letters(_likelihoods({}, counters)), said, max(len(key) for key in offers)


def _is_pinyin(letters: str, syllables: frozenset[str]) -> bool:
    """Whether the letters split into syllables of Mandarin."""
    ends = {0}
    for end in range(1, len(letters) + 1):
        if any(start in ends and letters[start:end] in syllables
               for start in range(max(0, end - _LONGEST_SYLLABLE), end)):
            ends.add(end)
    return len(letters) in ends


def _written(letters: str, breaks: list[int], after_a_number: bool) -> list[str] | None:
    """The letters (spaces taken out: `breaks`, sorted, where they stood) as the likeliest words,
    a space only where a syllable ends; None when no words fit. After a number (7hao), its first
    word is the likeliest of those that follow a number, when one fits."""
    offers, after_number, _, longest = _words()
    best: list[tuple[float, int, str] | None] = [None] * (len(letters) + 1)  # score, where from, word
    best[0] = (0.0, 0, "")
    for start in range(len(letters)):
        if best[start] is None:
            continue
        for end in range(start + 1, min(len(letters), start + longest) + 1):
            found = [*(after_number.get(letters[start:end], ()) if start == 0 and after_a_number else ()),
                     *offers.get(letters[start:end], ())]
            inside = breaks[bisect.bisect_right(breaks, start):bisect.bisect_left(breaks, end)]
            for likelihood, word, ends in found:
                if any(b - start not in ends for b in inside):
                    continue  # a space inside a syllable ("xi an" is no 先)
                score = best[start][0] + likelihood
                if best[end] is None or score > best[end][0]:
                    best[end] = (score, start, word)
    if best[-1] is None:
        return None
    words, at = [], len(letters)
    while at:
        _, at, word = best[at]
        words.append(word)
    return words[::-1]


def written_in_characters(text: str) -> str:
    """The message in characters when it is typed in pinyin alone and says a resident's word,
    else as it is."""
    if not text or len(text) > LONGEST_MESSAGE or respell.HAN.search(text):
        return text
    plain = _toneless(text)  # "xiè xie": the tones a keyboard may type
    runs = list(_LETTERS.finditer(plain))
    syllables, _ = _sounds()
    if not runs or not all(_is_pinyin(run.group().lower(), syllables) for run in runs):
        return text
    out, words, at, index = [], [], 0, 0
    while index < len(runs):
        last = index  # runs apart only by a space or an apostrophe are one stretch
        while last + 1 < len(runs) and _BETWEEN_SYLLABLES.fullmatch(plain[runs[last].end():runs[last + 1].start()]):
            last += 1
        letters, breaks = "", []
        for run in runs[index:last + 1]:
            if letters:
                breaks.append(len(letters))
            letters += run.group().lower()
        written = _written(letters, breaks, bool(_NUMBER.search(plain[at:runs[index].start()].strip())))
        if written is None:
            return text
        out += [plain[at:runs[index].start()], "".join(written)]
        words += written
        at, index = runs[last].end(), last + 1
    if not any(word in _words()[2] for word in words):  # no word a resident says: English, likely
        return text
    return "".join(out) + plain[at:]
