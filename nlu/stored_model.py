"""What the project's trainable NLU components share: scikit-learn vectorizers and linear
classifiers that training writes to Rasa's model storage and loading reads back, as plain data
(nlu/linear_store.py)."""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

from nlu import linear_store
from nlu.source_fingerprint import source_fingerprint


class StoredModel(GraphComponent):
    """A component whose `_model` (None until trained) lives in its resource's directory."""

    # the functions its vectorizers may use as analyzers, by the name the stored model gives
    analyzers: Dict[Text, Callable] = {}
    # the modules besides its own whose code shapes what it learns (nlu/source_fingerprint.py)
    learns_from: Tuple[ModuleType, ...] = ()
    # the kind of object each name of `_model` holds (linear_store.KINDS): a model stored by a
    # version that kept another kind under a name is refused at loading, not at the first message
    kinds: Dict[Text, Text] = {}

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 model: Dict[Text, Any] | None = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage, self._resource, self._model = model_storage, resource, model

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> str:
        return source_fingerprint(sys.modules[cls.__module__], linear_store, *cls.learns_from)

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> StoredModel:
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> StoredModel:
        with contextlib.ExitStack() as reading:
            try:
                directory = reading.enter_context(model_storage.read_from(resource))
            except ValueError:  # trained without examples: nothing was stored
                return cls(config, model_storage, resource)
            loaded = cls(config, model_storage, resource, linear_store.load(Path(directory), cls.analyzers, cls.kinds))
        loaded._check_widths()
        return loaded

    def _widths(self) -> Dict[Text, int]:
        """The number of features each classifier of `_model` reads under the config it is loaded
        with (the archive's own settings over this version's defaults)."""
        return {}

    def _check_widths(self) -> None:
        """A model trained under other settings (a sentence embedding read or not) or by another
        version is refused at loading, not at the first message: its classifiers read another
        number of features, or a part of it is missing."""
        component = type(self).__name__
        try:
            widths = {name: (width, self._model[name].coef_.shape[1]) for name, width in self._widths().items()}
        except (KeyError, AttributeError) as error:
            raise linear_store.UnreadableModel(
                f"{component} 的模型缺少 {error}（由别的版本训练或已损坏）：请重新训练模型（make train）") from error
        for name, (width, trained) in widths.items():
            if trained != width:
                raise linear_store.UnreadableModel(
                    f"{component} 的 {name} 训练时读 {trained} 个特征，本版本按该模型的设置应为 {width} 个"
                    "（模型由别的设置或版本训练）：请重新训练模型（make train）")

    def _write(self) -> Resource:
        """Store the trained model; the resource for Rasa's graph."""
        with self._storage.write_to(self._resource) as directory:
            linear_store.dump(self._model, Path(directory), self.analyzers, self.kinds)
        return self._resource
