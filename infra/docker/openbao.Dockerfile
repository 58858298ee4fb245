# OpenBao for production (Railway or any container host): Raft at /vault/data (a volume), the file
# audit device at /vault/logs, telemetry, TLS at the platform's proxy. See infra/openbao/production.hcl.
FROM openbao/openbao:2.7.2

COPY infra/openbao/production.hcl /vault/config/production.hcl
RUN mkdir -p /vault/data /vault/logs && chown -R openbao:openbao /vault

USER openbao
VOLUME ["/vault/data", "/vault/logs"]
EXPOSE 8200 8201
# Starts sealed: unseal with `mirage-secrets vault unseal` (docs/ops/unseal.md), or add transit
# auto-unseal (infra/openbao/transit-unseal.hcl).
ENTRYPOINT ["bao"]
CMD ["server", "-config=/vault/config/production.hcl"]
