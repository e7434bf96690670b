"""Prometheus metrics at /metrics (docs/operations.md, "Metrics").

`instruments` holds what the processes count as they work (the gateway's calls, requests);
`page` answers the scrape.
"""
