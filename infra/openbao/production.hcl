# OpenBao server configuration for production (one node of a Raft cluster; see docs/operations.md).
#
# - Storage: integrated Raft at /vault/data (back it up with `bao operator raft snapshot save`).
# - Listener: plain TCP on 8200 behind a TLS-terminating reverse proxy on the same host/network.
#   The proxy must set X-Forwarded-For; only its address is trusted for that header.
# - Audit: the file device below writes every request and response as JSON to
#   /vault/logs/audit.log, secret values HMAC'd (never in clear). OpenBao declares audit devices
#   in the configuration, not through the API. If no audit device can be written, OpenBao refuses
#   the request (fail closed), so keep /vault/logs on a volume with room and rotate it
#   (infra/openbao/logrotate-audit.conf: daily, 30 kept, SIGHUP reopens the file).
# - Telemetry: Prometheus format at /v1/sys/metrics?format=prometheus (unauthenticated below;
#   restrict it at the proxy to the Prometheus server).
# - Seal: Shamir keys, unsealed by hand after every restart (MVP; see docs/operations.md).

# OpenBao does not mlock memory (there is no disable_mlock): disable swap on the host instead.
ui         = false
log_level  = "info"
log_format = "json"

api_addr     = "https://vault.internal.example:8200" # the address clients (and the proxy) use
cluster_addr = "https://vault-0.internal.example:8201" # this node, for Raft and request forwarding

storage "raft" {
  path    = "/vault/data"
  node_id = "vault-0"

  # Further nodes join with `retry_join { leader_api_addr = "https://vault-0.internal.example:8200" }`.
}

listener "tcp" {
  address         = "0.0.0.0:8200"
  cluster_address = "0.0.0.0:8201"

  # TLS terminates at the reverse proxy in front of this listener; the proxy <-> OpenBao hop
  # stays on a private network. Never expose 8200 directly.
  tls_disable = true

  # Take the client address from the proxy's X-Forwarded-For (so the audit log names the real
  # caller), only when the connection comes from the proxy itself.
  x_forwarded_for_authorized_addrs      = "10.0.0.0/8"
  x_forwarded_for_reject_not_present    = false
  x_forwarded_for_reject_not_authorized = true

  telemetry {
    unauthenticated_metrics_access = true
  }
}

audit "file" "file" {
  options {
    file_path = "/vault/logs/audit.log"
    format    = "json"
    mode      = "0600"
  }
}

telemetry {
  prometheus_retention_time = "24h" # keeps /v1/sys/metrics?format=prometheus populated
  disable_hostname          = true  # stable metric names across nodes
}
