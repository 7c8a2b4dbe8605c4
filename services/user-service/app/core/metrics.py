"""user-service's own Prometheus metrics (see docs/observability.md)."""

from prometheus_client import Counter, Gauge

REGISTRATIONS = Counter("user_registrations_total", "Accounts registered")
LOGINS = Counter("user_logins_total", "Login attempts by result", ["result"])
LOGIN_THROTTLED = Counter("user_login_throttled_total", "Logins refused by throttling", ["scope"])
ONLINE_USERS = Gauge("user_online_users", "Users with a live presence heartbeat", multiprocess_mode="livemax")
TOKEN_REFRESHES = Counter("user_token_refreshes_total", "Refresh-token rotations by result", ["result"])
HASH_REFUSED = Counter("user_auth_overload_refused_total", "Logins/registrations refused because hashing is saturated")
AVATARS_SIGNED = Counter("user_avatar_uploads_signed_total", "Presigned avatar uploads handed out")
AVATARS_SET = Counter("user_avatar_uploads_verified_total", "Avatar uploads verified and made an avatar")
AVATARS_REFUSED = Counter(
    "user_avatar_uploads_refused_total", "Avatar requests refused, by reason", ["reason"]
)  # type|too_large|not_yours|missing|size|content|image
