"""A partner's generated history in SQL, the one shape the benchmarks that need many
documents share (growth, console_pages): document ``g`` (older as ``g`` grows) has the same
customer, lines, totals, dates and ids in every benchmark; what happened to it (its client,
status and sync states) is each benchmark's own, given as SQL expressions over ``g``.

Parameters of every statement: documents take $1 the partner and $2 the base time; sync
states take $1 the base time. The rows come from the benchmark's ``FROM`` clause (a
``generate_series`` over ``g`` and its joins), which numbers its own parameters on."""

from __future__ import annotations

_CUSTOMER = """jsonb_build_object('external_id', 'cust-' || (g % 400),
        'name', 'Customer ' || (g % 400),
        'country', 'NL', 'email', 'billing' || (g % 400) || '@example.com',
        'address', jsonb_build_object('street', 'Dorpsstraat', 'house_number', '1',
            'postal_code', '1234 AB', 'city', 'Utrecht', 'country', 'NL'))"""
_LINES = """jsonb_build_array(
        jsonb_build_object('description', 'Consulting, ' || g, 'quantity', '2',
            'unit_price', '75.00', 'vat_rate', '21', 'net_amount', '150.00', 'vat_amount', '31.50'),
        jsonb_build_object('description', 'Travel', 'quantity', '1',
            'unit_price', '25.00', 'vat_rate', '21', 'net_amount', '25.00', 'vat_amount', '5.25')
    )"""
_AGO = "{base}::timestamptz - g * interval '37 seconds'"


def documents(
    *,
    client: str,
    number: str,
    status: str,
    booked_at: str,
    has_booking_number: str,
    rows: str,
    failed_syncs: str | None = None,
) -> str:
    """The INSERT of documents for each ``g`` of ``rows``: one invoice of 211.75 EUR with
    two lines, to one of 400 customers, dated a day earlier every 3,000 documents and
    created 37 s earlier each. ``failed_syncs`` (when given) is written as the trigger
    would keep it, for a benchmark that generates with triggers off."""
    failed_column = " failed_syncs," if failed_syncs is not None else ""
    failed_value = f"\n    {failed_syncs}," if failed_syncs is not None else ""
    ago = _AGO.format(base="$2")
    return f"""
INSERT INTO documents (id, partner_id, client_id, kind, external_id, number, status,
    issue_date, currency, customer, lines, net_total, vat_total, gross_total, revision,
    booked_at, has_booking_number,{failed_column} created_at, updated_at)
SELECT md5('doc' || g)::uuid, $1, {client}, 'invoice', 'ext-' || g, {number}, {status},
    date '2026-11-30' - (g / 3000), 'EUR',
    {_CUSTOMER},
    {_LINES},
    175.00, 36.75, 211.75, 0,
    {booked_at},
    {has_booking_number},{failed_value}
    {ago}, $2
{rows}
"""


def booked_at(condition: str | None = None) -> str:
    """A document's ``booked_at``: its creation time (when ``condition`` holds, if given)."""
    ago = _AGO.format(base="$2")
    return ago if condition is None else f"CASE WHEN {condition} THEN {ago} END"


def syncs(
    *,
    integration: str,
    error_code: str,
    error_message: str,
    answered: str,
    requested_now: str,
    rows: str,
    waiting: tuple[str, str] | None = None,
) -> str:
    """The INSERT of sync states for each row of ``rows``, which gives ``s.status``: a
    booked one has its booking number, remote id and sent time from ``g`` and the
    integration's ``i.idx``; a failed one ``error_code`` and ``error_message``, never
    retryable. Answered (when ``answered`` holds) and requested at the document's creation
    time, or requested now when ``requested_now`` holds. ``waiting`` gives the
    ``waiting_until`` and ``waiting_reason`` expressions of a benchmark that has them."""
    ago = _AGO.format(base="$1")
    waiting_columns = " waiting_until, waiting_reason," if waiting else ""
    waiting_values = f"\n    {waiting[0]},\n    {waiting[1]}," if waiting else ""
    return f"""
INSERT INTO document_syncs (document_id, integration_id, status, generation, booking_number,
    remote_id, sent_at, error_code, error_message, error_retryable, sweeps, answered_at,
    requested_at,{waiting_columns} updated_at)
SELECT md5('doc' || g)::uuid, {integration}, s.status, 0,
    CASE WHEN s.status = 'booked' THEN 'BN' || i.idx || '-' || g END,
    CASE WHEN s.status = 'booked' THEN 'r' || i.idx || '-' || g END,
    CASE WHEN s.status = 'booked' THEN {ago} END,
    CASE WHEN s.status = 'failed' THEN {error_code} END,
    CASE WHEN s.status = 'failed' THEN {error_message} END,
    CASE WHEN s.status = 'failed' THEN false END,
    0,
    CASE WHEN {answered} THEN {ago} END,
    CASE WHEN {requested_now} THEN now() ELSE {ago} END,{waiting_values}
    $1
{rows}
"""
