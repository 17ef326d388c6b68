"""SIP trunks: records, registration client, keep-alive, target resolution, price lists."""
