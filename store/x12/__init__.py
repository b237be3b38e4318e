"""EDI X12 for the fleet: one tokenizer and envelope (:mod:`store.x12.envelope`),
element readers that never round (:mod:`store.x12.elements`), trading-partner
habits as data (:mod:`store.x12.partners`), and the two transaction sets the
fleet reads: 812 credit/debit adjustments (:mod:`store.x12.adjustments`) and 820
remittances (:mod:`store.x12.remittances`). Nothing here touches the database."""
