"""What starts a deploy besides a plain webhook: path filters, polling, pinned images.

`keys` holds every Redis key this package writes; `paths` decides whether a push touches what
an environment watches; `poll` asks remotes for new commits from the worker process.
"""
