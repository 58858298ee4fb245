# OpenBao server configuration for production: one voter of a 3- (or 5-) node Raft cluster.
# Every node runs this file with its own node_id, api_addr and cluster_addr (vault-0, vault-1,
# vault-2); see docs/ops/losing-a-node.md. A single node (Railway, MVP) is the same file with the
# retry_join blocks pointing at nothing else (it simply never joins anyone).
#
# - Storage: integrated Raft at /vault/data (a volume). Back it up with `mirage-secrets backup create`.
#   performance_multiplier = 1: the tightest Raft timings (the default, 5, is for slow networks):
#   a new leader 3.7-4.6 s after a leader dies, measured with 3 voters on one host.
#   Autopilot is set through the API once the cluster is up (docs/ops/losing-a-node.md):
#     bao operator raft autopilot set-config -cleanup-dead-servers=true -dead-server-last-contact-threshold=10m \
#       -min-quorum=3 -server-stabilization-time=10s
# - Listener: plain TCP on 8200 behind a TLS-terminating reverse proxy on the same private network
#   (Railway's HTTPS edge, or nginx/HAProxy). Only the proxy's addresses are trusted for X-Forwarded-For.
# - Audit: the file device below writes every request and response as JSON to /vault/logs/audit.log,
#   secret values HMAC'd (never in clear). If no audit device can be written OpenBao refuses the
#   request (fail closed): keep /vault/logs on a volume with room and rotate it
#   (infra/openbao/logrotate-audit.conf: daily, 30 kept, SIGHUP reopens the file).
# - Telemetry: Prometheus format at /v1/sys/metrics?format=prometheus (unauthenticated below;
#   restrict it at the proxy to the Prometheus server). Alerts: infra/prometheus/alerts.yml.
# - Seal: Shamir shares (`mirage-secrets vault init`), unsealed by hand after every restart; for
#   transit auto-unseal add the seal block of infra/openbao/transit-unseal.hcl.

# OpenBao does not mlock memory (there is no disable_mlock): disable swap on the host instead.
ui         = false
log_level  = "info"
log_format = "json"

api_addr     = "https://vault-0.internal.example:8200" # this node, as clients and peers reach it
cluster_addr = "https://vault-0.internal.example:8201" # this node, for Raft and request forwarding

storage "raft" {
  path                   = "/vault/data"
  node_id                = "vault-0"
  performance_multiplier = 1

  # Every node lists every peer: whichever is up leads the join. With 5 voters, add vault-3, vault-4.
  retry_join {
    leader_api_addr = "http://vault-0.internal.example:8200"
  }
  retry_join {
    leader_api_addr = "http://vault-1.internal.example:8200"
  }
  retry_join {
    leader_api_addr = "http://vault-2.internal.example:8200"
  }
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
