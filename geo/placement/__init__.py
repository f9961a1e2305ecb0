"""Where a point is: district, station, patrol sector and H3 cell of each point (placer, its
lookup grid and compiled pass), and the checks on a phone's GPS fix before it is trusted."""
