"""Command line: `python -m bot eval-nlu FILE.tsv [--json]`, `python -m bot eval-locations FILE.tsv [--json]`."""
import argparse
import contextlib
import json
import os
import sys

from bot.evaluation import EvalFileError, locations_report, nlu_report, score_locations, score_nlu


def _load_parser(model: str):
    # The trained model is Rasa's: the command line reaches it only through `nlu/`, so the
    # domain package itself never imports Rasa.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from nlu.parser import ModelNotFound, ModelParser
    try:
        return ModelParser(model)
    except ModelNotFound as error:
        sys.exit(f"error: {error}")


def _evaluate(args, score, report) -> None:
    # Libraries (jieba, Rasa) print while loading and parsing; stdout carries only the result.
    with contextlib.redirect_stdout(sys.stderr):
        parser = _load_parser(args.model)
        try:
            scores = score(args.file, parser)
        except (OSError, EvalFileError) as error:
            sys.exit(f"error: {error}")
    print(json.dumps(scores, ensure_ascii=False) if args.json else report(scores))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot", description="社区小助手 command line")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("eval-nlu", "score category and urgency on category<TAB>urgent<TAB>text rows"),
                            ("eval-locations", "score compound/building/unit/room on text<TAB>compound<TAB>building<TAB>unit<TAB>room rows")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("file")
        command.add_argument("--json", action="store_true", help="print one JSON object")
        command.add_argument("--model", default="models", help="model file or folder (default: models/)")
    args = parser.parse_args(argv)
    if args.command == "eval-nlu":
        _evaluate(args, score_nlu, nlu_report)
    else:
        _evaluate(args, score_locations, locations_report)


if __name__ == "__main__":
    main()
