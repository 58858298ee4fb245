# Admins see every user's metadata and can revoke (soft-delete) a secret, but never read or
# write a value: no "read", "create" or "update" on data paths. The admin role also carries
# user-secrets-policy, for the admin's own subtree only (see adapters/vault/bootstrap.py).
path "${mount}/metadata/users" {
  capabilities = ["list"]
}
path "${mount}/metadata/users/*" {
  capabilities = ["read", "list"]
}
path "${mount}/data/users/*" {
  capabilities = ["delete"]
}
path "${mount}/delete/users/*" {
  capabilities = ["update"]
}
