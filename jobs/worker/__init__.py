"""The worker process: RQ on the deploy queues, its bound settings, its side threads."""
