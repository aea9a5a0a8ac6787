"""Pipeline files: the seed article's second script (concurrent retrieval, then dependent LLM
steps) as data, so it can be run, timed and drawn instead of hand-written each time.

A pipeline is a TOML file::

    name = "rag"                      # optional; defaults to the file's stem
    input = "How does asyncio work?"  # optional; the {input} used when none is given
    [defaults]                        # optional; apply to every llm step
    system = "Be brief."              # also temperature, max_tokens, timeout (seconds)
    max_tokens = 200

    [steps.retrieve_db]               # a wait: stands for I/O (a database, a search API)
    wait = 2.0                        # seconds
    output = "Context from DB: ..."   # the text it returns (a template)

    [steps.fetch]                     # an HTTP GET: the body is the output
    get = "http://127.0.0.1:8080/doc"
    timeout = 10                      # optional, seconds from start to last byte (default 30)
    max_bytes = 2_000_000             # optional, a larger body fails the step (default 1 MB)

    [steps.draft]                     # an LLM call
    model = "local:smollm2"           # any model spec
    after = ["retrieve_db", "fetch"]  # runs when these have finished
    prompt = "Context:\\n{steps.retrieve_db}\\n{steps.fetch}\\n\\nQuestion: {input}"
    # also system, temperature, max_tokens, timeout (override [defaults])

Templates (`prompt`, `system`, `output`) may use `{input}` and `{steps.NAME}` for any step
upstream of this one (reachable through `after`); `{{` and `}}` are literal braces. `prompt`
defaults to `{input}`. Every mistake is a `PipelineError` naming the file, the step and the
reason, raised before anything runs: unknown models (`sim:nope`, a missing `local:` file)
included, and a template that uses `{input}` when there is no input to give it.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

from providers.config import Config
from providers.echo import quote
from providers.request import MAX_TIMEOUT_S, SettingsError, check_settings
from providers.spec import Spec, SpecError, parse_spec
from providers.textfile import TextFileError, read_text_file

KINDS = ("model", "wait", "get")  # the field that makes a step an llm, wait or get step
KIND_NAMES = {"model": "llm", "wait": "wait", "get": "get"}
STEP_FIELDS = {
    "llm": ("after", "model", "prompt", "system", "temperature", "max_tokens", "timeout"),
    "wait": ("after", "wait", "output"),
    "get": ("after", "get", "timeout", "max_bytes"),
}
ALL_STEP_FIELDS = tuple(dict.fromkeys(f for fields in STEP_FIELDS.values() for f in fields))
TOP_FIELDS = ("name", "description", "input", "defaults", "steps")
DEFAULT_FIELDS = ("system", "temperature", "max_tokens", "timeout")
DEFAULT_GET_TIMEOUT = 30.0
DEFAULT_GET_MAX_BYTES = 1_000_000
MAX_WAIT_S = MAX_TIMEOUT_S  # a day; a larger sleep overflows the OS's timeout

Fail = Callable[[str | None, str], NoReturn]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class PipelineError(ValueError):
    """A pipeline file that cannot run; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text and references, checked once at load time."""

    source: str
    parts: tuple[str | tuple[str, str], ...]  # text, or ("input", "") / ("steps", NAME)

    @property
    def needs_input(self) -> bool:
        """True when the template is `{input}` and blanks: empty whenever the input is."""
        literal = "".join(p for p in self.parts if isinstance(p, str))
        refs = [p for p in self.parts if isinstance(p, tuple)]
        return not literal.strip() and bool(refs) and all(r[0] == "input" for r in refs)

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(p[1] for p in self.parts if isinstance(p, tuple) and p[0] == "steps")

    def render(self, input_text: str, outputs: dict[str, str]) -> str:
        """Upstream outputs go in verbatim: no escaping, no trimming."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif part[0] == "input":
                out.append(input_text)
            else:
                out.append(outputs[part[1]])
        return "".join(out)


def parse_template(text: str) -> Template:
    """`{input}`, `{steps.NAME}`, `{{`, `}}`; anything else in braces is an error."""
    parts: list[str | tuple[str, str]] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        parts.append(text[pos : match.start()])
        pos = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append(token[0])
            continue
        inner = match.group(1)
        if inner is None:
            raise ValueError(f"lone {token!r} (write {token * 2!r} for a literal brace)")
        inner = inner.strip()
        if inner == "input":
            parts.append(("input", ""))
        elif inner.startswith("steps.") and _NAME.match(inner[6:]):
            parts.append(("steps", inner[6:]))
        else:
            raise ValueError(
                f"unknown placeholder {{{inner}}}; use {{input}} or {{steps.NAME}} "
                "(and {{ }} for literal braces)"
            )
    parts.append(text[pos:])
    return Template(text, tuple(p for p in parts if p != ""))


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    kind: str  # "llm" | "wait" | "get"
    after: tuple[str, ...] = ()
    index: int = 0  # position in the file: sync runs and ties follow it
    # llm
    model: str | None = None
    prompt: Template | None = None
    system: Template | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float | None = None
    # wait
    seconds: float = 0.0
    output: Template | None = None
    # get
    url: str | None = None
    max_bytes: int = DEFAULT_GET_MAX_BYTES

    @property
    def templates(self) -> tuple[tuple[str, Template], ...]:
        named = (("prompt", self.prompt), ("system", self.system), ("output", self.output))
        return tuple((n, t) for n, t in named if t is not None)

    @property
    def label(self) -> str:
        """What the step does, in a few characters: the model, the wait, the URL."""
        if self.kind == "llm":
            return str(self.model)
        if self.kind == "wait":
            return f"wait {self.seconds:g}s"
        return f"GET {self.url}"


@dataclass(frozen=True, slots=True)
class Pipeline:
    name: str
    steps: tuple[Step, ...]
    source: str = "<pipeline>"
    input: str = ""
    description: str = ""
    by_name: dict[str, Step] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.by_name.update({s.name: s for s in self.steps})

    def step(self, name: str) -> Step:
        return self.by_name[name]

    def check_input(self, input_text: str) -> None:
        """Refuse to start a step whose prompt would be empty: `{input}` alone, and no input."""
        if input_text.strip():
            return
        for step in self.steps:
            if step.prompt is not None and step.prompt.needs_input:
                raise PipelineError(
                    f"{self.source}: step {quote(step.name)} would send an empty prompt: "
                    "give --input TEXT, set input = ... in the file, or give the step a prompt"
                )


def load_pipeline(path: str | Path, config: Config | None = None) -> Pipeline:
    """Read and check a pipeline file; any problem is one PipelineError line."""
    path = Path(path)
    try:
        text = read_text_file(path)
    except FileNotFoundError:
        raise PipelineError(f"{path}: cannot read the file (No such file or directory)") from None
    except TextFileError as exc:
        raise PipelineError(f"{path}: cannot read the file ({exc})") from None
    return parse_pipeline(text, str(path), config, default_name=path.stem)


def parse_pipeline(
    text: str,
    source: str = "<pipeline>",
    config: Config | None = None,
    *,
    default_name: str = "pipeline",
) -> Pipeline:
    """Parse TOML text into a checked Pipeline: fields, kinds, specs, graph, templates."""
    from providers.pipeline.graph import GraphError, check_graph

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PipelineError(f"{source}: not valid TOML ({exc})") from None
    except RecursionError:
        raise PipelineError(f"{source}: not valid TOML (nested too deeply)") from None
    fail = _failer(source)
    for key in data:
        if key not in TOP_FIELDS:
            fail(None, f"unknown top-level field {quote(key)}; known: {', '.join(TOP_FIELDS)}")
    name = _opt_str(data, "name", fail, None) or default_name
    description = _opt_str(data, "description", fail, None) or ""
    default_input = _opt_str(data, "input", fail, None) or ""
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        fail(None, "[defaults] must be a table")
    for key in defaults:
        if key not in DEFAULT_FIELDS:
            known = ", ".join(DEFAULT_FIELDS)
            fail(None, f"unknown field {quote(key)} in [defaults]; known: {known}")
    raw_steps = data.get("steps")
    if raw_steps is None or raw_steps == {}:
        fail(None, "no steps; add at least one [steps.NAME] table")
    if not isinstance(raw_steps, dict):
        fail(None, "steps must be tables, e.g. [steps.draft]")
    steps = tuple(
        _parse_step(step_name, body, index, defaults, config, fail)
        for index, (step_name, body) in enumerate(raw_steps.items())
    )
    pipeline = Pipeline(name, steps, source, default_input, description)
    try:
        check_graph(pipeline)
    except GraphError as exc:
        fail(exc.step, str(exc))
    return pipeline


def _failer(source: str) -> Fail:
    def fail(step: str | None, reason: str) -> NoReturn:
        where = f"{source}: step {quote(step)}: " if step else f"{source}: "
        raise PipelineError(where + reason)

    return fail


def _parse_step(
    name: str, body: object, index: int, defaults: dict[str, Any], config: Config | None, fail: Fail
) -> Step:
    if not _NAME.match(name):
        fail(name, "bad step name; use letters, digits, '_' and '-', starting with a letter")
    if not isinstance(body, dict):
        fail(name, "must be a table, e.g. [steps.NAME] with model/wait/get")
    kinds = [k for k in KINDS if k in body]
    if not kinds:
        fail(name, "says neither model, wait nor get; give exactly one of them")
    if len(kinds) > 1:
        fail(name, f"has both {kinds[0]!r} and {kinds[1]!r}; give exactly one kind per step")
    kind = KIND_NAMES[kinds[0]]
    for key in body:
        if key not in ALL_STEP_FIELDS:
            fail(name, f"unknown field {quote(key)}; known: {', '.join(ALL_STEP_FIELDS)}")
        if key not in STEP_FIELDS[kind]:
            fail(name, f"field {quote(key)} does not apply to a {kind} step")
    after = body.get("after", [])
    if isinstance(after, str):
        after = [after]
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        fail(name, 'after must be a list of step names, e.g. after = ["retrieve"]')
    if len(set(after)) != len(after):
        fail(name, "after names a step twice")

    def template(key: str, value: object) -> Template | None:
        if value is None:
            return None
        if not isinstance(value, str):
            fail(name, f"{key} must be a string, not {_type(value)}")
        try:
            return parse_template(value)
        except ValueError as exc:
            fail(name, f"{key}: {exc}")

    new_step = partial(Step, name=name, kind=kind, after=tuple(after), index=index)
    if kind == "wait":
        seconds = _number(body, "wait", name, fail)
        if seconds is None or not 0 <= seconds <= MAX_WAIT_S:
            fail(name, f"wait must be a number of seconds, at least 0 and at most {MAX_WAIT_S:g}")
        return new_step(seconds=seconds, output=template("output", body.get("output", "")))
    if kind == "get":
        url = body["get"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            fail(name, f"get must be an http:// or https:// URL, not {quote(url)}")
        timeout = _number(body, "timeout", name, fail)
        if timeout is not None and not 0 < timeout <= MAX_TIMEOUT_S:
            fail(name, f"timeout must be a positive number of seconds up to {MAX_TIMEOUT_S:g}")
        max_bytes = body.get("max_bytes", DEFAULT_GET_MAX_BYTES)
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            fail(name, f"max_bytes must be a whole number, at least 1, not {quote(max_bytes)}")
        return new_step(url=url, timeout=timeout or DEFAULT_GET_TIMEOUT, max_bytes=max_bytes)
    model = body["model"]
    if not isinstance(model, str):
        fail(name, f'model must be a spec string like "sim:fast", not {_type(model)}')
    try:
        spec = parse_spec(model, config)
    except SpecError as exc:
        fail(name, str(exc))
    problem = _spec_problem(spec, config)
    if problem:
        fail(name, f"model {quote(model)}: {problem}")
    merged = {**defaults, **{k: v for k, v in body.items() if k in DEFAULT_FIELDS}}
    temperature = _number(merged, "temperature", name, fail)
    max_tokens = merged.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)):
        fail(name, f"max_tokens must be a whole number, not {quote(max_tokens)}")
    timeout = _number(merged, "timeout", name, fail)
    try:
        check_settings(temperature, max_tokens, timeout)
    except SettingsError as exc:
        fail(name, str(exc))
    return new_step(
        model=model.strip(),
        prompt=template("prompt", body.get("prompt", "{input}")),
        system=template("system", merged.get("system")),
        temperature=temperature,
        max_tokens=max_tokens,
        timeout=timeout,
    )


def _spec_problem(spec: Spec, config: Config | None) -> str | None:
    """The adapter's own cheap check of the model name, as `run -m` does before it starts."""
    from providers.registry import make_adapter

    return make_adapter(spec, config).spec_problem()


def _number(body: dict[str, Any], key: str, step: str, fail: Fail) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        fail(step, f"{key} must be a number, not {quote(value)}")
    return float(value)


def _opt_str(data: dict[str, Any], key: str, fail: Fail, step: str | None) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        fail(step, f"{key} must be a string, not {_type(value)}")
    return value


_TYPE_NAMES: dict[type, str] = {dict: "a table", list: "a list"}


def _type(value: object) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)
