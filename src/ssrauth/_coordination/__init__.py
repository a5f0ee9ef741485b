"""Refresh coordination: single flight in one process, and across processes over a store."""
