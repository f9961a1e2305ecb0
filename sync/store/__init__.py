"""Storage: the port (``base``) and its adapters (``sql``, ``mongo``)."""
