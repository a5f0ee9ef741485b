"""The request lifecycle: SessionManager and RequestAuth over the core, providers and coordination.
"""
