"""The SNMP simulation: every inventory device as a v2c agent on 127.0.0.1, failures injectable."""
