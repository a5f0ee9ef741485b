"""The pure core: cookies, keys, tokens, rules, decisions and the cookie plan. No I/O, no
framework.
"""
