"""Pure rules: intervals, time-zone helpers, availability. Imports nothing of creneau outside domain/."""
