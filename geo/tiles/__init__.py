"""Vector tiles: web-mercator world coordinates and Morton keys (tilemath), the MVT encoder
(mvt), and the tiles' layers cut from indexed points and geometries (layers)."""
