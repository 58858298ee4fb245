"""Runnable examples in the README and docs/: how they are found, run and checked.

A fenced shell block preceded by the line `<!-- runnable -->` is an example. The blocks of one
page run in order, in one bash session (`set -euo pipefail`), as a reader would run them in one
terminal. An example shows what a command prints in one of two ways, and the runner checks it:

- a comment line holding JSON (`# {"success":true,"version":1}`) right after the commands it
  answers, or
- a ```json block directly after the shell block (only blank lines between), which answers the
  block's last commands.

The check is on shape and on the values shown: every key shown must be there, every scalar
shown must be equal, and `…` stands for "anything": `"…"` for any value, `…` alone for "more
keys or items", and `…` inside a string for any text there (`"Railway answered: …"`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]  # the checkout whose README and docs/ are run

RUNNABLE_MARKER = "<!-- runnable -->"
SHELL_LANGUAGES = frozenset({"bash", "sh", "shell", "console"})
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_JSON_COMMENT = re.compile(r"^\s*#\s?(?P<json>[\[{].*)$")
ANY = "…"


class ExampleError(ValueError):
    """A runnable marker that does not lead to a shell block, or an expectation that isn't JSON."""


@dataclass(frozen=True)
class Step:
    """Commands and, when the doc shows it, the JSON they print."""

    commands: str
    line: int  # 1-based line of the first command in the source file
    expected: Any = None
    has_expectation: bool = False


@dataclass(frozen=True)
class Example:
    source: Path
    line: int  # 1-based line of the opening fence
    steps: tuple[Step, ...]

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass
class _Block:
    language: str
    start: int  # index of the opening fence line
    end: int  # index of the closing fence line
    body: list[str] = field(default_factory=list)


def _blocks(lines: list[str]) -> list[_Block]:
    blocks: list[_Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence = opening["fence"]
        indent = len(opening["indent"])
        language = (opening["info"].split() or [""])[0].lower()
        body: list[str] = []
        cursor = index + 1
        while cursor < len(lines):
            closing = _FENCE.match(lines[cursor])
            if closing and closing["fence"].startswith(fence[0] * len(fence)) and not closing["info"].strip():
                break
            body.append(lines[cursor][indent:] if lines[cursor][:indent].isspace() else lines[cursor])
            cursor += 1
        blocks.append(_Block(language, index, cursor, body))
        index = cursor + 1
    return blocks


def parse_expected(text: str) -> Any:
    """The JSON a doc shows, with `…` elisions removed (see the module docstring)."""
    cleaned = re.sub(r":\s*…(?=\s*[,}])", ': "…"', text)  # `"key": …` is any value
    cleaned = re.sub(r'(?<!["\w])…(?!["\w])', "", cleaned)  # a bare … is an elided key or item
    previous = None
    while previous != cleaned:  # drop the commas the elisions left behind
        previous = cleaned
        cleaned = re.sub(r",\s*(?=[}\]])", "", cleaned)
        cleaned = re.sub(r"(?<=[{\[,])\s*,", "", cleaned)
    try:
        return json.loads(cleaned)
    except json.JSONDecodeError as exc:
        raise ExampleError(f"expected output is not JSON ({exc}): {text}") from None


def _steps(block: _Block, following_json: str | None, following_line: int) -> tuple[Step, ...]:
    steps: list[Step] = []
    pending: list[str] = []
    first_line = 0
    for offset, text in enumerate(block.body):
        line_number = block.start + 2 + offset
        comment = _JSON_COMMENT.match(text)
        if comment:
            if not any(line.strip() and not line.lstrip().startswith("#") for line in pending):
                raise ExampleError(f"line {line_number}: expected output with no command before it")
            steps.append(Step("\n".join(pending), first_line, parse_expected(comment["json"]), True))
            pending = []
            continue
        if not pending:
            first_line = line_number
        pending.append(text)
    if any(line.strip() for line in pending):
        if following_json is not None:
            steps.append(Step("\n".join(pending), first_line, parse_expected(following_json), True))
        else:
            steps.append(Step("\n".join(pending), first_line))
    elif following_json is not None:
        raise ExampleError(f"line {following_line}: a json block follows, but the shell block has no commands left")
    return tuple(steps)


def extract(source: Path) -> list[Example]:
    """Every runnable example of one Markdown file, in order."""
    lines = source.read_text().splitlines()
    blocks = _blocks(lines)
    examples: list[Example] = []
    for position, block in enumerate(blocks):
        previous = _previous_text_line(lines, block.start)
        marked = previous is not None and lines[previous].strip() == RUNNABLE_MARKER
        if not marked:
            continue
        if block.language not in SHELL_LANGUAGES:
            raise ExampleError(f"{source}:{block.start + 1}: a runnable block must be bash, not {block.language!r}")
        following_json = None
        following_line = 0
        if position + 1 < len(blocks):
            after = blocks[position + 1]
            between = lines[block.end + 1 : after.start]
            if after.language == "json" and not any(line.strip() for line in between):
                following_json = "\n".join(after.body)
                following_line = after.start + 1
        try:
            steps = _steps(block, following_json, following_line)
        except ExampleError as exc:
            raise ExampleError(f"{source}: {exc}") from None
        examples.append(Example(source, block.start + 1, steps))
    _check_markers_used(source, lines, blocks)
    return examples


def _previous_text_line(lines: list[str], start: int) -> int | None:
    """Index of the last non-blank line before `start` (the marker must be that line)."""
    for index in range(start - 1, -1, -1):
        if lines[index].strip():
            return index
    return None


def _check_markers_used(source: Path, lines: list[str], blocks: list[_Block]) -> None:
    """A marker followed by prose instead of a block would silently test nothing: refuse it."""
    openings = {block.start for block in blocks}
    inside = {index for block in blocks for index in range(block.start, block.end + 1)}
    for index, text in enumerate(lines):
        if text.strip() != RUNNABLE_MARKER or index in inside:
            continue
        following = next((i for i in range(index + 1, len(lines)) if lines[i].strip()), None)
        if following not in openings:
            raise ExampleError(f"{source}:{index + 1}: {RUNNABLE_MARKER} is not followed by a code block")


def matches(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """The differences between what a doc shows and what came back; empty when it matches."""
    if expected == ANY:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {_kind(actual)}"]
        problems: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}: key {key!r} missing (got {sorted(actual)})")
            else:
                problems.extend(matches(value, actual[key], f"{path}.{key}"))
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected an array, got {_kind(actual)}"]
        if len(actual) < len(expected):
            return [f"{path}: expected at least {len(expected)} items, got {len(actual)}"]
        problems = []
        for index, value in enumerate(expected):
            problems.extend(matches(value, actual[index], f"{path}[{index}]"))
        return problems
    if isinstance(expected, str) and ANY in expected:
        pattern = ".*".join(re.escape(part) for part in expected.split(ANY))
        if isinstance(actual, str) and re.fullmatch(pattern, actual, re.DOTALL):
            return []
        return [f"{path}: expected text like {expected!r}, got {actual!r}"]
    if type(expected) is not type(actual) and not (_is_number(expected) and _is_number(actual)):
        return [f"{path}: expected {_kind(expected)} {expected!r}, got {_kind(actual)} {actual!r}"]
    if expected != actual:
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return []


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def last_json(output: str) -> Any:
    """What a command printed, as JSON: the whole output, else its last non-blank line."""
    text = output.strip()
    if not text:
        raise ValueError("the command printed nothing")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    last = text.splitlines()[-1]
    try:
        return json.loads(last)
    except json.JSONDecodeError:
        raise ValueError(f"the command's output is not JSON: {text[-400:]!r}") from None


STEP_MARKER = "@@mirage-docs-step@@"


@dataclass(frozen=True)
class Failure:
    example: Example
    step: Step
    reason: str

    def __str__(self) -> str:
        commands = "\n    ".join(self.step.commands.strip().splitlines())
        return f"{self.example.source}:{self.step.line}: {self.reason}\n    {commands}"


def page_script(examples: list[Example]) -> tuple[str, list[tuple[Example, Step]]]:
    """One bash script for a page's examples, printing a marker after each step."""
    parts = ["set -euo pipefail"]
    order: list[tuple[Example, Step]] = []
    for example in examples:
        for step in example.steps:
            parts.append(step.commands)
            parts.append(f"printf '\\n%s\\n' '{STEP_MARKER}'")
            order.append((example, step))
    return "\n".join(parts) + "\n", order


def check_page(order: list[tuple[Example, Step]], returncode: int, stdout: str, stderr: str) -> list[Failure]:
    """What went wrong in a page's run: the first failing step, or every output that doesn't match."""
    outputs = stdout.split(f"\n{STEP_MARKER}\n")
    completed = len(outputs) - 1  # the text after the last marker belongs to no finished step
    failures: list[Failure] = []
    for index, (example, step) in enumerate(order[:completed]):
        if not step.has_expectation:
            continue
        try:
            actual = last_json(outputs[index])
        except ValueError as exc:
            failures.append(Failure(example, step, str(exc)))
            continue
        differences = matches(step.expected, actual)
        if differences:
            shown = json.dumps(actual)[:600]
            failures.append(
                Failure(example, step, "output differs from the doc: " + "; ".join(differences) + f"\n    got: {shown}")
            )
    if completed < len(order):
        example, step = order[completed]
        reason = f"exited with status {returncode}" if returncode else "the page's script stopped early"
        failures.append(
            Failure(example, step, f"{reason}\n    stdout: {outputs[-1][-800:]!r}\n    stderr: {stderr[-1500:]!r}")
        )
    elif returncode:
        example, step = order[-1]
        failures.append(Failure(example, step, f"the script exited with status {returncode}: {stderr[-1500:]!r}"))
    return failures
