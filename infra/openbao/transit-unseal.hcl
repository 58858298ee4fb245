# Transit auto-unseal (spec: "Auto-Unseal Configuration", option 2). Add this block to the
# production configuration (infra/openbao/production.hcl) of every node of the cluster that
# should unseal itself; a second, small OpenBao (the "key provider") holds the key.
#
# On the key provider, once:
#   bao secrets enable transit
#   bao write -f transit/keys/mirage-autounseal
#   bao policy write autounseal - <<'POLICY'
#   path "transit/encrypt/mirage-autounseal" { capabilities = ["update"] }
#   path "transit/decrypt/mirage-autounseal" { capabilities = ["update"] }
#   POLICY
#   bao token create -orphan -policy=autounseal -period=24h     # a periodic token, renewed by OpenBao
#
# Then on the cluster: BAO_TOKEN-free config below, the token in the environment variable
# VAULT_TRANSIT_SEAL_TOKEN (never in the file), and `bao operator init -recovery-shares=5
# -recovery-threshold=3` (or `mirage-secrets vault init`, which prints recovery shares in this mode).
# The cluster now unseals on every start as long as the key provider answers: the key provider
# must be unsealed first, and losing its transit key loses the cluster. Back it up too.
# Tested by tests/integration/test_transit_autounseal.py with two real OpenBao processes.

seal "transit" {
  address         = "https://vault-keys.internal.example:8200"
  key_name        = "mirage-autounseal"
  mount_path      = "transit/"
  disable_renewal = "false"
  # token comes from VAULT_TRANSIT_SEAL_TOKEN; tls_ca_cert = "/vault/tls/keys-ca.pem" for a private CA
}
