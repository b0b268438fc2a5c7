"""Rules: one SQL file per rule, run against the model, judged into checks."""
