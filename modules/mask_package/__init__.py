"""Flag maps: border, bright-star halos and spikes, Messier/NGC objects,
missing data and external flags, rasterised in Python (no WeightWatcher)."""
