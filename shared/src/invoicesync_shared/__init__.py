"""The library every invoicesync service imports."""

import warnings

import authlib.deprecate

# authlib deprecates its plain-httpx integration in favour of the httpx2 fork and says so
# on import, in every service; we use httpx on purpose (ARCHITECTURE.md). authlib turns
# its warnings on when its deprecate module loads, so the filter goes in after that.
warnings.filterwarnings(
    "ignore", "The httpx module is deprecated", authlib.deprecate.AuthlibDeprecationWarning
)
