"""``ssrauth audit``: judging a browser's auth cookies offline, and reading them from files."""
