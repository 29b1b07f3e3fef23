"""Trained TF-IDF vectorizers and linear classifiers, stored as plain data.

A model file is data, never code: settings and vocabularies go to JSON, arrays to an `.npz`
read without pickles, and loading builds only the kinds of object in `KINDS` (and, for an
analyzer, only the functions its component names), whatever a file says. A pickle would run
whatever it names; skops, which checks types instead, spends seconds at every start importing
all of scikit-learn to learn which types there are.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict

import numpy as np
from rasa.shared.exceptions import RasaException
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

SETTINGS_FILE = "model.json"
ARRAYS_FILE = "arrays.npz"
KINDS = {kind.__name__: kind for kind in (TfidfVectorizer, LinearSVC, LogisticRegression, ComplementNB)}
# What a fitted object is beyond its settings: the vectorizers' idf, the classifiers' weights.
FITTED = {"TfidfVectorizer": ("idf_",), "LinearSVC": ("coef_", "intercept_", "classes_"),
          "LogisticRegression": ("coef_", "intercept_", "classes_"),
          "ComplementNB": ("feature_log_prob_", "class_log_prior_", "classes_")}


class UnreadableModel(RasaException):
    """A stored model that is not what this version writes: train the model again."""


def dump(model: Dict[str, Any], directory: Path, analyzers: Dict[str, Callable] | None = None,
         kinds: Dict[str, str] | None = None) -> None:
    """Write `model` (name → vectorizer or classifier) to `directory`. A callable analyzer is
    written by its name in `analyzers`; `kinds`, when given, is the kind each name must hold."""
    names_of = {id(function): name for name, function in (analyzers or {}).items()}
    settings, arrays = {}, {}
    for name, fitted in model.items():
        kind = type(fitted).__name__
        if not _keeps(name, kind, kinds):
            raise TypeError(f"{name}: {kind} is not a kind this store keeps under that name")
        params = {}
        for key, value in fitted.get_params().items():
            if callable(value) and not isinstance(value, type):
                value = {"analyzer": names_of[id(value)]}
            elif isinstance(value, type):  # a dtype (np.float64)
                value = {"dtype": np.dtype(value).name}
            params[key] = value
        entry: Dict[str, Any] = {"kind": kind, "params": params}
        if kind == "TfidfVectorizer":
            entry["vocabulary"] = {term: int(index) for term, index in fitted.vocabulary_.items()}
        settings[name] = entry
        for attribute in FITTED[kind]:
            arrays[f"{name}.{attribute}"] = np.asarray(getattr(fitted, attribute))
    (directory / SETTINGS_FILE).write_text(json.dumps(settings, ensure_ascii=False), encoding="utf-8")
    # deflated here at zlib's default level: Rasa packs the model into its archive at gzip's
    # highest, which crawls over raw floats and passes deflated bytes through quickly
    np.savez_compressed(directory / ARRAYS_FILE, **arrays)


def _keeps(name: str, kind: Any, kinds: Dict[str, str] | None) -> bool:
    """Whether the store keeps `kind` under `name`: a kind it builds, and the one `kinds` names."""
    return kind in KINDS and (kinds is None or kinds.get(name) == kind)


def load(directory: Path, analyzers: Dict[str, Callable] | None = None,
         kinds: Dict[str, str] | None = None) -> Dict[str, Any]:
    """What `dump` wrote to `directory`, rebuilt. With `kinds` (name → kind), a name holding
    another kind is refused: a model stored by an older version, which would load and then fail
    at the first message."""
    try:
        settings = json.loads((directory / SETTINGS_FILE).read_text(encoding="utf-8"))
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as arrays:
            return _rebuilt(settings, arrays, analyzers or {}, kinds)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:  # an object array: a pickle
        raise UnreadableModel(f"模型文件读不了（{error}）：请重新训练模型（make train）") from error


def _rebuilt(settings: Dict[str, Any], arrays, analyzers: Dict[str, Callable],
             kinds: Dict[str, str] | None) -> Dict[str, Any]:
    model = {}
    for name, entry in settings.items():
        kind = entry.get("kind")
        if not _keeps(name, kind, kinds):
            raise UnreadableModel(f"模型文件里的 {name} 是 {kind!r}，不是本版本在这里保存的类型：请重新训练模型（make train）")
        params = {key: _setting(value, analyzers) for key, value in entry["params"].items()}
        fitted = KINDS[kind](**params)
        if kind == "TfidfVectorizer":
            fitted.vocabulary_ = entry["vocabulary"]
        for attribute in FITTED[kind]:
            setattr(fitted, attribute, arrays[f"{name}.{attribute}"])
        # scikit-learn scores a message as features @ coef_.T (feature_log_prob_.T for naive
        # Bayes); scipy copies a dense operand that is not C-ordered, which for a C-ordered matrix
        # meant the whole weight matrix (a vocabulary × the intents) at every message. Column
        # order makes its transpose C-ordered.
        for weights in ("coef_", "feature_log_prob_"):
            if hasattr(fitted, weights):
                setattr(fitted, weights, np.asfortranarray(getattr(fitted, weights)))
                fitted.n_features_in_ = getattr(fitted, weights).shape[1]
        model[name] = fitted
    return model


def _setting(value: Any, analyzers: Dict[str, Callable]) -> Any:
    if isinstance(value, dict) and set(value) == {"analyzer"}:
        if value["analyzer"] not in analyzers:
            raise UnreadableModel(f"模型文件要用的分析函数 {value['analyzer']!r} 不在本组件里：请重新训练模型（make train）")
        return analyzers[value["analyzer"]]
    if isinstance(value, dict) and set(value) == {"dtype"}:
        return np.dtype(value["dtype"]).type
    if isinstance(value, list):  # JSON has no tuples: ngram_range
        return tuple(value)
    return value
