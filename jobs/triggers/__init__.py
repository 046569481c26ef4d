"""What starts or shapes a deploy besides a plain webhook: path filters and polling.

`paths` decides whether a push touches what an environment watches (`rebuild`: which services
to build then); `poll` asks remotes for new commits from the worker process. What the last poll
saw is kept by jobs/state/polls.py, like all the Redis state; pulled images pinned by digest
are a stage (jobs/runbook/stages/pull.py).
"""
