"""CDR backends: CSV file and MySQL/MariaDB, fed from the local SQLite records."""
