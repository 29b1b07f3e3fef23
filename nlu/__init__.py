"""The Rasa side of the NLU: custom pipeline components and loading a trained model."""
