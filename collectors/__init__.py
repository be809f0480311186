"""Watching the routers: SNMP polling, counters, state and root-cause correlation."""
