"""ssrauth's benchmark suite: ``make bench`` (``python -m bench`` from the repository root).

It answers two questions from one run on one machine, with every baseline measured in that same
run (the figures are ratios, so a noisy or slow machine still gives comparable answers):

* how much throughput does ``SsrAuthMiddleware`` cost an app that serves signed-in users, against
  the same app without it (uvicorn, loopback, interleaved rounds, medians);
* how long does the pure core (``SessionRules.decide``) take on a realistic Cookie header.

Results go to stdout and to ``docs/performance.md``. Nothing here asserts on timings.
"""
