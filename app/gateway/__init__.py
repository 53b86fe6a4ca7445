"""The proxy path: route table, resilience, access events and the lean ASGI handler for /gw."""
