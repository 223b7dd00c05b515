"""The HTTP edge's pure ASGI middleware: body limits, security headers, cross-site request checks."""
