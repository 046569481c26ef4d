"""Reports every deploy where the team looks: commit statuses, GitHub Deployments, Slack, JSON.

The worker starts `start_background` beside the RQ worker; `drain` reports what is pending now.
"""

from jobs.report.background import drain, start_background

__all__ = ["drain", "start_background"]
