"""The docs' example runner itself: what it extracts, how it compares, what it refuses."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.doc_examples import ExampleError, check_page, extract, matches, page_script, parse_expected

pytestmark = pytest.mark.unit

PAGE = """\
# A page

<!-- runnable -->
```bash
echo '{"success":true,"version":1,"key":"k"}'
# {"success":true,"version":1,…}
echo '{"a":{"b":[{"c":1,"d":2}]}}'
```

```json
{"a":{"b":[{"c":1}]}}
```

```bash
echo not runnable
```
"""


def _run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "--noprofile", "--norc"], input=script, capture_output=True, text=True)


def test_only_marked_blocks_are_extracted_with_their_expected_outputs(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    [example] = extract(page)
    assert example.line == 4
    assert [step.expected for step in example.steps] == [
        {"success": True, "version": 1},
        {"a": {"b": [{"c": 1}]}},
    ]
    assert example.steps[1].line == 7


def test_a_page_that_matches_passes_and_one_that_does_not_names_the_line(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    script, order = page_script(extract(page))
    run = _run(script)
    assert check_page(order, run.returncode, run.stdout, run.stderr) == []

    page.write_text(PAGE.replace('"version":1,…', '"version":2,…'))
    script, order = page_script(extract(page))
    run = _run(script)
    [failure] = check_page(order, run.returncode, run.stdout, run.stderr)
    assert "page.md:5" in str(failure) and "expected 2, got 1" in str(failure)


def test_a_failing_command_stops_the_page_at_that_step(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(PAGE.replace('echo \'{"a"', 'false\necho \'{"a"'))
    script, order = page_script(extract(page))
    run = _run(script)
    [failure] = check_page(order, run.returncode, run.stdout, run.stderr)
    assert "exited with status 1" in str(failure) and "page.md:7" in str(failure)


def test_a_marker_before_prose_is_refused(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("<!-- runnable -->\nSome text.\n\n```bash\necho hi\n```\n")
    with pytest.raises(ExampleError, match="not followed by a code block"):
        extract(page)


def test_elisions_and_wildcards():
    assert parse_expected('{"a":1,…,"b":[…],"c":"…"}') == {"a": 1, "b": [], "c": "…"}
    assert parse_expected('{"n":…,"m":2}') == {"n": "…", "m": 2}
    assert matches({"detail": "Railway answered: …"}, {"detail": "Railway answered: Not Authorized"}) == []
    assert matches({"c": "…"}, {"c": {"any": "thing"}}) == []
    assert matches({"n": 1}, {"n": True}) != []  # a boolean is not a number
    assert matches({"items": [{"k": 1}]}, {"items": []}) == ["$.items: expected at least 1 items, got 0"]
    assert matches({"k": None}, {"k": "x"}) != []
