"""A tiny, safe expression language for the `coding` tasks.

A reply to a coding task states a function as one integer expression,
"f(x) = 2 * x + 1". Model output is never handed to Python's evaluator:
this module tokenises it with one regular expression, parses it by
recursive descent into nested tuples, and walks those tuples itself.
Grammar (Python-like precedence, integers only):

    cond  := or ["if" or "else" cond]
    or    := and ("or" and)*          and := not ("and" not)*
    not   := "not" not | cmp          cmp := arith [("<"|">"|"<="|">="|"=="|"!=") arith]
    arith := term (("+"|"-") term)*   term := unary (("*"|"/"|"//"|"%") unary)*
    unary := ("-"|"+") unary | power  power := atom ["**" unary]
    atom  := INT | PARAM | ("abs"|"min"|"max") "(" cond ("," cond)* ")" | "(" cond ")"

Anything else (strings, attributes, other names, quotes, brackets) is a
`ProgramError`. Source length, token count, nesting depth, exponents and
magnitudes are bounded, so every call finishes fast. "/" is exact
division: it fails unless the result is an integer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_SOURCE_CHARS = 200
MAX_TOKENS = 100
MAX_DEPTH = 20
MAX_ABS = 10**15
FUNCTIONS = {"abs": (1, 1), "min": (2, 4), "max": (2, 4)}
KEYWORDS = frozenset({"if", "else", "and", "or", "not"})
_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z0-9_]*)|(\*\*|//|<=|>=|==|!=|[-+*/%<>(),]))")
_COMPARE = {"<", ">", "<=", ">=", "==", "!="}
_PREFIX = re.compile(
  r"^(?:def\s+)?f\s*\(\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*\)\s*(?:=|:)\s*(?:return\s+)?"
)

Node = tuple


class ProgramError(ValueError):
  """The text is not a program of the grammar, or it failed when run."""


def _tokenize(src: str) -> list[tuple[str, object]]:
  if len(src) > MAX_SOURCE_CHARS:
    raise ProgramError("program too long")
  tokens, pos = [], 0
  while pos < len(src):
    m = _TOKEN.match(src, pos)
    if m is None or m.end() == pos:
      if src[pos:].strip():
        raise ProgramError(f"unexpected character {src[pos:].strip()[0]!r}")
      break
    pos = m.end()
    number, name, op = m.groups()
    if number is not None:
      tokens.append(("num", int(number)))
    elif name is not None:
      tokens.append(("kw" if name in KEYWORDS else "name", name))
    else:
      tokens.append(("op", op))
    if len(tokens) > MAX_TOKENS:
      raise ProgramError("program too long")
  return tokens


class _Parser:
  def __init__(self, tokens, params: Sequence[str]):
    self.tokens, self.params, self.pos, self.depth = tokens, set(params), 0, 0

  def peek(self, kind: str, value=None) -> bool:
    if self.pos >= len(self.tokens):
      return False
    k, v = self.tokens[self.pos]
    return k == kind and (value is None or v == value)

  def take(self, kind: str, value=None):
    if not self.peek(kind, value):
      found = self.tokens[self.pos][1] if self.pos < len(self.tokens) else "end"
      raise ProgramError(f"expected {value or kind}, found {found!r}")
    self.pos += 1
    return self.tokens[self.pos - 1][1]

  def nest(self):
    self.depth += 1
    if self.depth > MAX_DEPTH:
      raise ProgramError("nested too deeply")

  def cond(self) -> Node:
    self.nest()
    body = self.or_()
    if self.peek("kw", "if"):
      self.take("kw", "if")
      test = self.or_()
      self.take("kw", "else")
      body = ("if", test, body, self.cond())
    self.depth -= 1
    return body

  def or_(self) -> Node:
    node = self.and_()
    while self.peek("kw", "or"):
      self.take("kw")
      node = ("or", node, self.and_())
    return node

  def and_(self) -> Node:
    node = self.not_()
    while self.peek("kw", "and"):
      self.take("kw")
      node = ("and", node, self.not_())
    return node

  def not_(self) -> Node:
    if self.peek("kw", "not"):
      self.take("kw")
      self.nest()
      node = ("not", self.not_())
      self.depth -= 1
      return node
    left = self.arith()
    if self.pos < len(self.tokens) and self.tokens[self.pos] in {("op", c) for c in _COMPARE}:
      return ("bin", self.take("op"), left, self.arith())
    return left

  def arith(self) -> Node:
    node = self.term()
    while self.peek("op", "+") or self.peek("op", "-"):
      node = ("bin", self.take("op"), node, self.term())
    return node

  def term(self) -> Node:
    node = self.unary()
    while any(self.peek("op", o) for o in ("*", "/", "//", "%")):
      node = ("bin", self.take("op"), node, self.unary())
    return node

  def unary(self) -> Node:
    if self.peek("op", "-") or self.peek("op", "+"):
      sign = self.take("op")
      self.nest()
      node = self.unary()
      self.depth -= 1
      return ("neg", node) if sign == "-" else node
    node = self.atom()
    if self.peek("op", "**"):
      self.take("op")
      node = ("bin", "**", node, self.unary())
    return node

  def atom(self) -> Node:
    if self.peek("num"):
      return ("num", self.take("num"))
    if self.peek("op", "("):
      self.take("op")
      node = self.cond()
      self.take("op", ")")
      return node
    name = self.take("name")
    if name in self.params:
      return ("var", name)
    if name not in FUNCTIONS:
      raise ProgramError(f"unknown name {name!r}")
    self.take("op", "(")
    args = [self.cond()]
    while self.peek("op", ","):
      self.take("op")
      args.append(self.cond())
    self.take("op", ")")
    lo, hi = FUNCTIONS[name]
    if not lo <= len(args) <= hi:
      raise ProgramError(f"{name} takes {lo} to {hi} arguments")
    return ("call", name, tuple(args))


def _bounded(value: int) -> int:
  if abs(value) > MAX_ABS:
    raise ProgramError("number too large")
  return value


def _binary(op: str, a: int, b: int) -> int:
  if op in ("+", "-", "*"):
    return _bounded(a + b if op == "+" else a - b if op == "-" else a * b)
  if op in ("/", "//", "%"):
    if b == 0:
      raise ProgramError("division by zero")
    if op == "/" and a % b:
      raise ProgramError("inexact division")
    return a % b if op == "%" else a // b
  if op == "**":
    if not 0 <= b <= 16 or abs(a) > 10**6:
      raise ProgramError("power out of range")
    return _bounded(a**b)
  return int({"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b, "==": a == b, "!=": a != b}[op])


def _run(node: Node, env: dict[str, int]) -> int:
  kind = node[0]
  if kind == "num":
    return _bounded(node[1])
  if kind == "var":
    return env[node[1]]
  if kind == "neg":
    return -_run(node[1], env)
  if kind == "not":
    return int(not _run(node[1], env))
  if kind == "and":
    left = _run(node[1], env)
    return _run(node[2], env) if left else left
  if kind == "or":
    left = _run(node[1], env)
    return left if left else _run(node[2], env)
  if kind == "if":
    return _run(node[2], env) if _run(node[1], env) else _run(node[3], env)
  if kind == "call":
    args = [_run(a, env) for a in node[2]]
    return abs(args[0]) if node[1] == "abs" else min(args) if node[1] == "min" else max(args)
  return _binary(node[1], _run(node[2], env), _run(node[3], env))


class Program:
  """A parsed function f(params) = expression."""

  def __init__(self, params: Sequence[str], tree: Node, source: str):
    self.params, self.tree, self.source = tuple(params), tree, source

  def __call__(self, *args: int) -> int:
    if len(args) != len(self.params):
      raise ProgramError(f"f takes {len(self.params)} arguments")
    return _run(self.tree, dict(zip(self.params, (int(a) for a in args))))


def parse_program(text: str, params: Sequence[str]) -> Program:
  """Parse "f(x) = expr", "def f(x): return expr", "return expr" or "expr".

  A prefix may rename the parameters ("f(a) = 2 * a") but not change
  their number.
  """
  text = text.strip()
  m = _PREFIX.match(text)
  if m:
    params_named = [p.strip() for p in m.group(1).split(",")]
    if len(params_named) != len(params):
      raise ProgramError(f"f must take {len(params)} arguments")
    params, text = params_named, text[m.end() :]
  elif text.startswith("return "):
    text = text[len("return ") :]
  if any(p in KEYWORDS or p in FUNCTIONS for p in params):
    raise ProgramError("reserved parameter name")
  parser = _Parser(_tokenize(text), params)
  if not parser.tokens:
    raise ProgramError("empty program")
  tree = parser.cond()
  if parser.pos != len(parser.tokens):
    raise ProgramError(f"unexpected {parser.tokens[parser.pos][1]!r}")
  return Program(params, tree, text)


def passes(program: Program, tests: Sequence[Sequence]) -> list[bool]:
  """One bool per test [args, expected]; a failing call counts as False."""
  results = []
  for args, expected in tests:
    try:
      results.append(program(*args) == expected)
    except ProgramError:
      results.append(False)
  return results
