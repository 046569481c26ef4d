"""What an operator does by hand (deploy a ref, roll back, back up, restore, clone data).

Shared by the CLI and the status page's actions; deploys still go through the queue, the
pipeline and its locks, exactly like a push.
"""
