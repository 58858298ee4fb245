"""What a strict Content-Security-Policy for the web UI means, checked the same way everywhere."""

from __future__ import annotations

import re


def assert_strict_csp(policy: str) -> None:
    """Same-origin only: `default-src 'self'`, nothing inline or eval'd, no other origin."""
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["default-src"] == "'self'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert not re.search(r"https?:|\*|data:|blob:", policy), policy
    assert directives.get("frame-ancestors") == "'none'"
