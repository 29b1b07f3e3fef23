"""The community's words respelled where a resident typed them by sound: 电悌 → 电梯, 物叶费 →
物业费, 燃汽 → 燃气, 社去 → 社区.

Residents type by pinyin and pick a character of the right sound and the wrong meaning. The
models also read a text's pinyin (`bot.normalize.pinyin`), but its characters, its words, the
urgency rules and the FAQ see only what was typed, and one such typo in a community word turns
about one message in fifty into a wrong or a missed ticket (docs/benchmarks.md). The words are
the vocabulary jieba is taught (`nlu_data/jieba/community_words.txt`); the first spelling of a
sound there is the one meant (暖气, not 暖器, which is listed so that jieba keeps it whole, and is
left as written, as every word is).

A stretch of a message is respelled as a word when
- each of its characters, read as usual, sounds as the word's, and one of them differs (two in a
  word of six or more);
- it is no other word, and no word of jieba's dictionary runs across its edge (从小去 is 从小|去,
  not 小区);
- the character it replaces is no common word of its own and makes no word with the character
  beside it ("从哪个门进", "抱起或牵", "到底谁管", "垃圾放在" are meant as written).
Of two that overlap, the one that replaces the rarer character wins (楼电悌 is 楼 + 电梯).
"""
from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import jieba
from pypinyin import Style, lazy_pinyin

VOCABULARY = Path(__file__).resolve().parent.parent / "nlu_data" / "jieba" / "community_words.txt"
# jieba's count of a character in its dictionary of 60 million words from which it is taken as
# meant: 到, 或, 进, 谁, 放 are counted over 15 000 times, the characters residents mistype for a
# community word's (悌, 汽, 叶, 器, 体) under 10 000.
COMMON = 10000
# a Han character (CJK Unified Ideographs): one with a sound in pinyin, one OpenCC may convert
HAN = re.compile(r"[\u4e00-\u9fff]")
_ALL_HAN = re.compile(HAN.pattern + "+")


def _is_han(text: str) -> bool:
    """Whether the text is Han characters only (and not empty)."""
    return _ALL_HAN.fullmatch(text) is not None


@lru_cache(maxsize=8192)
def syllable(character: str) -> str:
    """The character's usual reading without its tone (a character that is no Han, itself)."""
    return lazy_pinyin(character, style=Style.NORMAL)[0] if _is_han(character) else character


def vocabulary() -> list[str]:
    """The community's words of two characters or more, in the order the file lists them."""
    words = (line.split()[0] for line in VOCABULARY.read_text(encoding="utf-8").splitlines() if line.split())
    return [word for word in words if len(word) > 1 and _is_han(word)]


def community_words_in_jieba() -> None:
    """jieba knows the community's words, as the NLU's tokenizer does."""
    _load_into_jieba(VOCABULARY)


@lru_cache(maxsize=4)
def _load_into_jieba(path: Path) -> None:
    # once a file: each load adds its counts to jieba's total again
    jieba.load_userdict(str(path))


@lru_cache(maxsize=1)
def _words() -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """The words meant and their syllables, by their first syllable."""
    community_words_in_jieba()  # its words are words here too
    meant: dict[tuple[str, ...], str] = {}
    for word in vocabulary():
        meant.setdefault(tuple(syllable(ch) for ch in word), word)
    by_first = defaultdict(list)
    for sounds, word in meant.items():
        by_first[sounds[0]].append((word, sounds))
    return dict(by_first)


def _frequency(text: str) -> int:
    return jieba.dt.FREQ.get(text, 0)


def _candidates(text: str) -> list[tuple[int, int, str, int]]:
    """Every respelling the rules allow: (start, end, word, the count of the rarest character
    it replaces)."""
    by_first = _words()
    sounds = [syllable(ch) if _is_han(ch) else "" for ch in text]
    token_at = []  # the word each character belongs to: (its start, its end, the word)
    for token in jieba.dt.lcut(text, HMM=False):
        token_at += [(len(token_at), len(token_at) + len(token), token)] * len(token)
    found = []
    for start, sound in enumerate(sounds):
        for word, syllables in by_first.get(sound, ()):
            end = start + len(word)
            written = text[start:end]
            if (len(written) < len(word) or tuple(sounds[start:end]) != syllables or written == word
                    or _frequency(written)):
                continue
            changed = [i for i in range(len(word)) if written[i] != word[i]]
            if len(changed) > max(1, len(word) // 3):
                continue
            if any(len(token) > 1 and _frequency(token) and (s < start or e > end)
                   for s, e, token in (token_at[start], token_at[end - 1])):
                continue
            if any(_meant(text, start + i, start, end) for i in changed):
                continue
            found.append((start, end, word, min(_frequency(written[i]) for i in changed)))
    return found


def _meant(text: str, at: int, start: int, end: int) -> bool:
    """Whether the character at `at` is likelier meant as written: a common word of its own, or
    one word with its neighbour outside the stretch."""
    if _frequency(text[at]) >= COMMON:
        return True
    before = text[at - 1:at + 1] if at == start and at > 0 else ""
    after = text[at:at + 2] if at == end - 1 and at + 2 <= len(text) else ""
    return any(_frequency(pair) for pair in (before, after) if pair)


def respell(text: str) -> str:
    """The text with the community's words spelled as they are meant."""
    if not text or not HAN.search(text):
        return text
    taken = [False] * len(text)
    out = list(text)
    # the rarest replaced character first, then the longer word
    for start, end, word, _ in sorted(_candidates(text), key=lambda c: (c[3], c[0] - c[1])):
        if any(taken[start:end]):
            continue
        taken[start:end] = [True] * (end - start)
        out[start:end] = word
    return "".join(out)
