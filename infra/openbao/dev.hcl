# OpenBao configuration for local development: close to production (Raft storage, the same file
# audit device, Prometheus telemetry) but on this machine, without TLS, under ./.data/openbao.
#
#   mkdir -p .data/openbao/data .data/openbao/logs
#   bao server -config=infra/openbao/dev.hcl
#   bao operator init -key-shares=1 -key-threshold=1   # once; keep the key and root token locally
#   bao operator unseal <key>
#
# (Paths are relative to the directory bao is started from.) `mirage-secrets dev` starts its own
# embedded server instead; use this file when you want the audit log of a real server.

ui        = true
log_level = "debug"

api_addr     = "http://127.0.0.1:8200"
cluster_addr = "http://127.0.0.1:8201"

storage "raft" {
  path    = "./.data/openbao/data"
  node_id = "dev-0"
}

listener "tcp" {
  address         = "127.0.0.1:8200"
  cluster_address = "127.0.0.1:8201"
  tls_disable     = true

  telemetry {
    unauthenticated_metrics_access = true
  }
}

# The same device as production (infra/openbao/production.hcl), writing to a local file.
audit "file" "file" {
  options {
    file_path = "./.data/openbao/logs/audit.log"
    format    = "json"
    mode      = "0600"
  }
}

telemetry {
  prometheus_retention_time = "1h"
  disable_hostname          = true
}
