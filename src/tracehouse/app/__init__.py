"""App wiring: the only place that picks a store and assembles the processes' parts."""
