"""Read-only views of the store for people: the analyst's worklist and one
deduction in full. The CLI (``fleet deductions``, ``fleet show``) and the web
app call the same functions, so both faces show the same rows in the same order.

* ``store.queries.refs``: which deduction a REF ("portal:claim", or a claim
  number one portal has) names; the one resolution every command uses.
* ``store.queries.worklist``: ``list_deductions(session, filters, sort, page,
  page_size) -> Page``.
* ``store.queries.detail``: ``deduction_detail(session, ref) -> DeductionDetail``
  (fields, timeline, documents, verdict, approvals, comments, disputes).

Nothing here writes, commits or knows about a face: results are plain frozen
dataclasses, with money as Decimal and text exactly as stored (untrusted:
escape it where it is shown). Import the submodules directly.
"""
