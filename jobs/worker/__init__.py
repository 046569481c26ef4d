"""The worker process: RQ on the deploy queues, the settings it binds for its jobs."""
