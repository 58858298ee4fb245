# A file audit device: every request and response, JSON, with secret values HMAC'd by OpenBao.
# Rotate the file daily and keep 30 days (infra/openbao/logrotate-audit.conf); OpenBao reopens
# the file on SIGHUP.
audit "file" "file" {
  options {
    file_path = "/vault/logs/audit.log"
    format    = "json"
  }
}
