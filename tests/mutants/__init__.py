"""Planted bugs the reliability and security tests must catch (issues 19 and 20)."""
