"""Media: RTP relay, SDP, codecs, media channels."""
