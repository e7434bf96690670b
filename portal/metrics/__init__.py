"""Prometheus metrics at /metrics (docs/operations.md, "Metrics").

`instruments` holds what the processes count as they work (the gateway's calls, requests);
`state` reads what the database holds at scrape time; `page` answers the scrape.
"""
