# Each user, logged in through Vault's JWT auth method with their own identity token, reaches
# only their own subtree: the path segment is the name of their JWT identity alias (the `sub`).
# ${mount} and ${jwt_accessor} are filled in by `mirage-secrets vault bootstrap`.
path "${mount}/data/users/{{identity.entity.aliases.${jwt_accessor}.name}}/*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "${mount}/metadata/users/{{identity.entity.aliases.${jwt_accessor}.name}}/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "${mount}/delete/users/{{identity.entity.aliases.${jwt_accessor}.name}}/*" {
  capabilities = ["update"]
}
path "${mount}/undelete/users/{{identity.entity.aliases.${jwt_accessor}.name}}/*" {
  capabilities = ["update"]
}
path "${mount}/destroy/users/{{identity.entity.aliases.${jwt_accessor}.name}}/*" {
  capabilities = ["update"]
}
