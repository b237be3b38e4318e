"""Initial schema: every table of the store, and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 (hand-edited from autogenerate)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""Primary keys: BIGINT on PostgreSQL; INTEGER on SQLite, the only type it autoincrements."""

_AUDIT_TRIGGER_SQLITE = """
CREATE TRIGGER audit_log_no_{op} BEFORE {OP} ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
"""

_AUDIT_FUNCTION_PG = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'audit_log is append-only'; END
$$ LANGUAGE plpgsql
"""


def _audit_log_append_only() -> None:
    """Refuse UPDATE and DELETE on audit_log in the database itself, so no code
    path (or hand-written SQL) can rewrite history without dropping the trigger."""
    if op.get_bind().dialect.name == "sqlite":
        for name in ("update", "delete"):
            op.execute(_AUDIT_TRIGGER_SQLITE.format(op=name, OP=name.upper()))
        return
    op.execute(_AUDIT_FUNCTION_PG)
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE"
        " ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )


def _drop_audit_log_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        return
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", BIGID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=200), nullable=False),
        sa.Column("before", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("after", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_log_prev_hash")),
    )
    op.create_index(op.f("ix_audit_log_entity"), "audit_log", ["entity"], unique=False)

    op.create_table(
        "documents",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=127), nullable=False),
        sa.Column("original_filename", sa.Text(), nullable=False),
        sa.Column("vault_path", sa.String(length=1000), nullable=False),
        sa.Column(
            "extraction_status",
            sa.Enum(
                "pending",
                "extracted",
                "partial",
                "failed",
                "unsupported",
                name="extraction_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("extraction_reason", sa.String(length=500), nullable=False),
        sa.Column("needs_ocr", sa.Boolean(), nullable=False),
        sa.Column("extracted_text_length", sa.Integer(), nullable=True),
        sa.Column("extracted_fields", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("sha256", name=op.f("uq_documents_sha256")),
    )
    op.create_table(
        "erp_invoices",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("customer", sa.String(length=128), nullable=False),
        sa.Column("invoice_number", sa.String(length=128), nullable=False),
        sa.Column("po_number", sa.String(length=500), nullable=False),
        sa.Column("invoice_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("ship_to", sa.String(length=500), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("raw", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_invoices")),
        sa.UniqueConstraint(
            "customer", "invoice_number", name=op.f("uq_erp_invoices_customer_invoice_number")
        ),
    )
    op.create_index(
        op.f("ix_erp_invoices_invoice_number"), "erp_invoices", ["invoice_number"], unique=False
    )
    op.create_index(op.f("ix_erp_invoices_po_number"), "erp_invoices", ["po_number"], unique=False)

    op.create_table(
        "erp_promotions",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("promo_id", sa.String(length=128), nullable=False),
        sa.Column("customer", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("skus", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("rate_per_unit", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("max_amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("raw", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_promotions")),
        sa.UniqueConstraint("promo_id", name=op.f("uq_erp_promotions_promo_id")),
    )
    op.create_index(
        op.f("ix_erp_promotions_customer"), "erp_promotions", ["customer"], unique=False
    )

    op.create_table(
        "erp_shipments",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("shipment_id", sa.String(length=128), nullable=False),
        sa.Column("invoice_number", sa.String(length=500), nullable=False),
        sa.Column("po_number", sa.String(length=500), nullable=False),
        sa.Column("customer", sa.String(length=500), nullable=False),
        sa.Column("carrier", sa.String(length=500), nullable=False),
        sa.Column("pro_number", sa.String(length=500), nullable=False),
        sa.Column("bol_number", sa.String(length=500), nullable=False),
        sa.Column("ship_date", sa.Date(), nullable=True),
        sa.Column("cases_shipped", sa.Integer(), nullable=False),
        sa.Column("freight_terms", sa.String(length=16), nullable=True),
        sa.Column("raw", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_shipments")),
        sa.UniqueConstraint("shipment_id", name=op.f("uq_erp_shipments_shipment_id")),
    )
    op.create_index(
        op.f("ix_erp_shipments_bol_number"), "erp_shipments", ["bol_number"], unique=False
    )
    op.create_index(
        op.f("ix_erp_shipments_invoice_number"), "erp_shipments", ["invoice_number"], unique=False
    )
    op.create_index(
        op.f("ix_erp_shipments_po_number"), "erp_shipments", ["po_number"], unique=False
    )
    op.create_index(
        op.f("ix_erp_shipments_pro_number"), "erp_shipments", ["pro_number"], unique=False
    )

    op.create_table(
        "health_events",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("portal", sa.String(length=64), nullable=True),
        sa.Column("account", sa.String(length=320), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("error_class", sa.String(length=128), nullable=True),
        sa.Column("detail", sa.JSON(none_as_null=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_events")),
    )
    op.create_index("ix_health_events_portal_at", "health_events", ["portal", "at"], unique=False)
    op.create_index(op.f("ix_health_events_run_id"), "health_events", ["run_id"], unique=False)

    op.create_table(
        "portals",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "retailer",
                "carrier",
                name="portal_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_portals")),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("portal", sa.String(length=64), nullable=False),
        sa.Column("record_kind", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=500), nullable=True),
        sa.Column("raw_payload", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index("ix_quarantine_portal_at", "quarantine", ["portal", "at"], unique=False)

    op.create_table(
        "remittances",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("remittance_id", sa.String(length=128), nullable=False),
        sa.Column("customer", sa.String(length=500), nullable=False),
        sa.Column("payment_date", sa.Date(), nullable=False),
        sa.Column("total_paid", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("raw", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittances")),
        sa.UniqueConstraint("remittance_id", name=op.f("uq_remittances_remittance_id")),
    )
    op.create_index(op.f("ix_remittances_customer"), "remittances", ["customer"], unique=False)

    op.create_table(
        "retrieval_requests",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("requester", sa.String(length=128), nullable=False),
        sa.Column("target_kind", sa.String(length=32), nullable=False),
        sa.Column("target_value", sa.String(length=500), nullable=False),
        sa.Column("portal", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                "needs_human",
                name="retrieval_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_class", sa.String(length=128), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrieval_requests")),
    )
    op.create_index(
        "ix_retrieval_requests_queue",
        "retrieval_requests",
        ["status", "priority", "created_at"],
        unique=False,
    )
    op.create_index(
        "uq_retrieval_requests_active",
        "retrieval_requests",
        ["target_kind", "target_value"],
        unique=True,
        sqlite_where=sa.text("status IN ('queued', 'running')"),
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )

    op.create_table(
        "users",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "watermarks",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("portal", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=320), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watermarks")),
        sa.UniqueConstraint(
            "portal", "account", "task", name=op.f("uq_watermarks_portal_account_task")
        ),
    )
    op.create_table(
        "accounts",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("portal", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["portal"],
            ["portals.name"],
            name=op.f("fk_accounts_portal_portals"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("portal", "username", name=op.f("uq_accounts_portal_username")),
    )
    op.create_table(
        "bot_runs",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("portal", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=320), nullable=True),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "succeeded",
                "partial",
                "failed",
                "cancelled",
                name="run_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("counts", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("error_class", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["portal"],
            ["portals.name"],
            name=op.f("fk_bot_runs_portal_portals"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_runs")),
        sa.UniqueConstraint("run_id", name=op.f("uq_bot_runs_run_id")),
    )
    op.create_index(
        "ix_bot_runs_portal_started", "bot_runs", ["portal", "started_at"], unique=False
    )

    op.create_table(
        "erp_invoice_lines",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("invoice_id", BIGID, nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=500), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["erp_invoices.id"],
            name=op.f("fk_erp_invoice_lines_invoice_id_erp_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_invoice_lines")),
        sa.UniqueConstraint(
            "invoice_id", "line_no", name=op.f("uq_erp_invoice_lines_invoice_id_line_no")
        ),
    )
    op.create_table(
        "remittance_lines",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("remittance_id", BIGID, nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("invoice_number", sa.String(length=500), nullable=False),
        sa.Column("invoice_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("paid_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["remittance_id"],
            ["remittances.id"],
            name=op.f("fk_remittance_lines_remittance_id_remittances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittance_lines")),
        sa.UniqueConstraint(
            "remittance_id", "line_no", name=op.f("uq_remittance_lines_remittance_id_line_no")
        ),
    )
    op.create_index(
        op.f("ix_remittance_lines_invoice_number"),
        "remittance_lines",
        ["invoice_number"],
        unique=False,
    )

    op.create_table(
        "shipments",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=False),
        sa.Column("pro_number", sa.String(length=32), nullable=False),
        sa.Column("bol_number", sa.String(length=500), nullable=False),
        sa.Column("tracking_number", sa.String(length=500), nullable=False),
        sa.Column("po_numbers", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("shipper", sa.String(length=500), nullable=False),
        sa.Column("consignee", sa.String(length=500), nullable=False),
        sa.Column("consignee_address", sa.String(length=500), nullable=False),
        sa.Column("ship_date", sa.Date(), nullable=True),
        sa.Column("delivery_date", sa.Date(), nullable=True),
        sa.Column("pieces_shipped", sa.Integer(), nullable=True),
        sa.Column("pieces_delivered", sa.Integer(), nullable=True),
        sa.Column("weight_lb", sa.Integer(), nullable=True),
        sa.Column("exceptions", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("signer", sa.String(length=500), nullable=False),
        sa.Column("freight_terms", sa.String(length=16), nullable=True),
        sa.Column(
            "pod_status",
            sa.Enum(
                "unknown",
                "not_available",
                "available",
                "fetched",
                name="pod_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("raw", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("last_run_id", sa.String(length=64), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["carrier"],
            ["portals.name"],
            name=op.f("fk_shipments_carrier_portals"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.UniqueConstraint("carrier", "pro_number", name=op.f("uq_shipments_carrier_pro_number")),
    )
    op.create_index(op.f("ix_shipments_bol_number"), "shipments", ["bol_number"], unique=False)

    op.create_table(
        "deductions",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("portal", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("account", sa.String(length=320), nullable=True),
        sa.Column("invoice_number", sa.String(length=500), nullable=False),
        sa.Column("po_number", sa.String(length=500), nullable=False),
        sa.Column("location", sa.String(length=500), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason_code", sa.String(length=500), nullable=False),
        sa.Column("reason_text", sa.String(length=500), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "promotion",
                "pricing",
                "shortage",
                "damage",
                "compliance_fine",
                "return_unsaleable",
                "duplicate_post_audit",
                "other",
                name="category",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("deduction_date", sa.Date(), nullable=True),
        sa.Column("invoice_date", sa.Date(), nullable=True),
        sa.Column("posted_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=500), nullable=False),
        sa.Column("promo_id", sa.String(length=500), nullable=True),
        sa.Column("carrier", sa.String(length=500), nullable=True),
        sa.Column("pro_number", sa.String(length=500), nullable=True),
        sa.Column("bol_number", sa.String(length=500), nullable=True),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("raw", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("last_run_id", sa.String(length=64), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["portal", "account"],
            ["accounts.portal", "accounts.username"],
            name="fk_deductions_account_accounts",
        ),
        sa.ForeignKeyConstraint(
            ["portal"],
            ["portals.name"],
            name=op.f("fk_deductions_portal_portals"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deductions")),
        sa.UniqueConstraint("portal", "external_id", name=op.f("uq_deductions_portal_external_id")),
    )
    op.create_index(
        op.f("ix_deductions_deduction_date"), "deductions", ["deduction_date"], unique=False
    )
    op.create_index(
        op.f("ix_deductions_invoice_number"), "deductions", ["invoice_number"], unique=False
    )
    op.create_index(op.f("ix_deductions_po_number"), "deductions", ["po_number"], unique=False)
    op.create_index("ix_deductions_status_portal", "deductions", ["status", "portal"], unique=False)
    op.create_index(op.f("ix_deductions_pro_number"), "deductions", ["pro_number"], unique=False)
    op.create_index(op.f("ix_deductions_promo_id"), "deductions", ["promo_id"], unique=False)

    op.create_table(
        "remittance_adjustments",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("line_id", BIGID, nullable=False),
        sa.Column("adj_no", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=500), nullable=False),
        sa.Column("reason_code", sa.String(length=500), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["remittance_lines.id"],
            name=op.f("fk_remittance_adjustments_line_id_remittance_lines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittance_adjustments")),
        sa.UniqueConstraint(
            "line_id", "adj_no", name=op.f("uq_remittance_adjustments_line_id_adj_no")
        ),
    )
    op.create_index(
        op.f("ix_remittance_adjustments_reference"),
        "remittance_adjustments",
        ["reference"],
        unique=False,
    )

    op.create_table(
        "approvals",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("deduction_id", BIGID, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("approver_id", BIGID, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["approver_id"],
            ["users.id"],
            name=op.f("fk_approvals_approver_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["deduction_id"],
            ["deductions.id"],
            name=op.f("fk_approvals_deduction_id_deductions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
        sa.UniqueConstraint("deduction_id", "level", name=op.f("uq_approvals_deduction_id_level")),
    )
    op.create_table(
        "deduction_history",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("deduction_id", BIGID, nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["deduction_id"],
            ["deductions.id"],
            name=op.f("fk_deduction_history_deduction_id_deductions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deduction_history")),
    )
    op.create_index(
        op.f("ix_deduction_history_deduction_id"),
        "deduction_history",
        ["deduction_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_deduction_history_run_id"), "deduction_history", ["run_id"], unique=False
    )

    op.create_table(
        "deduction_lines",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("deduction_id", BIGID, nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=500), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_cost", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["deduction_id"],
            ["deductions.id"],
            name=op.f("fk_deduction_lines_deduction_id_deductions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deduction_lines")),
        sa.UniqueConstraint(
            "deduction_id", "line_no", name=op.f("uq_deduction_lines_deduction_id_line_no")
        ),
    )
    op.create_table(
        "disputes",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("portal", sa.String(length=64), nullable=False),
        sa.Column("deduction_id", BIGID, nullable=False),
        sa.Column("dispute_number", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=500), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deduction_id"],
            ["deductions.id"],
            name=op.f("fk_disputes_deduction_id_deductions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["portal"],
            ["portals.name"],
            name=op.f("fk_disputes_portal_portals"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_disputes_idempotency_key")),
        sa.UniqueConstraint(
            "portal", "dispute_number", name=op.f("uq_disputes_portal_dispute_number")
        ),
    )
    op.create_index(op.f("ix_disputes_deduction_id"), "disputes", ["deduction_id"], unique=False)

    op.create_table(
        "document_links",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("document_id", BIGID, nullable=False),
        sa.Column("deduction_id", BIGID, nullable=True),
        sa.Column("shipment_id", BIGID, nullable=True),
        sa.Column(
            "role",
            sa.Enum(
                "backup",
                "pod",
                "bol",
                "invoice",
                "deal_sheet",
                "remittance",
                "dispute_receipt",
                "cover_letter",
                "line_detail",
                name="link_role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(deduction_id IS NOT NULL AND shipment_id IS NULL)"
            " OR (deduction_id IS NULL AND shipment_id IS NOT NULL)",
            name=op.f("ck_document_links_one_target"),
        ),
        sa.ForeignKeyConstraint(
            ["deduction_id"],
            ["deductions.id"],
            name=op.f("fk_document_links_deduction_id_deductions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_links_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_document_links_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_links")),
    )
    op.create_index(
        op.f("ix_document_links_deduction_id"), "document_links", ["deduction_id"], unique=False
    )
    op.create_index(
        op.f("ix_document_links_shipment_id"), "document_links", ["shipment_id"], unique=False
    )
    op.create_index(
        "uq_document_links_deduction",
        "document_links",
        ["document_id", "deduction_id", "role"],
        unique=True,
        sqlite_where=sa.text("deduction_id IS NOT NULL"),
        postgresql_where=sa.text("deduction_id IS NOT NULL"),
    )
    op.create_index(
        "uq_document_links_shipment",
        "document_links",
        ["document_id", "shipment_id", "role"],
        unique=True,
        sqlite_where=sa.text("shipment_id IS NOT NULL"),
        postgresql_where=sa.text("shipment_id IS NOT NULL"),
    )

    op.create_table(
        "matches",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("deduction_id", BIGID, nullable=False),
        sa.Column("target_kind", sa.String(length=32), nullable=False),
        sa.Column("target_id", BIGID, nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Numeric(precision=5, scale=4), nullable=True),
        sa.Column("verdict", sa.String(length=32), nullable=True),
        sa.Column("reasons", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deduction_id"],
            ["deductions.id"],
            name=op.f("fk_matches_deduction_id_deductions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matches")),
        sa.UniqueConstraint(
            "deduction_id",
            "target_kind",
            "target_id",
            "rule",
            name=op.f("uq_matches_deduction_id_target_kind_target_id_rule"),
        ),
    )
    op.create_index(op.f("ix_matches_deduction_id"), "matches", ["deduction_id"], unique=False)

    op.create_table(
        "dispute_status_history",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("dispute_id", BIGID, nullable=False),
        sa.Column("old_status", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=500), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
            name=op.f("fk_dispute_status_history_dispute_id_disputes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_status_history")),
    )
    op.create_index(
        op.f("ix_dispute_status_history_dispute_id"),
        "dispute_status_history",
        ["dispute_id"],
        unique=False,
    )

    _audit_log_append_only()


def downgrade() -> None:
    _drop_audit_log_triggers()
    op.drop_table("dispute_status_history")
    op.drop_table("matches")
    op.drop_table("document_links")
    op.drop_table("disputes")
    op.drop_table("deduction_lines")
    op.drop_table("deduction_history")
    op.drop_table("approvals")
    op.drop_table("remittance_adjustments")
    op.drop_table("deductions")
    op.drop_table("shipments")
    op.drop_table("remittance_lines")
    op.drop_table("erp_invoice_lines")
    op.drop_table("bot_runs")
    op.drop_table("accounts")
    op.drop_table("watermarks")
    op.drop_table("users")
    op.drop_table("retrieval_requests")
    op.drop_table("remittances")
    op.drop_table("quarantine")
    op.drop_table("portals")
    op.drop_table("health_events")
    op.drop_table("erp_shipments")
    op.drop_table("erp_promotions")
    op.drop_table("erp_invoices")
    op.drop_table("documents")
    op.drop_table("audit_log")
