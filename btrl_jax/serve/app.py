"""`btrl serve`: an OpenAI-compatible HTTP server (FastAPI) over any checkpoint's sampler.

Endpoints: `GET /health`, `GET /v1/models`, `POST /v1/chat/completions` (the messages
rendered with the model's chat template; `n`, `temperature`, `top_p`, `max_tokens` /
`max_completion_tokens`, `stop`, `seed`, and vLLM's `continue_final_message`: the reply
continues a final assistant message), `POST /v1/completions` (a prompt as text or
token ids, one or a list; `echo`; `logprobs` = k gives each token's log-prob and the top
k, as lm-evaluation-harness's local-completions reads for loglikelihood tasks), and
`GET /stats` (the engine's request, batch and compile counts). A bad request is a 400
with an OpenAI-style JSON error; streaming is not offered (`stream: true` is a 400).
Concurrent requests are batched by engine.py.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from btrl_jax.sampling import SamplingParams
from btrl_jax.serve.engine import MAX_TOP_LOGPROBS, Completion, Engine

MAX_N = 64
MAX_NEW_TOKENS = 4096
MAX_STOPS = 16  # OpenAI allows 4; lm-eval's local-completions sends a task's `until` and more


class RequestError(ValueError):
  """A request the server cannot serve as asked: a 400 naming the parameter."""

  def __init__(self, message: str, param: str | None = None):
    super().__init__(message)
    self.param = param


def _error(status: int, message: str, kind: str, param: str | None = None):
  body = {"error": {"message": message, "type": kind, "param": param, "code": None}}
  return JSONResponse(status_code=status, content=body)


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
  return {
    "prompt_tokens": prompt_tokens,
    "completion_tokens": completion_tokens,
    "total_tokens": prompt_tokens + completion_tokens,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
      "reasoning_tokens": 0,
      "audio_tokens": 0,
      "accepted_prediction_tokens": 0,
      "rejected_prediction_tokens": 0,
    },
  }


def _stops(value: Any) -> list[str]:
  if value is None:
    return []
  stops = [value] if isinstance(value, str) else value
  if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
    raise RequestError("stop must be a non-empty string or a list of them", "stop")
  if len(stops) > MAX_STOPS:
    raise RequestError(f"at most {MAX_STOPS} stop sequences", "stop")
  return stops


def _cut(text: str, stops: list[str]) -> tuple[str, bool]:
  """`text` up to its first stop sequence; whether one was found."""
  at = min((i for s in stops if (i := text.find(s)) >= 0), default=-1)
  return (text[:at], True) if at >= 0 else (text, False)


def _number(body: dict, key: str, default, lo, hi, kind=float):
  value = body.get(key, default)
  if value is None:
    value = default
  ok = isinstance(value, (int, float)) and not isinstance(value, bool)
  if kind is int:
    ok = ok and float(value).is_integer()
  if not ok or not lo <= value <= hi:
    raise RequestError(f"{key} must be a number in [{lo}, {hi}], got {value!r}", key)
  return kind(value)


def _sampling(body: dict, default_max: int) -> tuple[SamplingParams, int, int | None]:
  if body.get("stream"):
    raise RequestError("streaming is not supported (stream must be false)", "stream")
  n = _number(body, "n", 1, 1, MAX_N, int)
  key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
  max_new = _number(body, key, default_max, 0, MAX_NEW_TOKENS, int)
  temperature = _number(body, "temperature", 1.0, 0.0, 2.0)
  top_p = _number(body, "top_p", 1.0, 1e-6, 1.0)
  seed = body.get("seed")
  if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
    raise RequestError("seed must be an integer", "seed")
  return SamplingParams(temperature, 0, top_p, max_new), n, seed


def _messages(body: dict) -> list[dict[str, str]]:
  messages = body.get("messages")
  if not isinstance(messages, list) or not messages:
    raise RequestError("messages must be a non-empty list", "messages")
  out = []
  for i, m in enumerate(messages):
    if not isinstance(m, dict) or not isinstance(m.get("role"), str):
      raise RequestError(f"messages[{i}] needs a role", "messages")
    content = m.get("content")
    if isinstance(content, list):  # content parts: only text is understood
      if not all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        raise RequestError(f"messages[{i}]: only text content parts are supported", "messages")
      content = "".join(str(p.get("text", "")) for p in content)
    if not isinstance(content, str):
      raise RequestError(f"messages[{i}] needs a string content", "messages")
    out.append({"role": m["role"], "content": content})
  return out


class Server:
  """The routes' logic over one Engine (create_app wires it into FastAPI)."""

  def __init__(self, engine: Engine, model_name: str):
    self.engine, self.model_name = engine, model_name
    self.tok = engine.tokenizer
    self.created = int(time.time())

  async def _wait(self, future):
    return await asyncio.wrap_future(future)

  def _encode_text(self, text: str) -> list[int]:
    ids = list(self.tok.encode(text))
    bos = getattr(self.tok, "bos_id", None)
    if getattr(self.tok, "add_bos", False) and bos is not None:
      ids = [bos, *ids]
    return ids

  def _text(self, c: Completion) -> str:
    return self.tok.decode(c.tokens)

  async def chat(self, body: dict) -> dict:
    sampling, n, seed = _sampling(body, default_max=256)
    stops = _stops(body.get("stop"))
    messages = _messages(body)
    # vLLM's `continue_final_message`: the reply continues the final assistant message
    # (rendered as the generation prompt followed by that message's text, unterminated).
    opening = None
    if body.get("continue_final_message"):
      if messages[-1]["role"] != "assistant":
        raise RequestError(
          "continue_final_message needs a final assistant message", "continue_final_message"
        )
      messages, opening = messages[:-1], messages[-1]["content"]
    try:
      prompt = self.tok.encode_prompt(messages).tolist()
      if opening:
        prompt += list(self.tok.encode(opening))
    except ValueError as e:  # the chat template's own complaint (TemplateError, bad roles)
      raise RequestError(str(e).splitlines()[0], "messages") from None
    done = await self._wait(self.engine.submit(prompt, n, sampling, seed))
    choices = []
    for i, c in enumerate(done):
      text, hit = _cut(self._text(c), stops)
      reason = "stop" if hit or c.finished else "length"
      choices.append(
        {
          "index": i,
          "message": {"role": "assistant", "content": text, "refusal": None},
          "logprobs": None,
          "finish_reason": reason,
        }
      )
    return {
      "id": f"chatcmpl-{uuid.uuid4().hex}",
      "object": "chat.completion",
      "created": int(time.time()),
      "model": self.model_name,
      "system_fingerprint": None,
      "choices": choices,
      "usage": _usage(len(prompt), sum(len(c.tokens) for c in done)),
    }

  def _prompts(self, value: Any) -> list[tuple[str, list[int]]]:
    """(text, ids) per prompt: a string, a list of strings, token ids, or lists of them."""
    if isinstance(value, str):
      value = [value]
    elif isinstance(value, list) and value and all(isinstance(x, int) for x in value):
      value = [value]
    if not isinstance(value, list) or not value:
      raise RequestError(
        "prompt must be a string, token ids, or a non-empty list of them", "prompt"
      )
    out = []
    vocab = self.tok.vocab_size
    for p in value:
      if isinstance(p, str):
        ids = self._encode_text(p)
        out.append((p, ids))
      elif isinstance(p, list) and p and all(isinstance(x, int) and 0 <= x < vocab for x in p):
        out.append((self.tok.decode(p, skip_special=False), list(p)))
      else:
        raise RequestError(f"each prompt must be a string or token ids in [0, {vocab})", "prompt")
      if not out[-1][1]:
        raise RequestError("a prompt encodes to no tokens", "prompt")
    return out

  def _logprobs(self, ids: list[int], start: int, k: int, scored) -> dict[str, Any]:
    """OpenAI's completion logprobs object for ids[start:] (the first token of a sequence
    has no log-prob: None)."""
    picked, top_v, top_i = scored
    piece = lambda i: self.tok.decode([int(i)], skip_special=False)
    tokens = [piece(t) for t in ids[start:]]
    lps, tops, offsets, pos = [], [], [], 0
    for j in range(start, len(ids)):
      offsets.append(pos)
      pos += len(tokens[j - start])
      if j == 0:
        lps.append(None)
        tops.append(None)
        continue
      lps.append(float(picked[j - 1]))
      tops.append({piece(t): float(v) for t, v in zip(top_i[j - 1][:k], top_v[j - 1][:k])})
    return {"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offsets}

  async def completions(self, body: dict) -> dict:
    sampling, n, seed = _sampling(body, default_max=16)
    stops = _stops(body.get("stop"))
    echo = bool(body.get("echo", False))
    k = body.get("logprobs")
    if k is not None:
      k = _number(body, "logprobs", 0, 0, MAX_TOP_LOGPROBS, int)
    prompts = self._prompts(body.get("prompt"))
    if sampling.max_new_tokens == 0 and not echo:
      raise RequestError("max_tokens=0 needs echo=true (nothing to return otherwise)", "max_tokens")
    waits = []
    for _, ids in prompts:
      if sampling.max_new_tokens > 0:
        waits.append(self._wait(self.engine.submit(ids, n, sampling, seed)))
    generated = await asyncio.gather(*waits)
    if not generated:
      generated = [[Completion([], False)] * n for _ in prompts]
    choices, sequences = [], []
    for (text, ids), done in zip(prompts, generated):
      for c in done:
        completion, hit = _cut(self._text(c), stops)
        reason = "stop" if hit or c.finished else "length"
        if hit:  # keep the tokens whose text lies before the stop sequence
          keep = next(
            (
              m
              for m in range(len(c.tokens) + 1)
              if len(self.tok.decode(c.tokens[:m])) >= len(completion)
            ),
            len(c.tokens),
          )
          c = Completion(c.tokens[:keep], True)
        choices.append(
          {
            "text": (text if echo else "") + completion,
            "index": len(choices),
            "logprobs": None,
            "finish_reason": reason,
          }
        )
        sequences.append((ids, c.tokens))
    if k is not None:
      scored = await self._wait(self.engine.score([p + g for p, g in sequences], max(k, 1)))
      for choice, (p, g), s in zip(choices, sequences, scored):
        choice["logprobs"] = self._logprobs(p + g, 0 if echo else len(p), k, s)
    completion_tokens = sum(len(g) for _, g in sequences)
    return {
      "id": f"cmpl-{uuid.uuid4().hex}",
      "object": "text_completion",
      "created": int(time.time()),
      "model": self.model_name,
      "system_fingerprint": None,
      "choices": choices,
      "usage": _usage(sum(len(ids) for _, ids in prompts), completion_tokens),
    }

  def models(self) -> dict:
    card = {"id": self.model_name, "object": "model", "created": self.created, "owned_by": "btrl"}
    return {"object": "list", "data": [card]}


def create_app(engine: Engine, model_name: str):
  """The FastAPI application over `engine`."""
  server = Server(engine, model_name)
  app = FastAPI(title="btrl serve", docs_url=None, redoc_url=None)

  async def _json(request: Request) -> dict:
    try:
      body = await request.json()
    except ValueError:
      raise RequestError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
      raise RequestError("the request body must be a JSON object")
    model = body.get("model")
    if model is not None and model != model_name:
      raise RequestError(
        f"model {model!r} is not served here (this server has {model_name!r})", "model"
      )
    return body

  @app.exception_handler(RequestError)
  async def _bad_request(request, exc: RequestError):
    return _error(400, str(exc), "invalid_request_error", exc.param)

  @app.exception_handler(RequestValidationError)
  async def _invalid(request, exc):
    return _error(400, str(exc), "invalid_request_error")

  @app.exception_handler(HTTPException)
  async def _http(request, exc: HTTPException):
    return _error(exc.status_code, str(exc.detail), "invalid_request_error")

  @app.exception_handler(Exception)
  async def _crash(request, exc: Exception):
    return _error(500, f"{type(exc).__name__}: {exc}", "server_error")

  @app.get("/health")
  async def health():
    return {"status": "ok"}

  @app.get("/v1/models")
  async def models():
    return server.models()

  @app.get("/stats")
  async def stats():
    s = dict(engine.stats)
    s["sampler_traces"] = engine.policy.sampler.trace_count
    return s

  @app.post("/v1/chat/completions")
  async def chat(request: Request):
    return await server.chat(await _json(request))

  @app.post("/v1/completions")
  async def completions(request: Request):
    return await server.completions(await _json(request))

  return app


def serve(
  checkpoint: str, host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None
) -> None:
  """Loads `checkpoint` (a run's directory, hf:DIR, gguf:FILE or a named model) and serves
  it until interrupted."""
  import os

  import uvicorn

  from btrl_jax.policy import load_policy

  policy = load_policy(checkpoint)
  name = model_name or os.path.basename(os.path.normpath(checkpoint.split(":", 1)[-1]))
  engine = Engine(policy)
  print(f"btrl serve: {name} on http://{host}:{port}/v1", flush=True)
  try:
    uvicorn.run(create_app(engine, name), host=host, port=port, log_level="warning")
  finally:
    engine.close()
