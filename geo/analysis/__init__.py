"""Crime analysis on the cells: Gi* hotspots and their weights, emerging hot spots, density,
PAI, patrol dosage, near-repeat (Knox), repeat places and the CompStat figures."""
