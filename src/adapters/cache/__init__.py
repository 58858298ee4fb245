"""`SecretCache` adapters: an in-process LRU (single instance, tests) and Redis (shared, encrypted)."""

from adapters.cache.memory import InProcessSecretCache
from adapters.cache.redis_cache import RedisSecretCache

__all__ = ["InProcessSecretCache", "RedisSecretCache"]
