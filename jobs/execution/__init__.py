"""How work runs: a deploy's context, the one runner and the log it streams into, and the loop
the worker's side threads repeat."""
