"""Contracts and small platform helpers shared by every service of the complaint center."""
