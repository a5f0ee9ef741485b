"""What the framework adapters share: reading request parts, merging response headers."""
