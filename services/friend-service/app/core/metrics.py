"""friend-service's own Prometheus metrics (see docs/friend-service.md)."""

from prometheus_client import Counter

FRIEND_REQUESTS = Counter(
    "friend_requests_total", "Friend request transitions", ["action"]
)  # sent|accepted|rejected|cancelled|auto_accepted
FRIENDSHIPS_REMOVED = Counter("friend_friendships_removed_total", "Friendships ended (unfriend or block)")
BLOCKS = Counter("friend_blocks_total", "Blocks placed and lifted", ["action"])  # blocked|unblocked
USER_LOOKUP_FALLBACK = Counter(
    "friend_user_lookup_fallback_total", "Lookups of users unknown to the replica, asked of user-service", ["result"]
)  # hit|miss|error|circuit_open
