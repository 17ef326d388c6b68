"""Services with no better home: SMTP notifications (and later backup, licence)."""
