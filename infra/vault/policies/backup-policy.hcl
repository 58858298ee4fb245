# Backups (`mirage-secrets backup create|verify`): Raft snapshots, and the metadata the manifest
# counts (secrets, versions, per user). No value can be read with this policy.
path "sys/storage/raft/snapshot" {
  capabilities = ["read"]
}
path "${mount}/metadata/*" {
  capabilities = ["read", "list"]
}
