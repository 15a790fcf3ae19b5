"""Messages in the reader's language: English, German, Dutch, Spanish or French.

Texts are localised when an answer is written, never when something is stored: what is
stored is a stable ``code`` with its parameters, so a German bookkeeper and a Dutch one
read the same failure each in their own words. ``languages`` picks the language of a
request (``Accept-Language``, else the partner's default), ``catalog`` holds the gettext
catalogues (``locales/<lang>/LC_MESSAGES/messages.po``) and ``middleware`` remembers the
choice for the request and names it in ``Content-Language``.
"""
