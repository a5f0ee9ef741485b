"""Cookie headers as clients really send them, and the pairs ssrauth reads from each: one table
for the parser's unit test and for the adapters' test, which sends every header through each
framework and expects the same session and Set-Cookie lines.

Written for ssrauth from the kinds of case Django (``tests/httpwrappers`` ``parse_cookie``),
Werkzeug (``tests/test_http.py`` ``test_parse_cookie``) and Starlette (``tests/test_requests.py``
``test_cookies_*``) check: empty names, quotes, spaces, unicode, repeated names, ``=`` in values,
trailing ``;``. ``{lau}`` stands for our client id's LastAuthUser cookie name.
"""

from __future__ import annotations

#: (Cookie header, the (name, value) pairs in header order).
COOKIE_HEADER_CASES: list[tuple[str, list[tuple[str, str]]]] = [
    ("", []),
    ("a=b", [("a", "b")]),
    ("a=b; c=d", [("a", "b"), ("c", "d")]),
    ("a=b;c=d", [("a", "b"), ("c", "d")]),
    ("  a = b  ;   c=d  ", [("a", "b"), ("c", "d")]),
    ("a=\tb\t; c=d", [("a", "b"), ("c", "d")]),
    ("a=b; a=c; a=b", [("a", "b"), ("a", "c"), ("a", "b")]),
    ("a=b=c", [("a", "b=c")]),
    ("a=b; c=[; d=r; f=h", [("a", "b"), ("c", "["), ("d", "r"), ("f", "h")]),
    ("a=b; Domain=example.com", [("a", "b"), ("Domain", "example.com")]),
    ("  =  b  ;  ;  =  ;   c  =  ;  ", [("c", "")]),
    ("a=b; = c; d=e", [("a", "b"), ("d", "e")]),
    ("saint=André Bessette", [("saint", "André Bessette")]),
    ('"fudge"=fudgeadder', [('"fudge"', "fudgeadder")]),
    ('dismiss-top=6; CP=null*; PHPSESSID=0a5; a=42; b="\\";"',
     [("dismiss-top", "6"), ("CP", "null*"), ("PHPSESSID", "0a5"), ("a", "42"), ("b", "\\")]),
    ('a="\\303\\240"', [("a", "\\303\\240")]),  # octal escapes stay as sent
    ("a==", [("a", "=")]),
    ("keebler=E=mc2; L=Loves; fudge=;", [("keebler", "E=mc2"), ("L", "Loves"), ("fudge", "")]),
    ('a="b"', [("a", "b")]),
    ('a=""', [("a", "")]),
    ('a="', [("a", '"')]),
    ('a="b; c=d"', [("a", '"b'), ("c", 'd"')]),
    ('a=\\"b\\"', [("a", '\\"b\\"')]),
    ("=b", []),
    ("=b; c=d", [("c", "d")]),
    ("b", []),
    ("a=1; b; c=3", [("a", "1"), ("c", "3")]),
    ("=", []),
    (";;;", []),
    ("a=b;", [("a", "b")]),
    ("a=b; ", [("a", "b")]),
    ("; a=b", [("a", "b")]),
    ("a=b c", [("a", "b c")]),
    ("a b=c", [("a b", "c")]),
    ("key:term=value:term", [("key:term", "value:term")]),
    ("$Version=1; a=b", [("$Version", "1"), ("a", "b")]),
    ("a=%20b%3B", [("a", "%20b%3B")]),
    ("café=crème; 日本=語", [("café", "crème"), ("日本", "語")]),
    ("a=Wed, 21 Oct 2015 07:28:00 GMT", [("a", "Wed, 21 Oct 2015 07:28:00 GMT")]),
    # A "," is part of the value it is in: never a cookie that was not sent.
    ("a=1,b=2", [("a", "1,b=2")]),
    ("a=1, b=2", [("a", "1, b=2")]),
    ('a="x,y=z",b=2', [("a", '"x,y=z",b=2')]),
    ("a=[1,2]", [("a", "[1,2]")]),
    ('d={"loginId":"alice","authFlowType":"USER_SRP_AUTH"}',
     [("d", '{"loginId":"alice","authFlowType":"USER_SRP_AUTH"}')]),
    ('d={"loginId":"a b,c"}; e=1', [("d", '{"loginId":"a b,c"}'), ("e", "1")]),
    ('d={"loginId":"a,b=c"}', [("d", '{"loginId":"a,b=c"}')]),
    ('s="q,{lau}=mallory"', [("s", "q,{lau}=mallory")]),  # a value never plants our cookies
    ("{lau}=alice; {lau}=alice", [("{lau}", "alice"), ("{lau}", "alice")]),
    ('{lau}="alice"', [("{lau}", "alice")]),
    ("{lau}=alice,{lau}=bob", [("{lau}", "alice,{lau}=bob")]),
]
