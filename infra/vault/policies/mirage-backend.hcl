# The service's own AppRole identity when users act with their own Vault tokens
# (VAULT_USER_AUTH=jwt): only what its background jobs need.
# The shared cache data key (load_or_create_cache_key).
path "${mount}/data/service/*" {
  capabilities = ["create", "read", "update"]
}
path "${mount}/metadata/service/*" {
  capabilities = ["read"]
}
# `mirage-secrets migrate-tokens`: moving legacy Railway tokens into each user's path.
path "${mount}/data/users/+/railway" {
  capabilities = ["create", "update"]
}
path "${mount}/metadata/users/+/railway" {
  capabilities = ["read", "update"]
}
