"""The configuration store: SQLite schema, migrations, typed records, defaults, policy."""
