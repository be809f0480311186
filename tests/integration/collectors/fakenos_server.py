"""Serve emulated vendor CLIs (fakenos) until stdin closes.

Run by ``.venv-fakenos/bin/python`` (fakenos needs paramiko < 5, napalm 5 needs
paramiko 5), so this file imports nothing of wangnet. argv[1]: a fakenos
inventory YAML written by the test.
"""
import sys

from fakenos import FakeNOS

network = FakeNOS(inventory=sys.argv[1])
network.start()
print("ready", flush=True)
try:
    sys.stdin.read()
finally:
    network.stop()
