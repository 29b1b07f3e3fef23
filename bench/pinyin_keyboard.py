"""How well `bot.typed_in_pinyin` writes in characters what residents typed in pinyin alone.

The examples of `nlu_data/` are split into folds; for each fold a keyboard learns its words from
the other folds' examples and writes the held-out ones, typed back into toneless pinyin two ways
(a space after every syllable, "dian ti huai le"; a space after every word, "dianti huaile"), in
characters again. A character is right when it is the one the example wrote. The keyboard's
weight on the word before (`FOLLOWING`) is chosen here: 0 is a keyboard of words alone.
"""
import argparse
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jieba  # noqa: E402
from pypinyin import Style, lazy_pinyin  # noqa: E402

from bench.benchmarks_md import write_section  # noqa: E402
from bot.normalize import mandarin  # noqa: E402
from bot.respell import community_words_in_jieba  # noqa: E402
from bot.typed_in_pinyin import EXAMPLES, NUMBER, START, Keyboard, _example_texts  # noqa: E402

SECTION = "## Pinyin typed alone (bench/pinyin_keyboard.py)"
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


def typed(han: str, by_word: bool) -> tuple[str, list[int]]:
    """The Han text as toneless pinyin: its letters and where the spaces stood."""
    words = [lazy_pinyin(word, style=Style.NORMAL) for word in jieba.lcut(han, HMM=False)]  # read as words: 空调 tiao
    pieces = ["".join(sounds) for sounds in words] if by_word else [sound for sounds in words for sound in sounds]
    letters, breaks = "", []
    for piece in pieces:
        if letters:
            breaks.append(len(letters))
        letters += piece
    return letters, breaks


def score(keyboard: Keyboard, texts: list[str], by_word: bool) -> tuple[int, int, int, int]:
    """Characters right, characters, messages all right, messages."""
    right = total = whole = 0
    for text in texts:
        text = mandarin(text)
        all_right = True
        for run in _HAN_RUN.finditer(text):
            before = text[:run.start()].rstrip()
            letters, breaks = typed(run.group(), by_word)
            words = keyboard.written(letters, breaks, NUMBER if before[-1:].isdigit() else START)
            written = "".join(words) if words else ""
            hits = sum(a == b for a, b in zip(written, run.group())) if len(written) == len(run.group()) else 0
            right, total = right + hits, total + len(run.group())
            all_right = all_right and hits == len(run.group())
        whole += all_right
    return right, total, whole, len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--per-fold", type=int, default=300, help="held-out examples written per fold")
    parser.add_argument("--following", type=float, nargs="+", default=[0.0, 0.3, 0.5, 0.7])
    parser.add_argument("--write", action="store_true", help="put the figures in docs/benchmarks.md")
    args = parser.parse_args()
    community_words_in_jieba()
    texts = [t for t in _example_texts(EXAMPLES) if len(_HAN_RUN.findall(t)) and sum(map(len, _HAN_RUN.findall(t))) >= 4]
    random.Random(0).shuffle(texts)
    folds = [texts[i::args.folds] for i in range(args.folds)]
    totals = {(f, by_word): [0, 0, 0, 0] for f in args.following for by_word in (False, True)}
    for i, held_out in enumerate(folds):
        learned_from = [t for j, fold in enumerate(folds) if j != i for t in fold]
        for following in args.following:
            keyboard = Keyboard(learned_from, following)
            for by_word in (False, True):
                got = score(keyboard, held_out[:args.per_fold], by_word)
                totals[following, by_word] = [a + b for a, b in zip(totals[following, by_word], got)]
        print(f"fold {i + 1} done", flush=True)
    lines = [SECTION, "",
             f"{args.folds}-fold cross-validation over the {len(texts)} examples of `nlu_data/` with four Han "
             f"characters or more ({args.per_fold} held-out examples written a fold): a keyboard learned from the other "
             "folds writes each held-out example, typed back in toneless pinyin, in characters. `FOLLOWING` is the "
             "weight on the word before (0: each word by how often it is written, alone).", "",
             "| FOLLOWING | a space after every syllable: characters right | messages all right "
             "| a space after every word: characters right | messages all right |",
             "|---|---|---|---|---|"]
    for following in args.following:
        by_syllable, by_word = totals[following, False], totals[following, True]
        lines.append(f"| {following:.1f} | {by_syllable[0] / by_syllable[1]:.3f} | {by_syllable[2] / by_syllable[3]:.3f} "
                     f"| {by_word[0] / by_word[1]:.3f} | {by_word[2] / by_word[3]:.3f} |")
    print("\n".join(lines))
    if args.write:
        write_section(SECTION, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
