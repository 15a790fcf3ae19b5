"""The operation handlers behind every .asmx service, with Yuki's session and access rules.

Handlers run under the store lock and return the Result's text or embedded elements.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from invoicesync_sandbox.yuki import accounting, archive
from invoicesync_sandbox.yuki.params import date_param
from invoicesync_sandbox.yuki.sales import import_response, process_document
from invoicesync_sandbox.yuki.soap import SoapFault, SoapRequest
from invoicesync_sandbox.yuki.store import Administration, ArchiveDocument, Session, Store
from invoicesync_sandbox.yuki.xmlout import El, serialize

# Yuki's exact fault texts for a refused key and a withdrawn administration are not
# published; these follow the ASMX pattern ("Server was unable to process request. --->
# <message>") and the connector matches only their core words ("invalid access key",
# "no access to administration"). Unverified against production Yuki.
INVALID_KEY = "Server was unable to process request. ---> Invalid access key."
INVALID_SESSION = (
    "Server was unable to process request. ---> "
    "The session is invalid or has expired. Please authenticate again."
)
Result = str | El | list[El] | None


class Services:
    """Dispatches one parsed request to its operation."""

    def __init__(self, store: Store, schema_url: str) -> None:
        self.store = store
        self.schema_url = schema_url
        self.handlers: dict[str, Callable[[SoapRequest], Result]] = {
            "Authenticate": self.authenticate,
            "Administrations": self.administrations,
            "AdministrationID": self.administration_id,
            "ProcessSalesInvoices": self.process_sales_invoices,
            "SalesInvoiceSchemaPath": lambda _req: self.schema_url,
            "GetSalesItems": self.get_sales_items,
            "CheckOutstandingItem": self.check_outstanding_item,
            "CheckOutstandingItemAdmin": self.check_outstanding_item_admin,
            "OutstandingDebtorItems": self.outstanding_debtor_items,
            "OutstandingDebtorItemsByDate": self.outstanding_debtor_items_by_date,
            "GetGLAccountScheme": self.gl_account_scheme,
            "SearchContacts": self.search_contacts,
            "UploadDocument": lambda req: self.upload_document(req, with_data=False),
            "UploadDocumentWithData": lambda req: self.upload_document(req, with_data=True),
            "DocumentFolders": self.document_folders,
            "CostCategories": self.cost_categories,
            "SearchDocuments": self.search_documents,
            "DocumentsInFolder": self.documents_in_folder,
            "FindDocument": self.find_document,
            "DocumentFile": self.document_file,
            "DocumentBinaryData": self.document_binary_data,
        }

    def call(self, operation: str, request: SoapRequest) -> Result:
        with self.store.lock:
            self._count(operation, request)
            return self.handlers[operation](request)

    def _count(self, operation: str, request: SoapRequest) -> None:
        """Calls per operation on each administration they name (tests count them)."""
        named = request.param("administrationID") or request.param("administrationId")
        admin = self.store.administrations.get((named or "").strip().lower())
        if admin is not None:
            admin.calls[operation] += 1

    # -- sessions and access -------------------------------------------------

    def _session(self, request: SoapRequest, name: str = "sessionID") -> Session:
        session = self.store.session(request.param(name))
        if session is None:
            raise SoapFault(INVALID_SESSION)
        return session

    def _admin(self, session: Session, admin_id: str | None) -> Administration:
        wanted = (admin_id or "").strip().lower()
        for admin in self.store.administrations_of(session):
            if admin.id == wanted:
                return admin
        raise SoapFault(
            "Server was unable to process request. ---> "
            f"No access to administration '{admin_id or ''}' with this session."
        )

    def authenticate(self, request: SoapRequest) -> Result:
        session = self.store.open_session((request.param("accessKey") or "").strip())
        if session is None:
            raise SoapFault(INVALID_KEY)
        return session.id

    def administrations(self, request: SoapRequest) -> Result:
        return accounting.administrations(self.store.administrations_of(self._session(request)))

    def administration_id(self, request: SoapRequest) -> Result:
        session = self._session(request)
        name = (request.param("administrationName") or "").strip().lower()
        for admin in self.store.administrations_of(session):
            if admin.name.lower() == name:
                return admin.id
        raise SoapFault(
            "Server was unable to process request. ---> "
            f"Administration '{request.param('administrationName') or ''}' not found."
        )

    # -- Sales ---------------------------------------------------------------

    def process_sales_invoices(self, request: SoapRequest) -> Result:
        session = self._session(request, "sessionId")
        admin = self._admin(session, request.param("administrationId"))
        xml_doc = request.params.get("xmlDoc")
        if xml_doc is None:
            raise SoapFault("Server was unable to process request. ---> xmlDoc is required.")
        results = process_document(admin, xml_doc)
        self.store.stats.process_calls += 1
        self.store.stats.invoices_per_call.append(len(results))
        today = datetime.fromtimestamp(self.store.clock.now(), UTC).date()
        answer = import_response(admin, results, today)
        return serialize(answer) if admin.answer_form == "escaped" else answer

    def get_sales_items(self, request: SoapRequest) -> Result:
        admin = self._admin(self._session(request), request.param("administrationID"))
        return accounting.sales_items(admin)

    # -- Accounting ----------------------------------------------------------

    def check_outstanding_item(self, request: SoapRequest) -> Result:
        admins = self.store.administrations_of(self._session(request))
        reference = request.param("Reference") or ""
        return accounting.check_outstanding(admins, reference, self.store.clock.now())

    def check_outstanding_item_admin(self, request: SoapRequest) -> Result:
        admin = self._admin(self._session(request), request.param("administrationID"))
        reference = request.param("Reference") or ""
        return accounting.check_outstanding([admin], reference, self.store.clock.now())

    def outstanding_debtor_items(self, request: SoapRequest) -> Result:
        admin = self._admin(self._session(request), request.param("administrationID"))
        order = request.param("sortOrder")
        return accounting.outstanding_debtor_items(admin, order, self.store.clock.now())

    def outstanding_debtor_items_by_date(self, request: SoapRequest) -> Result:
        admin = self._admin(self._session(request), request.param("administrationID"))
        between = (date_param(request, "startDate"), date_param(request, "endDate"))
        order = request.param("sortOrder")
        return accounting.outstanding_debtor_items(admin, order, self.store.clock.now(), between)

    def gl_account_scheme(self, request: SoapRequest) -> Result:
        admin = self._admin(self._session(request), request.param("administrationID"))
        return accounting.gl_scheme(admin)

    # -- Contact -------------------------------------------------------------

    def search_contacts(self, request: SoapRequest) -> Result:
        admins = self.store.administrations_of(self._session(request))
        option = request.param("searchOption") or "All"
        return accounting.search_contacts(admins, option, request.param("searchValue") or "")

    # -- Archive -------------------------------------------------------------

    def upload_document(self, request: SoapRequest, with_data: bool) -> Result:
        admin = self._admin(self._session(request), request.param("administrationID"))
        return archive.upload(admin, request, self.store.clock.now(), with_data)

    def document_folders(self, request: SoapRequest) -> Result:
        self._session(request)
        return archive.folders()

    def cost_categories(self, request: SoapRequest) -> Result:
        self._session(request)
        return archive.cost_categories()

    def search_documents(self, request: SoapRequest) -> Result:
        admins = self.store.administrations_of(self._session(request))
        return archive.search(admins, request, self.store.clock.now())

    def documents_in_folder(self, request: SoapRequest) -> Result:
        admins = self.store.administrations_of(self._session(request))
        return archive.in_folder(admins, request, self.store.clock.now())

    def _archived(self, request: SoapRequest) -> ArchiveDocument:
        admins = self.store.administrations_of(self._session(request))
        return archive.find(admins, request.param("documentID"), self.store.clock.now())

    def find_document(self, request: SoapRequest) -> Result:
        return archive.found(self._archived(request))

    def document_file(self, request: SoapRequest) -> Result:
        return archive.file(self._archived(request))

    def document_binary_data(self, request: SoapRequest) -> Result:
        return archive.binary(self._archived(request))
