"""Placeholder (issue 25): a helper writes this module; it registers its commands on ``app``."""
