"""The purchase folder Yuki says does not exist is not kept: the cached folder is dropped
on Yuki's refusal, so the document's retry (after the bookkeeper mended the folders)
reads the folders again, against the sandbox over real SOAP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connector_yuki import archive
from connector_yuki.batching import BatchKey
from connector_yuki.purchases import PurchaseArchive
from connector_yuki.sessions import SessionPool
from connector_yuki.soap import YukiSoap
from invoicesync_sandbox.yuki.archive import PURCHASE_FOLDER
from invoicesync_shared.connectors.errors import PermanentError
from tests.support.yuki import SOAP_TIMEOUT, Yuki

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
GONE_FOLDER = 987_654  # read earlier; since removed in Yuki


async def test_a_folder_yuki_says_is_gone_is_read_again_on_the_retry(yuki: Yuki) -> None:
    soap = YukiSoap(f"{yuki.url}/yuki", timeout=SOAP_TIMEOUT)
    purchases = PurchaseArchive(soap, SessionPool(soap))
    key = BatchKey(yuki.administration_id, yuki.access_key)
    upload = archive.Upload("INK-1 isync-x.pdf", PDF, "EUR", Decimal("12.10"), "Purchase")
    try:
        purchases._folders[key.administration_id] = GONE_FOLDER  # the cache a process holds
        with pytest.raises(PermanentError) as refused:
            await purchases.upload(key, upload)
        assert refused.value.code == "purchase_folder_not_found"

        booked = await purchases.upload(key, upload)

        state = await yuki.state()
        assert [d["document_id"] for d in state["archive"]] == [booked.remote_id]
        assert await purchases.folder(key) == PURCHASE_FOLDER
    finally:
        await soap.aclose()
