"""BENCHMARKS.md's workload constants that outside scripts share with `btrl bench`.

Imports nothing (not even numpy), so the reference scripts under scripts/ that run in a
throwaway torch + transformers venv can read the very same prompts.
"""

# W2: SmolLM2-135M-Instruct, these 8 chat prompts through its chat template, 8 samples
# each, exactly 64 new tokens at T=1 with EOS suppressed, float32.
W2_PROMPTS: tuple[str, ...] = (
  "Give me one tip for sleeping better.",
  "What is the capital of Australia?",
  "Write a haiku about autumn rain.",
  "Explain what a prime number is to a child.",
  "How do I boil an egg?",
  "Name three uses for a paperclip.",
  "Why is the sky blue?",
  "Suggest a name for a friendly robot.",
)
W2_SAMPLES = 8
W2_NEW_TOKENS = 64
