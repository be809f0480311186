"""The web app: Flask app factory, one blueprint per area (imported by nothing but the CLI)."""
