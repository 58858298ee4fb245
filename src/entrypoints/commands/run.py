"""`mirage-secrets run` and `mirage-secrets env export`: thin clients of the REST API.

They read an environment's variables over HTTP with the user's own bearer token, exactly as any
client does, so every read is on the audit trail and nothing here goes near Vault:

- `run --env ENV_ID -- COMMAND...` starts COMMAND with the variables in its environment, forwards
  SIGTERM, SIGINT and SIGHUP to it, and exits with its status. It never prints a value, and the
  child does not inherit MIRAGE_TOKEN.
- `env export --env ENV_ID --format dotenv|json` prints the variables, masked unless `--reveal`
  (a masked export reads names only; `--reveal` is one audited `export`).

Token: MIRAGE_TOKEN, or `--token-file`. Service: MIRAGE_URL (default http://127.0.0.1:8000).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import httpx

from entrypoints.settings import DEFAULT_CLIENT_URL, environment_for_child, load_client_settings

MASK = "********"
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class ClientError(RuntimeError):
    """The API could not be asked or said no; the message is for the person at the terminal."""


def _token(args: argparse.Namespace) -> str:
    if args.token_file:
        try:
            token = Path(args.token_file).read_text().strip()
        except OSError as exc:
            raise ClientError(f"can't read the token file: {exc.strerror}") from None
    else:
        token = load_client_settings(os.environ).token or ""
    if not token:
        raise ClientError("no token: set MIRAGE_TOKEN or pass --token-file")
    return token


def _get(args: argparse.Namespace, path: str, params: Mapping[str, str] | None = None) -> dict:
    base = (args.url or load_client_settings(os.environ).url).rstrip("/")
    headers = {"Authorization": f"Bearer {_token(args)}", "Accept": "application/json"}
    try:
        response = httpx.get(f"{base}{path}", params=params, headers=headers, timeout=_TIMEOUT)
    except httpx.HTTPError as exc:
        raise ClientError(f"can't reach {base} ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise ClientError(_problem(response))
    return response.json()


def _problem(response: httpx.Response) -> str:
    # Problem bodies never carry values (the service guarantees it); show title and detail.
    try:
        body = response.json()
    except ValueError:
        return f"the service answered {response.status_code}"
    if isinstance(body, dict) and "title" in body:
        return f"{response.status_code} {body['title']}: {body.get('detail', '')}".rstrip(": ")
    return f"the service answered {response.status_code}"


def _environment_path(env_id: str) -> str:
    return f"/api/v1/environments/{quote(env_id, safe='')}"


def _values(args: argparse.Namespace, purpose: str) -> dict[str, str]:
    body = _get(args, f"{_environment_path(args.env)}/values", {"purpose": purpose})
    expired = body.get("expired") or []
    if expired:  # names only
        print(f"mirage-secrets: left out, expired: {', '.join(expired)}", file=sys.stderr)
    return {str(k): str(v) for k, v in body["secrets"].items()}


# -- run ----------------------------------------------------------------------------------------


def exit_status(returncode: int) -> int:
    """A shell's convention: a child killed by signal N makes us exit 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def cmd_run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise ClientError("no command given: mirage-secrets run --env ENV_ID -- COMMAND [ARGS...]")
    variables = _values(args, "run")
    child_env = environment_for_child(os.environ)
    child_env.update(variables)
    try:
        child = subprocess.Popen(command, env=child_env)
    except FileNotFoundError:
        print(f"mirage-secrets run: command not found: {command[0]}", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"mirage-secrets run: not executable: {command[0]}", file=sys.stderr)
        return 126

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS}
    try:
        return exit_status(child.wait())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# -- env export ---------------------------------------------------------------------------------


def dotenv_line(name: str, value: str) -> str:
    """`NAME="value"` with the escapes the service's own .env parser reads back."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'{name}="{escaped}"'


def render(variables: Mapping[str, str], fmt: str) -> str:
    ordered = dict(sorted(variables.items()))
    if fmt == "json":
        return json.dumps(ordered, indent=2)
    return "\n".join(dotenv_line(k, v) for k, v in ordered.items())


def cmd_env_export(args: argparse.Namespace) -> int:
    if args.reveal:
        variables = _values(args, "export")
    else:
        names = _get(args, f"{_environment_path(args.env)}/secrets/")["secrets"]
        variables = dict.fromkeys(names, MASK)
    print(render(variables, args.format))
    return 0


def _client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="the environment's id")
    parser.add_argument("--token-file", help="a file holding the bearer token (default: MIRAGE_TOKEN)")
    parser.add_argument("--url", help=f"the service (default: MIRAGE_URL, else {DEFAULT_CLIENT_URL})")


def _guarded(handler):
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ClientError as exc:
            print(f"mirage-secrets: {exc}", file=sys.stderr)
            return 1

    return run


def register(subcommands: argparse._SubParsersAction) -> None:
    run = subcommands.add_parser(
        "run",
        help="run a command with an environment's variables (read through the API, never printed)",
        usage="mirage-secrets run --env ENV_ID [--token-file FILE] [--url URL] -- COMMAND [ARGS...]",
    )
    _client_options(run)
    run.add_argument("command", nargs=argparse.REMAINDER, help="the command and its arguments, after --")
    run.set_defaults(handler=_guarded(cmd_run))

    env = subcommands.add_parser("env", help="an environment's variables, through the API")
    env_commands = env.add_subparsers(dest="env_command", required=True)
    export = env_commands.add_parser("export", help="print the variables, masked unless --reveal")
    _client_options(export)
    export.add_argument("--format", choices=("dotenv", "json"), default="dotenv")
    export.add_argument("--reveal", action="store_true", help="print the values (one audited export)")
    export.set_defaults(handler=_guarded(cmd_env_export))
