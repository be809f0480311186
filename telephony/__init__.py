"""IP-phone trial: SIP codec, digest auth, registrar and proxy, phone registry."""
