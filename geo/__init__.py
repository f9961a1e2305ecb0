"""Places and maps: boundary import, placement, geocoding, hotspot statistics.

Works on numpy arrays, shapely geometries and (Geo)DataFrames; never imports ``server`` or
``sync``.
"""
