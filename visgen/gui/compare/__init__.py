"""The Compare window: runs measured side by side (table, sample grids, the quality / diversity / speed triangle)."""
