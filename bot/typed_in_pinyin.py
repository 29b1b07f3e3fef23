"""Messages typed in pinyin and sent without choosing the characters: "ranqi xielou le kuai lai".

A phone's keyboard left in English, or a resident who types the sounds and presses send, gives
the bot Latin letters where it reads Chinese: the models, the urgency rules and the FAQ see no
word they know, and a gas leak typed this way was answered as out of scope. A message made of
pinyin syllables alone (digits and punctuation around them, tone marks or not) is written in
characters here, as a keyboard that has learned its user's words would offer them: the likeliest
words, by how often jieba's dictionary (60 million words of general Chinese) and the examples of
`nlu_data/` (how residents write to the bot) write each, the two counted alike, and by how often
the examples write it after the word before (`FOLLOWING`, chosen by bench/pinyin_keyboard.py:
held out, 0.879 of the characters right by words alone, 0.943 with the word before). So
"gou yao ren le" is 狗咬人了, not 够; "chu fang you huo" 厨房有火, not 诱惑; "7hao lou" 7号楼, as
the examples write after a number; the community's words (`nlu_data/jieba/community_words.txt`)
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
import itertools
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
# How often a word of two syllables or more, or two characters side by side, must be written in
# the examples to say that the letters are a resident's words.
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
START, NUMBER = "", "0"  # the word before a message's first, and any number
_PAIR = "\x00"  # between the word before and the word, in one key
# How much the word before counts: p(word) = (1 - f)·p(word alone) + f·p(word | the word before).
FOLLOWING = 0.5
BEAM = 6  # the likeliest ways kept to each letter
CHOICES = 8  # the words offered for one sound
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


def _likelihoods(general: dict[str, int], residents: Counter) -> dict[str, float]:
    """Each word's log-likelihood in the two counts mixed half and half. A character written
    only in the examples (a dialect's, a typo's) is no word a keyboard offers."""
    general_total, residents_total = sum(general.values()) or 1, sum(residents.values()) or 1
    return {word: math.log(general.get(word, 0) / general_total / 2 + residents.get(word, 0) / residents_total / 2)
            for word in set(general) | set(residents)
            if general.get(word, 0) or (residents.get(word, 0) and len(word) > 1)}


# Tuples of numbers and strings, dictionaries of strings: the garbage collector stops looking into
# them once it has seen them, where lists and tuple keys it would walk at every full collection
# (a few milliseconds of every parse, measured with make bench's parse times).
Offers = dict[str, tuple[tuple[float, str, int], ...]]


def _by_letters(likelihoods: dict[str, float]) -> Offers:
    """The words by their letters: for each way to split the letters into syllables (xian: 先,
    xi|an: 西安), the likeliest words (CHOICES of them, as a keyboard's first page), each with its
    log-likelihood and where its syllables end."""
    syllables, readings = _sounds()
    spellings = []  # (letters, where syllables end as bits, log-likelihood, word)
    for word, likelihood in likelihoods.items():
        for rank, sounds in enumerate(_readings_of(word, readings)):
            if not all(s in syllables for s in sounds):
                continue
            here = likelihood + (OTHER_READING if rank else 0.0)
            for spelled in {sounds, tuple(_SPELLED_ALSO.get(s, s) for s in sounds)}:
                ends = sum(1 << sum(len(s) for s in spelled[:i]) for i in range(1, len(spelled)))
                spellings.append(("".join(spelled), ends, here, word))
    spellings.sort(key=lambda spelling: (spelling[0], spelling[1], -spelling[2], spelling[3]))
    offers: dict[str, list[tuple[float, str, int]]] = {}
    for (letters, ends), group in itertools.groupby(spellings, key=lambda spelling: spelling[:2]):
        seen = set()
        for _, _, likelihood, word in group:
            if word not in seen and len(seen) < CHOICES:
                seen.add(word)
                offers.setdefault(letters, []).append((likelihood, word, ends))
    return {letters: tuple(found) for letters, found in offers.items()}


class Keyboard:
    """The words a keyboard offers for pinyin, learned from residents' messages (the examples):
    how often each is written, alone and after the word before it."""

    def __init__(self, texts: list[str], following: float = FOLLOWING):
        from bot.normalize import mandarin  # it reads this module's words
        if not 0 <= following < 1:
            raise ValueError(f"the word before weighs between 0 and 1, not {following}")
        respell.community_words_in_jieba()
        texts = [mandarin(text) for text in texts]  # as the models read them
        residents, pairs = Counter(), Counter()
        for text in texts:
            previous = START
            for word in jieba.lcut(text, HMM=False):
                if not word.strip():
                    previous = START
                    continue
                word = NUMBER if _NUMBER.match(word) else word
                residents[word] += 1
                pairs[previous, word] += 1
                previous = word
        jieba.dt.check_initialized()
        general = {word: count for word, count in jieba.dt.FREQ.items() if count >= RAREST}
        for word in respell.vocabulary():
            general[word] = max(general.get(word, 0), COMMUNITY)
        self.offers = _by_letters(_likelihoods(general, residents))
        self.longest = max(len(key) for key in self.offers)
        self.words_said = frozenset(word for word, count in residents.items() if len(word) > 1 and count >= RESIDENTS_WORD)
        pairs_of_characters = Counter(text[i:i + 2] for text in texts for i in range(len(text) - 1))
        self.pairs_said = frozenset(pair for pair, count in pairs_of_characters.items()
                                    if count >= RESIDENTS_WORD and all(respell.HAN.fullmatch(ch) for ch in pair))
        before = Counter()
        for (previous, _), count in pairs.items():
            before[previous] += count
        self.after = ({_PAIR.join(pair): math.log(following * count / before[pair[0]]) for pair, count in pairs.items()}
                      if following > 0 else {})
        self.alone = math.log(1 - following)

    def _score(self, previous: str, word: str, likelihood: float) -> float:
        """log((1 - f)·p(word) + f·p(word | previous)), p(word) the two counts mixed."""
        after = self.after.get(previous + _PAIR + word)
        alone = self.alone + likelihood
        if after is None:
            return alone
        high, low = max(after, alone), min(after, alone)
        return high + math.log1p(math.exp(low - high))

    def written(self, letters: str, breaks: list[int], previous: str = START) -> list[str] | None:
        """The letters (spaces taken out: `breaks`, sorted, where they stood) as the likeliest
        words after `previous` (START, NUMBER or a word), a space only where a syllable ends;
        None when no words fit."""
        # at each letter, the likeliest ways there by their last word: (score, where it began, the word before)
        best: list[dict[str, tuple[float, int, str]]] = [{} for _ in range(len(letters) + 1)]
        best[0][previous] = (0.0, -1, "")
        for start in range(len(letters)):
            ways = sorted(best[start].items(), key=lambda way: -way[1][0])[:BEAM]
            if not ways:
                continue  # no words end here
            for end in range(start + 1, min(len(letters), start + self.longest) + 1):
                found = self.offers.get(letters[start:end])
                if not found:
                    continue
                inside = breaks[bisect.bisect_right(breaks, start):bisect.bisect_left(breaks, end)]
                for likelihood, word, ends in found:
                    if any(not ends >> (b - start) & 1 for b in inside):
                        continue  # a space inside a syllable ("xi an" is no 先)
                    for last, (score, _, _) in ways:
                        here = score + self._score(last, word, likelihood)
                        if word not in best[end] or here > best[end][word][0]:
                            best[end][word] = (here, start, last)
        if not best[-1]:
            return None
        word = max(best[-1], key=lambda w: best[-1][w][0])
        words, at = [], len(letters)
        while at > 0:
            _, start, last = best[at][word]
            words.append(word)
            word, at = last, start
        return words[::-1]


@lru_cache(maxsize=1)
def keyboard() -> Keyboard:
    """The keyboard learned from `nlu_data/`."""
    return Keyboard(_example_texts(EXAMPLES))


def _is_pinyin(letters: str, syllables: frozenset[str]) -> bool:
    """Whether the letters split into syllables of Mandarin."""
    ends = {0}
    for end in range(1, len(letters) + 1):
        if any(start in ends and letters[start:end] in syllables
               for start in range(max(0, end - _LONGEST_SYLLABLE), end)):
            ends.add(end)
    return len(letters) in ends


def _says_what_residents_say(words: list[str]) -> bool:
    """Whether the words hold one of two syllables or more the examples write, or, said in five
    syllables or more (longer than most English that fits pinyin's letters: more → 没热, take care
    → 他可擦热), two characters side by side as the examples write them (楼|走|到: 走到)."""
    board, written = keyboard(), "".join(words)
    return (any(word in board.words_said for word in words)
            or (len(written) >= 5 and any(written[i:i + 2] in board.pairs_said for i in range(len(written) - 1))))


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
        written = keyboard().written(letters, breaks,
                                     NUMBER if _NUMBER.search(plain[at:runs[index].start()].strip()) else START)
        if written is None:
            return text
        out += [plain[at:runs[index].start()], "".join(written)]
        words += written
        at, index = runs[last].end(), last + 1
    if not _says_what_residents_say(words):  # English, likely
        return text
    return "".join(out) + plain[at:]
