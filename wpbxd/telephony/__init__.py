"""Telephony: SIP stack, registrar, call engine (B2BUA), dialplan, media, CDR."""
