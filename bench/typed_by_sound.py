"""Messages as a resident typing by pinyin might send them, for `make bench`: in each message
that names a community word, one character of it is replaced by another of the same sound
(电梯 → 电悌, 小区 → 小去), as an input method offers it. `bot.respell` spells some of them back
(those whose replacement is a rare character); the models' pinyin features hear the rest.
"""
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

from pypinyin import Style, lazy_pinyin

ROOT = Path(__file__).resolve().parent.parent
VOCABULARY = ROOT / "nlu_data" / "jieba" / "community_words.txt"
_HAN = re.compile(r"[\u4e00-\u9fff]")


def _sound(ch: str) -> str:
    return lazy_pinyin(ch, style=Style.NORMAL)[0]


def same_sound(texts: list[str]) -> dict[str, list[tuple[str, int]]]:
    """The characters the texts use, by sound, each with how often they use it."""
    counts = Counter(ch for text in texts for ch in text if _HAN.match(ch))
    by_sound = defaultdict(list)
    for ch, count in sorted(counts.items()):
        by_sound[_sound(ch)].append((ch, count))
    return by_sound


def community_words() -> re.Pattern:
    words = {line.split()[0] for line in VOCABULARY.read_text(encoding="utf-8").splitlines() if line.split()}
    words = sorted((w for w in words if len(w) > 1 and all(_HAN.match(ch) for ch in w)), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, words)))


def mistyped(text: str, words: re.Pattern, by_sound: dict, rng: random.Random) -> str:
    """The text with one character of one community word in it typed by sound (unchanged when it
    names none, or no other character of the same sound is known)."""
    found = list(words.finditer(text))
    if not found:
        return text
    match = rng.choice(found)
    at = match.start() + rng.randrange(len(match.group()))
    others = [(ch, n) for ch, n in by_sound.get(_sound(text[at]), []) if ch != text[at]]
    if not others:
        return text
    characters, counts = zip(*others)
    return text[:at] + rng.choices(characters, weights=counts)[0] + text[at + 1:]


def mistype_file(source: Path, target: Path, texts: list[str], seed: int = 7) -> int:
    """`source` (a TSV of category, urgent, text) with its texts mistyped into `target`; the rows
    changed. `texts` are the characters' source (the training data's)."""
    rng, words, by_sound = random.Random(seed), community_words(), same_sound(texts)
    lines = source.read_text(encoding="utf-8").splitlines()
    out, changed = [lines[0]], 0
    for line in lines[1:]:
        *fields, text = line.split("\t")
        typed = mistyped(text, words, by_sound, rng)
        changed += typed != text
        out.append("\t".join([*fields, typed]))
    target.write_text("\n".join(out) + "\n", encoding="utf-8")
    return changed
