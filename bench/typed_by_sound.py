"""Messages as a resident typing by pinyin might send them, for `make bench`: in each message
that names a community word, one character of it is replaced by another of the same sound
(电梯 → 电悌, 小区 → 小去), as an input method offers it. `bot.respell` spells some of them back
(those whose replacement is a rare character); the models' pinyin features hear the rest.
"""
import random
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bot.respell import HAN, syllable, vocabulary  # noqa: E402


def same_sound(texts: list[str]) -> dict[str, list[tuple[str, int]]]:
    """The characters the texts use, by sound, each with how often they use it."""
    counts = Counter(ch for text in texts for ch in text if HAN.match(ch))
    by_sound = defaultdict(list)
    for ch, count in sorted(counts.items()):
        by_sound[syllable(ch)].append((ch, count))
    return by_sound


def community_words() -> re.Pattern:
    """The community's words, the longest first (消防通道 before 消防)."""
    return re.compile("|".join(map(re.escape, sorted(set(vocabulary()), key=len, reverse=True))))


def mistyped(text: str, words: re.Pattern, by_sound: dict, rng: random.Random) -> str:
    """The text with one character of one community word in it typed by sound (unchanged when it
    names none, or no other character of the same sound is known)."""
    found = list(words.finditer(text))
    if not found:
        return text
    match = rng.choice(found)
    at = match.start() + rng.randrange(len(match.group()))
    others = [(ch, n) for ch, n in by_sound.get(syllable(text[at]), []) if ch != text[at]]
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
