"""The SIP stack: sans-IO message, URI, transaction, dialog and digest cores, plus thin asyncio transports."""
