"""Places and maps: boundary import, placement, geocoding, hotspot statistics.

Packages: ``grid`` (cells), ``analysis`` (hotspots and the other crime analysis on cells),
``geocode`` (the offline geocoder), ``placement`` (which district, station, sector and cell a
point is in), ``tiles`` (vector tiles), ``cadastre`` and ``osm`` (imports of those sources);
modules: ``boundaries``, ``importer``, ``public`` (publication rules), ``errors``.

Works on numpy arrays, shapely geometries and (Geo)DataFrames; never imports ``server`` or
``sync``.
"""
