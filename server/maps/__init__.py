"""Maps and analysis on the server: the time-window rule, layers, their data and tile cache,
the analysis results, places and the public summary. HTTP glue (routes, web pages) imports
from here; nothing here answers a request."""
