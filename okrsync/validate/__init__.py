"""What `okrsync validate` checks beyond loading the config.

The store URL (offline), each connection offline, parents in other configs, and OKR-quality lint.
"""
