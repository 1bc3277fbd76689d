"""Evaluation: sampling a policy on examples and grading the replies."""
