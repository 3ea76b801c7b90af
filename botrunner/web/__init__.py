"""The dashboard ``botrunner run`` serves: the page, its WebSocket (one more front end of the operator vocabulary)
and Prometheus metrics. See docs/dashboard.md."""
