"""A partner's API keys: scoped (read, write, admin), rotated with an overlap, revoked."""
