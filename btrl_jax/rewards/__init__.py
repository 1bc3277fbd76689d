"""Rewards and eval scores share one code path: `grader.score`."""
