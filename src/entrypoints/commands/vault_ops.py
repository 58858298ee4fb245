"""`mirage-secrets vault init|unseal|status`: the operator's side of a production Vault."""

from __future__ import annotations

import argparse
import os

from entrypoints.commands.shares import read_shares
from entrypoints.settings import SettingsError, load_operator_settings, load_vault_addresses


def cmd_init(args: argparse.Namespace) -> int:
    from adapters.vault.operations import VaultOperations

    if not 1 <= args.key_threshold <= args.key_shares:
        raise SettingsError("--key-threshold must be between 1 and --key-shares")
    addr = load_vault_addresses(os.environ)[0]
    with VaultOperations(addr) as ops:
        if ops.seal_status().initialized:
            print(f"{addr} is already initialised: nothing done")
            return 1
        result = ops.init(shares=args.key_shares, threshold=args.key_threshold)
    # Printed once and kept nowhere: the service never stores shares or the root token.
    kind = "Recovery share" if result.recovery else "Unseal share"
    for number, share in enumerate(result.shares, 1):
        print(f"{kind} {number}: {share}")
    print(f"Root token: {result.root_token}")
    if result.recovery:
        print(
            f"\nVault at {addr} is initialised and unseals itself (auto-unseal). The {args.key_shares} recovery\n"
            f"shares ({args.key_threshold} needed) authorise operator tasks such as a root token or a rekey;\n"
            "give each to a different keeper now. See docs/ops/unseal.md."
        )
        return 0
    print(
        f"\nVault at {addr} is initialised with {args.key_shares} shares, {args.key_threshold} needed to unseal.\n"
        "Give each share to a different keeper now; they are not shown again. Unseal with\n"
        "`mirage-secrets vault unseal`, run `mirage-secrets vault bootstrap` with the root token,\n"
        "then revoke the root token (`bao token revoke <token>`). See docs/ops/unseal.md."
    )
    return 0


def cmd_unseal(args: argparse.Namespace) -> int:
    from adapters.vault.operations import VaultOperations

    addresses = load_vault_addresses(os.environ)
    targets = [args.address] if args.address else list(addresses)
    with VaultOperations(targets[0]) as first:
        needed = first.seal_status().threshold or None
    shares = read_shares(args.shares_file, needed=needed)
    failed = 0
    for addr in targets:
        with VaultOperations(addr) as ops:
            try:
                status = ops.unseal_with(shares, wait_seconds=args.wait)
                print(f"{addr}: unsealed ({status.version})")
            except Exception as exc:  # one node's failure must not hide the others' result
                failed += 1
                print(f"{addr}: still sealed: {exc}")
    return 1 if failed else 0


def cmd_status(args: argparse.Namespace) -> int:
    from adapters.vault.operations import VaultOperations

    token = load_operator_settings(os.environ).token
    sealed_or_down = 0
    active = 0
    for addr in load_vault_addresses(os.environ):
        with VaultOperations(addr, token=token) as ops:
            node = ops.status()
        if not node.reachable or node.seal is None:
            print(f"{addr}: unreachable")
            sealed_or_down += 1
            continue
        seal = node.seal
        state = "not initialised" if not seal.initialized else "sealed" if seal.sealed else "unsealed"
        role = "active" if node.active else "standby" if state == "unsealed" else "-"
        print(
            f"{addr}: {state}, {role}, version {seal.version}, shares {seal.shares} threshold {seal.threshold}"
            + (f", unseal progress {seal.progress}/{seal.threshold}" if seal.sealed and seal.initialized else "")
            + (f", leader {node.leader_addr}" if node.leader_addr else "")
        )
        active += node.active
        sealed_or_down += state != "unsealed"
        for peer in node.peers:
            print(
                f"    peer {peer.get('node_id')} {peer.get('address')} "
                f"{'leader' if peer.get('leader') else 'follower'} {'voter' if peer.get('voter') else 'non-voter'}"
            )
    if active == 0:
        print("no active node")
    return 1 if sealed_or_down or active == 0 else 0


def register(subcommands: argparse._SubParsersAction) -> None:
    """Adds init, unseal and status to the `vault` command group."""
    init = subcommands.add_parser("init", help="initialise a production Vault; prints the shares and root token once")
    init.add_argument("--key-shares", type=int, default=5)
    init.add_argument("--key-threshold", type=int, default=3)
    init.set_defaults(handler=cmd_init)

    unseal = subcommands.add_parser(
        "unseal", help="unseal every VAULT_ADDR node: shares from --shares-file, stdin (one a line) or a prompt"
    )
    unseal.add_argument("--shares-file", help="a file of shares, one a line (keep it off shared disks)")
    unseal.add_argument("--address", help="only this node")
    unseal.add_argument("--wait", type=float, default=30.0, help="seconds to keep trying a node that is joining")
    unseal.set_defaults(handler=cmd_unseal)

    status = subcommands.add_parser("status", help="sealed/unsealed, active/standby, leader and Raft peers per node")
    status.set_defaults(handler=cmd_status)
