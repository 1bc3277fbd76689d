"""`btrl serve`: a real server in a subprocess on 127.0.0.1 with SmolLM2-135M-Instruct,
queried over HTTP with the official `openai` client (nothing mocked in-process)."""

import concurrent.futures
import json
import os
import urllib.error
import urllib.request

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from btrl_jax.serve.launch import serve_subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = "smollm2-135m-instruct"


def _get(url: str) -> dict:
  with urllib.request.urlopen(url, timeout=10) as r:
    return json.load(r)


def _post(url: str, body) -> tuple[int, dict]:
  data = body if isinstance(body, bytes) else json.dumps(body).encode()
  req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
  try:
    with urllib.request.urlopen(req, timeout=120) as r:
      return r.status, json.load(r)
  except urllib.error.HTTPError as e:
    return e.code, json.load(e)


@pytest.fixture(scope="module")
def server():
  """`btrl serve --checkpoint=smollm2-135m-instruct` on a free port; stopped at the end."""
  with serve_subprocess(MODEL) as (base, _):
    yield base


@pytest.fixture(scope="module")
def client(server):
  from openai import OpenAI

  return OpenAI(base_url=server + "/v1", api_key="unused", max_retries=0, timeout=300)


@pytest.fixture(scope="module")
def local():
  """The same model imported in this process, for reference numbers."""
  from btrl_jax import parallel
  from btrl_jax.checkpoints import load

  return load(MODEL, parallel.make_mesh(dict(data=1, fsdp=-1, tensor=1)))


def test_models_and_a_greedy_chat_completion(client, local):
  assert [m.id for m in client.models.list().data] == [MODEL]
  msgs = [{"role": "user", "content": "What is the capital of France?"}]
  r = client.chat.completions.create(model=MODEL, messages=msgs, temperature=0, max_tokens=32)
  choice = r.choices[0]
  assert "Paris" in choice.message.content and choice.finish_reason == "stop"
  u = r.usage
  assert u.prompt_tokens == len(local.tokenizer.encode_prompt(msgs))
  assert u.total_tokens == u.prompt_tokens + u.completion_tokens > u.prompt_tokens
  assert u.prompt_tokens_details is not None and u.completion_tokens_details is not None


def test_completion_echo_logprobs_match_a_local_forward(client, local):
  """What lm-eval's local-completions sends for loglikelihood: echo, logprobs, max_tokens=1,
  T=0. Every token's log-prob and its top 3 equal this process's forward of the same ids."""
  prompt = "The capital of France is"
  r = client.completions.create(
    model=MODEL, prompt=prompt, max_tokens=1, temperature=0, echo=True, logprobs=3
  )
  c = r.choices[0]
  lp = c.logprobs
  assert c.text.startswith(prompt) and "".join(lp.tokens) == c.text
  ids = local.tokenizer.encode(prompt)
  model = nnx.merge(local.graphdef, local.params)
  full = ids + [int(np.argmax(np.asarray(model(jnp.asarray([ids])))[0, -1]))]
  want = np.asarray(jax.nn.log_softmax(model(jnp.asarray([full]))[0], axis=-1))
  assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
  got = np.array(lp.token_logprobs[1:])
  np.testing.assert_allclose(got, want[np.arange(len(full) - 1), full[1:]], atol=1e-4)
  for j in range(1, len(full)):
    top = sorted(want[j - 1])[::-1][:3]
    np.testing.assert_allclose(sorted(lp.top_logprobs[j].values())[::-1], top, atol=1e-4)
  assert lp.text_offset[0] == 0 and lp.text_offset[-1] == len(prompt)
  # The same prompt as token ids, scored only (max_tokens=0): the same numbers.
  r2 = client.completions.create(
    model=MODEL, prompt=ids, max_tokens=0, temperature=0, echo=True, logprobs=1
  )
  np.testing.assert_allclose(r2.choices[0].logprobs.token_logprobs[1:], got[:-1], atol=1e-6)


def test_concurrent_requests_are_batched_and_compile_nothing_new(server, client):
  """16 clients at once: once the row buckets a wave can fill (4 and 16) are compiled, a
  wave is answered by those programs, in fewer sampler calls than requests, and each seeded
  request gets the same reply every time."""

  def ask(i):
    msgs = [{"role": "user", "content": f"Give me tip number {i} for sleeping better."}]
    r = client.chat.completions.create(
      model=MODEL, messages=msgs, temperature=1.0, max_tokens=12, seed=i
    )
    return r.choices[0].message.content

  alone = ask(0)  # a batch of one: the 4-row bucket
  with concurrent.futures.ThreadPoolExecutor(16) as pool:
    first = list(pool.map(ask, range(16)))
  assert first[0] == alone
  before = _get(server + "/stats")
  with concurrent.futures.ThreadPoolExecutor(16) as pool:
    second = list(pool.map(ask, range(16)))
  after = _get(server + "/stats")
  assert after["requests"] - before["requests"] == 16
  assert after["sampler_calls"] - before["sampler_calls"] < 16
  assert after["sampler_traces"] == before["sampler_traces"]
  assert first == second and len(set(first)) > 1


def test_n_stop_and_seed(client):
  msgs = [{"role": "user", "content": "Count from one to ten in words, separated by commas."}]
  kw = dict(model=MODEL, messages=msgs, temperature=0.8, max_tokens=24, n=3, seed=5)
  r = client.chat.completions.create(**kw)
  assert [c.index for c in r.choices] == [0, 1, 2]
  again = client.chat.completions.create(**kw)
  assert [c.message.content for c in r.choices] == [c.message.content for c in again.choices]
  greedy = dict(kw, temperature=0, n=1)
  full = client.chat.completions.create(**greedy).choices[0].message.content
  stop = full[len(full) // 2 : len(full) // 2 + 2]  # text the greedy reply holds
  cut = client.chat.completions.create(**greedy, stop=["never in it", stop]).choices[0]
  assert cut.message.content == full[: full.find(stop)] and cut.finish_reason == "stop"


@pytest.mark.parametrize(
  "path,body,param",
  [
    ("chat/completions", {"messages": []}, "messages"),
    ("chat/completions", {"messages": [{"role": "user", "content": "hi"}], "n": 0}, "n"),
    (
      "chat/completions",
      {"messages": [{"role": "user", "content": "hi"}], "stream": True},
      "stream",
    ),
    ("chat/completions", {"messages": [{"role": "user", "content": 3}]}, "messages"),
    (
      "chat/completions",
      {"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]},
      "model",
    ),
    ("completions", {"prompt": "x", "temperature": 5}, "temperature"),
    ("completions", {"prompt": [10**9]}, "prompt"),
    ("completions", {"prompt": "x", "logprobs": 50}, "logprobs"),
    ("completions", {"prompt": "x", "max_tokens": 0}, "max_tokens"),
    ("completions", b"{not json", None),
  ],
)
def test_bad_requests_get_a_400_with_a_json_error(server, path, body, param):
  status, err = _post(f"{server}/v1/{path}", body)
  assert status == 400 and err["error"]["type"] == "invalid_request_error"
  assert err["error"]["param"] == param and err["error"]["message"]
  assert _get(server + "/health")["status"] == "ok"


def test_continue_final_message_continues_the_assistants_opening(server, local):
  """vLLM's `continue_final_message`: the prompt is the conversation before the final
  assistant message, its generation prompt, then that message's text unterminated (the
  judge's prefilled verdict opening); the reply is the continuation only."""
  opening = '{"capital": "'
  msgs = [
    {"role": "user", "content": "Answer in JSON: what is the capital of France?"},
    {"role": "assistant", "content": opening},
  ]
  body = dict(model=MODEL, messages=msgs, temperature=0, max_tokens=8)
  status, r = _post(server + "/v1/chat/completions", dict(body, continue_final_message=True))
  tok = local.tokenizer
  want = len(tok.encode_prompt(msgs[:1])) + len(tok.encode(opening))
  assert status == 200 and r["usage"]["prompt_tokens"] == want
  assert r["choices"][0]["message"]["content"].startswith("Paris")
  status, err = _post(
    server + "/v1/chat/completions", dict(body, messages=msgs[:1], continue_final_message=True)
  )
  assert status == 400 and err["error"]["param"] == "continue_final_message"
