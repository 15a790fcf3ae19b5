"""Every error answers RFC 9457 problem+json.

``exceptions`` holds what the code raises, ``problem`` the answer's shape, ``handlers``
which exception gets which answer, and ``openapi`` how the answers are documented.
"""
