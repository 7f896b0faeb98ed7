"""Indexes of the customer list (search and sorting), on PostgreSQL only.

Measured at 100,000 customers with bench/customer_pages.py:

* Search: the list searches name, company and email with ``icontains``,
  which Django writes as ``UPPER("col"::text) LIKE UPPER('%term%')``. A
  B-tree cannot serve a leading wildcard, so every search read the whole
  table (~300 ms a page). pg_trgm GIN indexes on exactly that expression
  turn it into a BitmapOr of three index scans.
* Sorting: a manager's list sorted by name, last contact, health or quiet
  date sorted all 100,000 rows to show 25 (~100 ms, more for deep pages).
  One B-tree per sort key, ``(key NULLS FIRST, id)``, matches the list's
  ORDER BY both ways: read forwards it is ascending with missing values
  first, read backwards descending with them last (customers.selectors.SORTS).

They are created with SQL rather than declared in ``Customer.Meta``: SQLite
has no trigram index, its NULLs already sort first, and the one-machine setup
does not hold lists this size. Declaring them in Meta would make
``makemigrations`` want them everywhere. pg_trgm is a "trusted" extension
since PostgreSQL 13: the database owner can create it without being a superuser.
"""

from django.db import migrations

# (index name, indexed expression, access method). Names are checked by tests/aftersales/customer_pages/test_customer_list.py.
LIST_INDEXES = (
    # Search: one GIN index per searched column; an OR of the three LIKEs uses all three.
    ("customer_name_trgm_idx", 'UPPER("name"::text) gin_trgm_ops', "gin"),
    ("customer_company_trgm_idx", 'UPPER("company"::text) gin_trgm_ops', "gin"),
    ("customer_email_trgm_idx", 'UPPER("email"::text) gin_trgm_ops', "gin"),
    # Sorting (the rep's own list by name already has customer_owner_name_idx).
    ("customer_name_sort_idx", '"name", "id"', "btree"),
    ("customer_last_contact_sort_idx", '"last_contact_at" NULLS FIRST, "id"', "btree"),
    ("customer_health_sort_idx", '"health_score" NULLS FIRST, "id"', "btree"),
    ("customer_quiet_sort_idx", '"quiet_after" NULLS FIRST, "id"', "btree"),
)


def create_list_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("customers", "Customer")._meta.db_table)
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression, method in LIST_INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {schema_editor.quote_name(name)} ON {table} USING {method} ({expression})"
        )


def drop_list_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # The extension stays: other objects may have come to depend on it.
    for name, _expression, _method in LIST_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_initial"),
    ]

    operations = [
        migrations.RunPython(create_list_indexes, drop_list_indexes, elidable=False),
    ]
