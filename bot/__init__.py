"""社区小助手's domain: categories, decisions, locations, evaluation. Independent of Rasa."""
