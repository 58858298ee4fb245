# The service's identity in the simple mode (VAULT_USER_AUTH=token): one token for all users,
# isolation enforced by the service's path building alone.
path "${mount}/data/*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "${mount}/metadata/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "${mount}/delete/*" {
  capabilities = ["update"]
}
path "${mount}/undelete/*" {
  capabilities = ["update"]
}
path "${mount}/destroy/*" {
  capabilities = ["update"]
}
