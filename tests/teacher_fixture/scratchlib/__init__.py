"""The fixture course's package."""
