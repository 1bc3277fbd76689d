"""List and string families: list_ops, string_ops.

Levels grow the input and the operation (1: max / count / reverse, first
letter, uppercase; 2: sort, sum, occurrences; 3: descending sort with
negatives, second largest, evens, vowels). Impossible variants ask for an
item or letter past the end, or the largest number of an empty list.
"""

from __future__ import annotations

from btrl_jax.data.tasks.core import (
  Problem,
  choice,
  impossible_problem,
  number_problem,
  register_family,
)

# Lower-case, not palindromes, at least one consonant and one vowel.
WORDS = (
  "cat",
  "dog",
  "sun",
  "map",
  "pen",
  "cup",
  "hat",
  "box",
  "fox",
  "bed",
  "red",
  "sky",
  "tree",
  "fish",
  "bird",
  "lamp",
  "milk",
  "rain",
  "ship",
  "frog",
  "moon",
  "star",
  "door",
  "cake",
  "wind",
  "song",
  "road",
  "leaf",
  "stone",
  "plant",
  "train",
  "cloud",
  "bread",
  "chair",
  "horse",
  "apple",
  "river",
  "light",
  "music",
  "grape",
  "table",
  "water",
  "garden",
  "planet",
  "rocket",
  "window",
  "silver",
  "market",
  "pencil",
  "button",
  "summer",
  "winter",
  "forest",
  "castle",
  "dragon",
  "orange",
  "yellow",
  "purple",
  "library",
  "kitchen",
  "blanket",
  "captain",
  "diamond",
  "example",
  "picture",
  "morning",
  "thunder",
  "balloon",
  "pattern",
  "holiday",
  "journey",
  "mountain",
  "elephant",
  "sandwich",
  "umbrella",
  "treasure",
  "computer",
  "dinosaur",
  "triangle",
)
VOWELS = "aeiou"


def _list_text(values) -> str:
  return "[" + ", ".join(str(v) for v in values) + "]"


def _list_problem(prompt: str, value: list[int], working: str, template: str) -> Problem:
  return Problem(
    prompt,
    value,
    {"type": "list", "value": value},
    f"{working}\nAnswer: {_list_text(value)}",
    template,
  )


def _text_problem(prompt: str, value: str, template: str, case_sensitive: bool = False) -> Problem:
  return Problem(
    prompt,
    value,
    {"type": "text", "value": value, "case_sensitive": case_sensitive},
    f"Answer: {value}",
    template,
  )


def _ordinal(k: int) -> str:
  return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


@register_family("list_ops")
def list_ops(rng, level: int, impossible: bool):
  size = level + 2 + int(rng.integers(3))
  lo = -20 if level == 3 else 0
  xs = [int(v) for v in rng.integers(lo, 30, size=size)]
  shown = _list_text(xs)
  if impossible:
    if rng.integers(3) == 0:
      which = choice(rng, ["largest", "smallest"])
      return impossible_problem(
        f"What is the {which} number in the empty list []?",
        f"an empty list has no {which} number",
        "extreme_of_empty",
        naive="0",
      )
    k = size + int(rng.integers(1, 5))
    return impossible_problem(
      f"What is the {_ordinal(k)} number in the list {shown}?",
      f"the list has only {size} numbers",
      "index_past_end",
      naive=str(xs[-1]),
    )
  ops = {
    1: ["max", "min", "count", "reverse"],
    2: ["sort", "sum", "occurrences"],
    3: ["sort_desc", "second_largest", "evens"],
  }[level]
  op = choice(rng, ops)
  if op == "max":
    return number_problem(
      f"What is the largest number in {shown}?", max(xs), f"The largest is {max(xs)}.", op
    )
  if op == "min":
    return number_problem(
      f"What is the smallest number in {shown}?", min(xs), f"The smallest is {min(xs)}.", op
    )
  if op == "count":
    return number_problem(
      f"How many numbers are in the list {shown}?", len(xs), f"Counting them gives {len(xs)}.", op
    )
  if op == "reverse":
    out = xs[::-1]
    return _list_problem(f"Reverse the list {shown}.", out, "Reading it backwards.", op)
  if op == "sort":
    return _list_problem(
      f"Sort {shown} from smallest to largest.", sorted(xs), "Ordering from smallest.", op
    )
  if op == "sum":
    return number_problem(
      f"What is the sum of {shown}?", sum(xs), f"{' + '.join(map(str, xs))} = {sum(xs)}.", op
    )
  if op == "occurrences":
    target = choice(rng, xs)
    xs = [target if rng.random() < 0.3 else v for v in xs]
    count = xs.count(target)
    return number_problem(
      f"How many times does {target} appear in {_list_text(xs)}?",
      count,
      f"{target} appears {count} time{'s' * (count != 1)}.",
      op,
    )
  if op == "sort_desc":
    return _list_problem(
      f"Sort {shown} from largest to smallest.",
      sorted(xs, reverse=True),
      "Ordering from largest.",
      op,
    )
  if op == "second_largest":
    xs = list(dict.fromkeys(xs)) + [max(xs) + 1 + int(rng.integers(5))]
    xs = [xs[i] for i in rng.permutation(len(xs))]
    top2 = sorted(xs)[-2]
    return number_problem(
      f"What is the second largest number in {_list_text(xs)}?",
      top2,
      f"The largest is {max(xs)}, the next is {top2}.",
      op,
    )
  evens = [v for v in xs if v % 2 == 0]
  return _list_problem(
    f"Keep only the even numbers of {shown}, in order.", evens, "Dropping the odd numbers.", op
  )


@register_family("string_ops")
def string_ops(rng, level: int, impossible: bool):
  pool = [w for w in WORDS if (len(w) <= 5) == (level == 1)] if level < 3 else list(WORDS)
  word = choice(rng, pool)
  if impossible:
    k = len(word) + int(rng.integers(1, 6))
    return impossible_problem(
      f"What is the {_ordinal(k)} letter of the word '{word}'?",
      f"'{word}' has only {len(word)} letters",
      "letter_past_end",
      naive=word[-1],
    )
  ops = {
    1: ["reverse", "upper", "first", "length"],
    2: ["reverse", "letter_count", "last"],
    3: ["no_vowels", "sort_letters", "vowel_count"],
  }[level]
  op = choice(rng, ops)
  quoted = f"'{word}'"
  if op == "reverse":
    return _text_problem(f"Reverse the word {quoted}.", word[::-1], op)
  if op == "upper":
    return _text_problem(
      f"Write the word {quoted} in capital letters.", word.upper(), op, case_sensitive=True
    )
  if op == "first":
    return _text_problem(f"What is the first letter of {quoted}?", word[0], op)
  if op == "last":
    return _text_problem(f"What is the last letter of {quoted}?", word[-1], op)
  if op == "length":
    return number_problem(
      f"How many letters are in {quoted}?",
      len(word),
      f"{' '.join(word)} is {len(word)} letters.",
      op,
    )
  if op == "letter_count":
    letter = choice(rng, sorted(set(word)))
    count = word.count(letter)
    return number_problem(
      f"How many times does the letter '{letter}' appear in {quoted}?",
      count,
      f"'{letter}' appears {count} time{'s' * (count != 1)}.",
      op,
    )
  if op == "no_vowels":
    out = "".join(c for c in word if c not in VOWELS)
    return _text_problem(f"Remove the vowels from {quoted}.", out, op)
  if op == "sort_letters":
    return _text_problem(f"Sort the letters of {quoted} alphabetically.", "".join(sorted(word)), op)
  count = sum(c in VOWELS for c in word)
  return number_problem(
    f"How many vowels are in {quoted}?",
    count,
    f"The vowels are {' '.join(c for c in word if c in VOWELS)}.",
    op,
  )
