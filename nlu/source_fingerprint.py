"""What a trained component's behaviour was built from, for Rasa's training cache.

Rasa reuses a component it trained before when the component's class, its config and its input
are unchanged: it reads the source of the class only. Ours also learn from functions in other
modules (the danger model's labels are the rules' verdicts of `bot.urgency`; every text passes
`bot.normalize`), so a change there must train again, not reuse a model built on the old rules.
"""
from __future__ import annotations

import hashlib
import inspect
from types import ModuleType


def source_fingerprint(*modules: ModuleType) -> str:
    """A digest of the modules' source: it changes when any of them is edited."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()
