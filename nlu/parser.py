"""Loading a trained Rasa model and parsing messages with it, outside the Rasa server."""
import asyncio
import logging
from pathlib import Path

from rasa.model import get_latest_model


class ModelNotFound(RuntimeError):
    """There is no trained model where one was expected."""


class ModelParser:
    """Parses text with a trained model exactly as the Rasa server's NLU does."""

    def __init__(self, model: str | Path = "models"):
        path = Path(model)
        found = get_latest_model(path) if path.is_dir() else (str(path) if path.is_file() else None)
        if not found:
            raise ModelNotFound(f"{path}/ 里没有训练好的模型：请先运行 make train")
        self.model_path = found
        # Rasa's agent loads TensorFlow (ten seconds): only once there is a model to load
        from rasa.core.agent import Agent
        from rasa.utils.common import configure_logging_and_warnings
        from rasa.utils.log_utils import configure_structlog
        configure_logging_and_warnings(logging.WARNING)
        configure_structlog(logging.WARNING)
        self._loop = asyncio.new_event_loop()
        self._agent = Agent.load(found)

    def __call__(self, text: str) -> dict:
        return self._loop.run_until_complete(self._agent.parse_message(text))
