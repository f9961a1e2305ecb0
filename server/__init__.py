"""HTTP server of Ronda: app factory, settings, auth, routes, CLI."""
