"""What starts or shapes a deploy besides a plain webhook: path filters and polling.

`paths` decides whether a push touches what an environment watches (`rebuild`: which services
to build then); `poll` asks remotes for new commits from the worker process, `pollstate` is what
the last poll saw. Their Redis keys live with all the others in jobs/state/keys.py; pulled
images pinned by digest are a stage (jobs/runbook/stages/pull.py).
"""
