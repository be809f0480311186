"""The inventory's network emulated: the namespace lab (root) and the SNMP simulation (no root)."""
