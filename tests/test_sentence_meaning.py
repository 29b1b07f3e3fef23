"""The sentence embedding the classifiers read (nlu/sentence_meaning.py) stays out of the parse:
the parse is what the tracker keeps for every message, and what the actions and the console read."""
import pytest


def test_the_embedding_rides_on_the_message_but_not_in_its_parse():
    """Where config.yml puts SentenceMeaning in the pipeline, the classifiers read the embedding
    from the message; the parse Rasa makes of it (its output properties) leaves it out."""
    from rasa.shared.nlu.training_data.message import Message

    from nlu.sentence_meaning import MEANING, SentenceMeaning

    message = Message(data={"text": "5号楼电梯停在两层中间了 里面有人"})
    SentenceMeaning().process([message])
    assert message.get(MEANING).shape == (384,)
    assert message.as_dict(only_output_properties=True) == {"text": "5号楼电梯停在两层中间了 里面有人"}


@pytest.mark.model  # it loads the trained model
def test_the_shipped_model_parses_without_embedding(trained_model, monkeypatch):
    """config.yml's classifiers read no sentence embedding: the Rasa server parses a message
    without running multilingual-e5-small (a quarter of the time, docs/benchmarks.md)."""
    import bot.embeddings
    import nlu.sentence_meaning
    from nlu.parser import ModelParser

    def refuse(*args, **kwargs):
        raise AssertionError("the parse embedded the message")
    monkeypatch.setattr(bot.embeddings, "embed", refuse)
    monkeypatch.setattr(nlu.sentence_meaning, "embed", refuse)
    parse = ModelParser(trained_model)("5号楼电梯停在两层中间了 里面有人")
    assert parse["intent"]["name"] == "report_elevator"


def test_an_examples_fingerprint_follows_its_embedding():
    """Rasa's training keys what it caches on each example's fingerprint: the embedding riding on
    an example must count in it, or a changed embedding would reuse a stale classifier."""
    import numpy as np
    from rasa.shared.nlu.training_data.message import Message

    from nlu.sentence_meaning import MEANING, Meaning

    def example(vector) -> Message:
        message = Message(data={"text": "电梯坏了"})
        message.set(MEANING, np.asarray(vector, dtype=np.float32).view(Meaning))
        return message

    first, same, other = example([0.1, 0.2, 0.3]), example([0.1, 0.2, 0.3]), example([0.1, 0.2, 0.30001])
    assert first.fingerprint() == same.fingerprint()
    assert first.fingerprint() != other.fingerprint()
