"""Credentials of each connector for the test stack: one module per platform, each defining
`credentials(fake_base_url) -> dict` (its block of credentials.yml)."""
