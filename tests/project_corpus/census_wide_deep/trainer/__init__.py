"""The trainer package."""
