"""Cells under the statistics and the placer: H3 or projected squares, binning, centres, areas."""
