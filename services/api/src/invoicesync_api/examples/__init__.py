"""Examples for the OpenAPI document (/docs), telling one consistent story.

The partner Acme Accountants keeps the books of Bakkerij De Vries B.V. (Exact Online and
Yuki) and of Müller Haustechnik GmbH (Lexware Office). Invoice 2026-0001 to Jansen
Installatietechniek is booked in Exact as 26700001. Ids, numbers and times in one module
are the ones the others refer to, so a reader can follow an id from answer to answer.

Pure data: these modules import no schema, so any schema module can import them.
tests/unit/test_openapi_examples.py validates every example against its schema.
"""
