# The service's own AppRole identity when users act with their own Vault tokens
# (VAULT_USER_AUTH=jwt): only what its background jobs need.
# The shared cache data key (load_or_create_cache_key).
path "${mount}/data/service/*" {
  capabilities = ["create", "read", "update"]
}
path "${mount}/metadata/service/*" {
  capabilities = ["read"]
}
# `mirage-secrets migrate-tokens`: moving legacy Railway tokens into each user's path (create,
# update; the railway stanzas below, shared with the cleanup pass).
# The secret lifecycle's cleanup pass (SecretCleanupService): reads each expired secret's metadata,
# soft-deletes its newest version, and after the recovery window destroys it (metadata delete).
# No value is read: no "read" on data paths.
path "${mount}/data/users/+/custom/*" {
  capabilities = ["delete"]
}
path "${mount}/metadata/users/+/custom/*" {
  capabilities = ["read", "delete"]
}
path "${mount}/data/users/+/railway" {
  capabilities = ["create", "update", "delete"]
}
path "${mount}/metadata/users/+/railway" {
  capabilities = ["read", "update", "delete"]
}
path "${mount}/data/users/+/github" {
  capabilities = ["delete"]
}
path "${mount}/metadata/users/+/github" {
  capabilities = ["read", "delete"]
}
path "${mount}/data/users/+/docker/*" {
  capabilities = ["delete"]
}
path "${mount}/metadata/users/+/docker/*" {
  capabilities = ["read", "delete"]
}
