"""HTTP dialects. Thin: parse the request, call a service, render the dialect's envelope."""
