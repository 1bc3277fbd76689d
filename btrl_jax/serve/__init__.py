"""`btrl serve`: an OpenAI-compatible server over any checkpoint (app.py) and its batching
engine (engine.py)."""
